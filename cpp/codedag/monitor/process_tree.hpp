#pragma once
// A process and all its descendants (DataLoader workers, their children), followed from procfs.
// Descendants are found through /proc/<pid>/task/<tid>/children, which lists the children each
// thread forked, so a sample costs one read per thread instead of a scan of every pid on the host.
// The thread list is re-read only when the process's thread count changes.
#include <map>
#include <string>
#include <vector>

#include "codedag/monitor/proc_file.hpp"
#include "codedag/monitor/procfs.hpp"

namespace codedag::monitor {

struct TreeReading {
  // CPU time of the tree since this ProcessTree was created, in clock ticks. It never goes back:
  // each process contributes the growth of its own utime+stime while it is seen, and a process
  // that appears between two readings contributes all of its time (it ran inside that interval).
  unsigned long long cpu_ticks = 0;
  unsigned long long rss_bytes = 0;  // resident memory summed over the tree (shared pages count per process, as in top)
  int processes = 0;                 // 0: the root process is gone
};

class ProcessTree {
 public:
  // `proc_root` is the procfs mount ("/proc"); `pid` the root of the tree.
  ProcessTree(std::string proc_root, int pid);

  TreeReading read();
  int pid() const { return pid_; }
  // The pids of the last reading (root first, then breadth-first).
  const std::vector<int>& members() const { return order_; }
  // Open descriptors this tree holds right now (for the leak tests).
  size_t open_files() const;

 private:
  struct Member {
    ProcFile stat;
    std::vector<ProcFile> children;  // one per thread
    long long threads_listed = -1;
    unsigned long long starttime = 0;
    unsigned long long last_ticks = 0;
  };
  void list_threads(int pid, Member& m);

  std::string proc_root_;
  int pid_;
  long page_size_;
  bool first_ = true;
  unsigned long long accumulated_ = 0;
  std::map<int, Member> members_;
  std::vector<int> order_;
};

}  // namespace codedag::monitor
