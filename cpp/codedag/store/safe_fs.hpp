#pragma once
// File-system access inside the store that no name read from disk can steer outside it. Paths are
// walked one component at a time with openat(O_NOFOLLOW | O_DIRECTORY) from a directory the store
// trusts (its info/, blob/ or cache/ root), so a symlinked run directory or a planted `..` cannot
// make `gc` erase, or `restore` write, anything outside the run.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace codedag::store {

// An open directory descriptor, closed on destruction.
class DirFd {
 public:
  DirFd() = default;
  explicit DirFd(int fd) : fd_(fd) {}
  ~DirFd();
  DirFd(DirFd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DirFd& operator=(DirFd&& o) noexcept;
  DirFd(const DirFd&) = delete;
  DirFd& operator=(const DirFd&) = delete;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// An entry of a directory: its name and readdir's d_type (DT_DIR, DT_REG, DT_LNK, or DT_UNKNOWN on
// file systems that do not say, where the caller stats it).
struct DirEntry {
  std::string name;
  unsigned char type = 0;
};

// The entries of an open directory ("." and ".." left out), sorted by name; empty when unreadable.
std::vector<DirEntry> directory_entries(int dir);

// Opens `root` (following symlinks: the user chose it) and then each of `components` below it
// without following symlinks. `create`: missing components are made (mode 0755). Returns an empty
// DirFd when a component is missing (and !create); throws SystemCallError when a component is a
// symlink or not a directory, naming the path.
DirFd open_dir_under(const std::string& root, const std::vector<std::string>& components, bool create = false);

// Removes the entry `name` of `dir` and, for a directory, everything below it, without following
// any symlink (a symlink is removed, never its target). Returns false when `name` did not exist.
// Throws SystemCallError when something cannot be removed.
bool remove_tree_at(int dir, const std::string& name, const std::string& shown_path);

// Creates `relative` (a safe relative path) below `dir` for writing, with its directories, never
// following a link and never replacing an existing file (SystemCallError). Returns the descriptor.
int create_new_file_at(int dir, std::string_view relative, const std::string& shown_root);

// Every regular file below `root` (a run's info or blob directory), opened, in a stable order:
// `visit(relative, fd, size)` with a '/'-separated relative path. A symlink is given as what it
// points to when that is a regular file inside `root` or one of `also_inside` (the run's other
// directories); any other symlink (outside the run, dangling, to a directory, to another link) and
// any non-regular file is an InputError naming it. `skip(relative)` leaves entries out (locks,
// temporaries). A missing root has no files.
void for_each_run_file(const std::string& root, const std::vector<std::string>& also_inside,
                       bool (*skip)(const std::string& relative),
                       const std::function<void(const std::string& relative, int fd, uint64_t size)>& visit);

}  // namespace codedag::store
