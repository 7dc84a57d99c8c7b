#include "codedag/common/process_rank.hpp"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace codedag {
namespace {

std::atomic<int> g_known_rank{-1};
std::atomic<int> g_known_world{-1};

// A decimal integer in [0, kMaxWorldSize], or -1 (unset, empty, garbage).
int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return -1;
  errno = 0;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || n < 0 || n > kMaxWorldSize) return -1;
  return static_cast<int>(n);
}

ProcessRank from(const char* rank_var, const char* world_var, const char* local_var) {
  ProcessRank r;
  r.rank = env_int(rank_var);
  if (r.rank < 0) return r;
  r.world_size = world_var ? env_int(world_var) : -1;
  r.local_rank = local_var ? env_int(local_var) : -1;
  if (r.world_size >= 0 && r.rank >= r.world_size) return ProcessRank{};  // inconsistent: trust neither
  r.source = rank_var;
  return r;
}

}  // namespace

ProcessRank process_rank() {
  if (ProcessRank r = from("RANK", "WORLD_SIZE", "LOCAL_RANK"); r.rank >= 0) return r;
  // srun sets SLURM_STEP_ID for the tasks it starts; the batch script has SLURM_PROCID=0 alone.
  const int slurm_tasks =
      env_int("SLURM_STEP_NUM_TASKS") >= 0 ? env_int("SLURM_STEP_NUM_TASKS") : env_int("SLURM_NTASKS");
  if (std::getenv("SLURM_STEP_ID") != nullptr && slurm_tasks > 1)
    if (ProcessRank r = from("SLURM_PROCID", nullptr, "SLURM_LOCALID"); r.rank >= 0 && r.rank < slurm_tasks) {
      r.world_size = slurm_tasks;
      return r;
    }
  static const char* const mpi[][3] = {{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
                                       {"PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALRANKID"},
                                       {"PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"},
                                       {"MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_LOCAL_RANK"},
                                       {"JSM_NAMESPACE_RANK", "JSM_NAMESPACE_SIZE", "JSM_NAMESPACE_LOCAL_RANK"}};
  for (const auto& names : mpi)
    if (ProcessRank r = from(names[0], names[1], names[2]); r.rank >= 0) return r;
  ProcessRank r;
  r.rank = g_known_rank.load();
  r.world_size = g_known_world.load();
  if (r.rank >= 0) {
    r.local_rank = env_int("LOCAL_RANK");
    r.source = "torch.distributed";
  }
  return r;
}

void set_known_rank(int rank, int world_size) {
  if (rank < 0 || world_size <= 0 || rank >= world_size || world_size > kMaxWorldSize) rank = world_size = -1;
  g_known_world.store(world_size);
  g_known_rank.store(rank);
}

bool is_nonzero_rank() {
  const ProcessRank r = process_rank();
  if (r.rank > 0) return true;
  const int local = env_int("LOCAL_RANK");
  return local > 0;
}

}  // namespace codedag
