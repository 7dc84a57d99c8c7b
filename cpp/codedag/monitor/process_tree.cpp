#include "codedag/monitor/process_tree.hpp"

#include <dirent.h>
#include <unistd.h>

#include <deque>
#include <set>

namespace codedag::monitor {

ProcessTree::ProcessTree(std::string proc_root, int pid)
    : proc_root_(std::move(proc_root)), pid_(pid), page_size_(::sysconf(_SC_PAGESIZE)) {}

void ProcessTree::list_threads(int pid, Member& m) {
  m.children.clear();
  const std::string task_dir = proc_root_ + "/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(task_dir.c_str());
  if (!dir) return;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    m.children.emplace_back(task_dir + "/" + e->d_name + "/children");
  }
  ::closedir(dir);
}

TreeReading ProcessTree::read() {
  TreeReading out;
  std::map<int, Member> next;
  order_.clear();
  std::deque<int> queue{pid_};
  std::set<int> seen;
  while (!queue.empty()) {
    const int pid = queue.front();
    queue.pop_front();
    if (!seen.insert(pid).second) continue;
    auto found = members_.find(pid);
    Member m;
    bool known = false;
    if (found != members_.end()) {
      m = std::move(found->second);
      members_.erase(found);
      known = true;
    } else {
      m.stat = ProcFile(proc_root_ + "/" + std::to_string(pid) + "/stat");
    }
    ProcessStat st;
    if (!parse_process_stat(m.stat.read(), st) || st.state == 'Z' || st.state == 'X') continue;
    if (known && st.starttime != m.starttime) {  // the pid now names another process
      known = false;
      m.threads_listed = -1;
    }
    const unsigned long long ticks = st.utime + st.stime;
    if (known) {
      if (ticks > m.last_ticks) accumulated_ += ticks - m.last_ticks;
    } else if (!first_) {
      accumulated_ += ticks;
    }
    m.last_ticks = ticks;
    m.starttime = st.starttime;
    out.rss_bytes += static_cast<unsigned long long>(st.rss_pages > 0 ? st.rss_pages : 0) *
                     static_cast<unsigned long long>(page_size_);
    ++out.processes;
    order_.push_back(pid);
    if (m.threads_listed != st.num_threads) {
      list_threads(pid, m);
      m.threads_listed = st.num_threads;
    }
    bool stale_thread_list = false;
    for (ProcFile& children : m.children) {
      std::string_view text = children.read();
      if (!children.ok()) stale_thread_list = true;  // a thread exited: list them again next time
      while (!text.empty()) {
        const size_t space = text.find(' ');
        long long child = 0;
        if (parse_i64(text.substr(0, space), child) && child > 0) queue.push_back(static_cast<int>(child));
        if (space == std::string_view::npos) break;
        text.remove_prefix(space + 1);
      }
    }
    if (stale_thread_list) m.threads_listed = -1;
    next.emplace(pid, std::move(m));
  }
  members_ = std::move(next);  // members not seen again close their descriptors here
  first_ = false;
  out.cpu_ticks = accumulated_;
  return out;
}

size_t ProcessTree::open_files() const {
  size_t n = 0;
  for (const auto& [pid, m] : members_) {
    n += m.stat.is_open() ? 1 : 0;
    for (const ProcFile& c : m.children) n += c.is_open() ? 1 : 0;
  }
  return n;
}

}  // namespace codedag::monitor
