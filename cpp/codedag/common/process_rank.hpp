#pragma once
// Which rank of a distributed job this process is, from the launcher's environment, resolved at
// each call (never cached at import: a launcher or torch.distributed may tell us later).
//
// Order: RANK (torchrun, torch.distributed's env:// init) → SLURM_PROCID, only when srun launched
// the tasks (SLURM_STEP_ID set and more than one task in the step; a batch script's own
// SLURM_PROCID=0 says nothing) → MPI (OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK, MV2_COMM_WORLD_RANK,
// JSM_NAMESPACE_RANK) → a rank the Python face learnt from torch.distributed (set_known_rank).
// LOCAL_RANK is never taken for the global rank: local rank 0 of node 2 is not rank 0 (Lightning
// #11380, #13639). It only tells that a process is *not* rank 0 when it is not 0.
#include <string>

namespace codedag {

struct ProcessRank {
  int rank = -1;        // -1: no launcher says
  int world_size = -1;  // -1: unknown
  int local_rank = -1;  // -1: unknown
  std::string source;   // "RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", ..., "torch.distributed", ""
  bool distributed() const { return world_size > 1 && rank >= 0; }
};

// Largest rank / world size accepted from the environment; larger values are ignored as garbage.
inline constexpr int kMaxWorldSize = 1 << 20;

// The rank from the environment, then from set_known_rank(). Malformed values (not a decimal
// integer, negative, rank ≥ world size) are ignored, as if unset.
ProcessRank process_rank();

// Called by the Python face once torch.distributed is initialised (rank, world size); -1 forgets.
void set_known_rank(int rank, int world_size);

// True when this process is known not to be rank 0 (its global rank, or a LOCAL_RANK other than 0):
// such a process keeps quiet on the terminal.
bool is_nonzero_rank();

}  // namespace codedag
