#pragma once
// A /proc or /sys file kept open between samples. Re-reading an open descriptor with pread(2)
// costs one system call instead of three (open, read, close), which is most of what a sample
// costs; the file is reopened only when the kernel says the old descriptor is stale (the process
// exited, the cgroup was removed) or it was never opened.
#include <string>
#include <string_view>

namespace codedag::monitor {

class ProcFile {
 public:
  ProcFile() = default;
  explicit ProcFile(std::string path) : path_(std::move(path)) {}
  ProcFile(const ProcFile&) = delete;
  ProcFile& operator=(const ProcFile&) = delete;
  ProcFile(ProcFile&& other) noexcept;
  ProcFile& operator=(ProcFile&& other) noexcept;
  ~ProcFile();

  // The whole content (up to the buffer's growth limit), or an empty view when the file cannot be
  // opened or read now. The view stays valid until the next read().
  std::string_view read();
  // True when the last read() succeeded.
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }
  void close();
  bool is_open() const { return fd_ >= 0; }

 private:
  bool open_();
  std::string path_;
  std::string buffer_;
  int fd_ = -1;
  bool ok_ = false;
};

// Reads a small file once (open, read, close); empty when it cannot be read.
std::string read_small_file(const std::string& path);

// Parsing helpers that never throw and never allocate: they return false / a default when the
// text is not what they expect.
bool parse_u64(std::string_view text, unsigned long long& out);
bool parse_i64(std::string_view text, long long& out);
// "Key:   123 kB" lines (meminfo, status): the number after `key`, or false.
bool find_keyed_number(std::string_view text, std::string_view key, unsigned long long& out);
// "key 123" lines (cpu.stat, memory.stat): the number after `key` at a line start.
bool find_spaced_number(std::string_view text, std::string_view key, unsigned long long& out);
// The first line, without its newline.
std::string_view first_line(std::string_view text);
// Number of CPUs in a list such as "0-3,8,10-11" (Cpus_allowed_list, cpuset.cpus); 0 if invalid.
int count_cpu_list(std::string_view list);

}  // namespace codedag::monitor
