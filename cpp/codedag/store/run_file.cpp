#include "codedag/store/run_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/store/layout.hpp"

namespace codedag::store {
namespace {

class RunLock {
 public:
  explicit RunLock(const std::string& info_dir) {
    const std::string path = info_dir + "/" + kLockFile;
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw_system_error("cannot open the run lock", path);
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(fd_);
        throw_system_error("cannot lock", path);
      }
    }
  }
  ~RunLock() { ::close(fd_); }  // closing releases the flock

 private:
  int fd_ = -1;
};

std::string serialize(const json& run) { return run.dump(1, ' ', false, json::error_handler_t::replace) + "\n"; }

}  // namespace

json load_run(const std::string& info_dir) {
  const std::string path = info_dir + "/" + kRunFile;
  json run = load_json_file(path);
  if (!run.is_object()) throw FormatError(path + ": a run record must be a JSON object, found " + json_type_name(run));
  return run;
}

json update_run(const std::string& info_dir, const std::function<void(json&)>& change) {
  RunLock lock(info_dir);
  json run = load_run(info_dir);
  change(run);
  write_file_atomic(info_dir + "/" + kRunFile, serialize(run));
  return run;
}

void create_run(const std::string& info_dir, const json& run) {
  write_file_atomic(info_dir + "/" + kRunFile, serialize(run));
}

}  // namespace codedag::store
