#pragma once
// How the ranks of one job agree on its run without torch.distributed (issue 14): rank 0 creates
// (or adopts) the run and publishes its id in a rendezvous file named after the launcher's job
// identity; the other ranks wait for that file. With torch.distributed initialised the Python face
// broadcasts the id instead, and a launcher that made the run itself passes CODEDAG_RUN_ID.
//
//   <home>/rendezvous/<sha256(job key)[:32]>.json   codedag.rendezvous/1
//   {"schema", "job_key", "run_id", "attempt", "created_at", "process": {pid, start_ticks, boot_id, host}}
//
// The file appears whole or not at all (written aside, then link(2)ed: exclusive and atomic).
// A file left by an earlier job with the same key is recognised as stale (its creator is gone and
// it is older than the waiting process, or it is much older, or it belongs to another attempt) and
// never joined. Entries stay after the job (a slow rank may start after rank 0 finished); each
// publish removes those older than a week.
// This replaces lumo's <cache>/dist/.<ppid> guess with a sleep, which fails across nodes.
#include <optional>
#include <string>

#include "codedag/common/json_file.hpp"
#include "codedag/store/process_identity.hpp"

namespace codedag::store {

inline constexpr const char* kRendezvousSchema = "codedag.rendezvous/1";

// The launcher's identity of this job, the same in every rank of it and different between jobs:
//   torchrun   TORCHELASTIC_RUN_ID (its "none" default: MASTER_ADDR:PORT plus, on one node, the agent's
//              process identity, so consecutive jobs on the default port do not meet)
//   slurm      SLURM_JOB_ID.SLURM_STEP_ID (tasks started by srun)
//   mpi        PMIX_NAMESPACE, OMPI_MCA_ess_base_jobid, OMPI_MCA_orte_hnp_uri or PMI_KVSNAME
//   master     MASTER_ADDR:MASTER_PORT (Lightning's ddp/ddp_spawn, mp.spawn scripts)
// key "" when the environment names no job.
struct JobIdentity {
  std::string launcher;
  std::string key;
};
JobIdentity launcher_job();

struct RendezvousEntry {
  std::string job_key;
  std::string run_id;  // name/test_name
  int attempt = 0;
  double created_at = 0;
  ProcessIdentity process;
  json to_json() const;
};

// <home>/rendezvous/<hash>.json for `job_key`.
std::string rendezvous_file(const std::string& home, const std::string& job_key);

// Reads a rendezvous file; nullopt when absent, FormatError when it is not a valid entry.
std::optional<RendezvousEntry> read_rendezvous(const std::string& path);

// Rank 0: publishes `run_id` for this attempt. A stale file (creator gone, or an earlier attempt)
// is replaced; StateError when a live process of another run already holds the key for the same
// attempt (two jobs with one launcher identity: set CODEDAG_RUN_ID or give torchrun --rdzv-id).
void publish_rendezvous(const std::string& home, const std::string& job_key, const std::string& run_id, int attempt);

// The other ranks: waits until an entry for `attempt` appears that was made at or after
// `not_before` (unix time) by a process not known to be gone, or by a gone one after this process
// started (rank 0 may finish before a slow rank even starts); returns it. StateError after
// `timeout_seconds`, saying what was found and what to do.
RendezvousEntry await_rendezvous(const std::string& home, const std::string& job_key, int attempt, double not_before,
                                 double timeout_seconds);

// Unix time this process started (from /proc: its start ticks and the boot time); 0 when unknown.
double process_start_time();

// CODEDAG_RENDEZVOUS_TIMEOUT when set (seconds, > 0), else 600: rank 0 may be slow to import torch,
// snapshot the code or wait on a busy file system.
double default_rendezvous_timeout();

}  // namespace codedag::store
