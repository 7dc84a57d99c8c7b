#include "codedag/store/safe_fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>

#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/run_identity.hpp"

namespace codedag::store {
namespace {

std::vector<std::string> split_path(std::string_view p) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    if (end > start) out.emplace_back(p.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// "a/./b/../c" -> {"a", "c"}; false when ".." climbs above the start.
bool normalize(const std::vector<std::string>& parts, std::vector<std::string>& out) {
  out.clear();
  for (const auto& p : parts) {
    if (p == ".") continue;
    if (p == "..") {
      if (out.empty()) return false;
      out.pop_back();
      continue;
    }
    out.push_back(p);
  }
  return true;
}

std::string join(const std::vector<std::string>& parts, size_t from = 0, size_t to = std::string::npos) {
  std::string out;
  for (size_t i = from; i < parts.size() && i < to; ++i) out += (out.empty() ? "" : "/") + parts[i];
  return out;
}

std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  if (::realpath(p.c_str(), buf) == nullptr) return {};
  return buf;
}

using Visit = std::function<void(const std::string&, int, uint64_t)>;

struct Walk {
  std::string root;                  // as given (for messages)
  std::vector<std::string> allowed;  // real paths of the run's directories, root first
  bool (*skip)(const std::string&);
  const Visit* visit;
};

// Opens `fd` as a regular file and hands it to the visitor; closes it whatever happens.
void visit_open_file(const Walk& w, int fd, const std::string& rel,
                     const std::function<void(const std::string&)>& refuse) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    refuse("which is not a regular file");
    return;
  }
  try {
    (*w.visit)(rel, fd, static_cast<uint64_t>(st.st_size));
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

// A symlink at `rel` (below walk.root): its target, if it is a regular file inside one of the run's
// directories, is visited under the link's name.
void visit_symlink(const Walk& w, int dir, const std::string& name, const std::string& rel) {
  char target[PATH_MAX];
  const ssize_t n = ::readlinkat(dir, name.c_str(), target, sizeof target - 1);
  if (n < 0) throw_system_error("cannot read the link", w.root + "/" + rel);
  const std::string t(target, static_cast<size_t>(n));
  const std::function<void(const std::string&)> refuse = [&](const std::string& why) {
    throw InputError("cannot back up " + term::printable(w.root + "/" + rel) + ": it is a symbolic link to '" +
                     term::printable(t) + "', " + why +
                     "; copy the file into the run (or remove the link) and back up again");
  };
  std::vector<std::string> parts;
  if (!t.empty() && t[0] == '/') {
    parts = split_path(t);
  } else {
    parts = split_path(w.allowed[0]);
    const auto rel_parts = split_path(rel);
    parts.insert(parts.end(), rel_parts.begin(), rel_parts.end() - 1);  // the link's directory
    const auto t_parts = split_path(t);
    parts.insert(parts.end(), t_parts.begin(), t_parts.end());
  }
  std::vector<std::string> abs;
  if (!normalize(parts, abs)) refuse("outside the run");
  for (const auto& root : w.allowed) {
    const auto root_parts = split_path(root);
    if (root.empty() || abs.size() <= root_parts.size()) continue;
    bool inside = true;
    for (size_t i = 0; i < root_parts.size() && inside; ++i) inside = abs[i] == root_parts[i];
    if (!inside) continue;
    // Walk to the target without following any further link: a link to a link is refused.
    std::vector<std::string> dirs(abs.begin() + static_cast<std::ptrdiff_t>(root_parts.size()), abs.end() - 1);
    DirFd d;
    try {
      d = open_dir_under(root, dirs);
    } catch (const SystemCallError&) {
      refuse("which passes through another link");
    }
    if (!d) refuse("which does not exist");
    const int fd = ::openat(d.get(), abs.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) refuse(errno == ELOOP ? "another link" : "which cannot be opened");
    visit_open_file(w, fd, rel, refuse);
    return;
  }
  refuse("outside the run");
}

void walk(const Walk& w, int dir, const std::string& prefix, int depth) {
  if (depth > 64) throw InputError("cannot back up " + term::printable(w.root + "/" + prefix) + ": nested too deep");
  for (const DirEntry& entry : directory_entries(dir)) {
    const std::string& name = entry.name;
    const std::string rel = prefix.empty() ? name : prefix + "/" + name;
    if (w.skip && w.skip(rel)) continue;
    struct stat st {};
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished meanwhile
    if (S_ISDIR(st.st_mode)) {
      const int sub = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) throw_system_error("cannot open the directory", w.root + "/" + rel);
      DirFd guard(sub);
      walk(w, sub, rel, depth + 1);
    } else if (S_ISREG(st.st_mode)) {
      const int fd = ::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
      if (fd < 0) throw_system_error("cannot open", w.root + "/" + rel);
      visit_open_file(w, fd, rel, [&](const std::string& why) {
        throw InputError("cannot back up " + term::printable(w.root + "/" + rel) + ": " + why);
      });
    } else if (S_ISLNK(st.st_mode)) {
      visit_symlink(w, dir, name, rel);
    } else {
      throw InputError("cannot back up " + term::printable(w.root + "/" + rel) +
                       ": not a regular file (a pipe, socket or device); remove it from the run and back up again");
    }
  }
}

}  // namespace

std::vector<DirEntry> directory_entries(int dir) {
  std::vector<DirEntry> out;
  const int dup = ::dup(dir);  // closedir closes its descriptor: keep the caller's
  DIR* d = dup >= 0 ? ::fdopendir(dup) : nullptr;
  if (!d) {
    if (dup >= 0) ::close(dup);
    return out;
  }
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back({n, e->d_type});
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  return out;
}

DirFd::~DirFd() {
  if (fd_ >= 0) ::close(fd_);
}

DirFd& DirFd::operator=(DirFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

DirFd open_dir_under(const std::string& root, const std::vector<std::string>& components, bool create) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT && create) {
      if (::mkdir(root.c_str(), 0755) != 0 && errno != EEXIST) throw_system_error("cannot create", root);
      fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0) {
      if (errno == ENOENT) return DirFd();
      throw_system_error("cannot open the directory", root);
    }
  }
  DirFd cur(fd);
  std::string shown = root;
  for (const auto& c : components) {
    shown += "/" + c;
    if (c.empty() || c == "." || c == ".." || c.find('/') != std::string::npos)
      throw InputError("unsafe path component '" + term::printable(c) + "' in " + term::printable(shown));
    int next = ::openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (::mkdirat(cur.get(), c.c_str(), 0755) != 0 && errno != EEXIST) throw_system_error("cannot create", shown);
      next = ::openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      if (errno == ENOENT) return DirFd();
      if (errno == ELOOP || errno == ENOTDIR)
        throw SystemCallError("refusing '" + term::printable(shown) +
                              "': it is a symbolic link or not a directory, and the store never follows links "
                              "out of itself");
      throw_system_error("cannot open the directory", shown);
    }
    cur = DirFd(next);
  }
  return cur;
}

bool remove_tree_at(int dir, const std::string& name, const std::string& shown_path) {
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return false;
    throw_system_error("cannot inspect", shown_path);
  }
  if (S_ISDIR(st.st_mode)) {
    const int sub = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) {
      if (errno == ENOENT) return false;
      throw_system_error("cannot open the directory", shown_path);
    }
    DirFd guard(sub);
    for (const DirEntry& e : directory_entries(sub)) remove_tree_at(sub, e.name, shown_path + "/" + e.name);
    if (::unlinkat(dir, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      throw_system_error("cannot remove the directory", shown_path);
    return true;
  }
  if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT) throw_system_error("cannot remove", shown_path);
  return true;
}

int create_new_file_at(int dir, std::string_view relative, const std::string& shown_root) {
  const std::string shown = shown_root + "/" + std::string(relative);
  if (!is_safe_relative_path(relative)) throw InputError("unsafe path '" + term::printable(shown) + "'");
  const auto parts = split_path(relative);
  DirFd cur(::dup(dir));
  if (!cur) throw_system_error("cannot open the directory", shown_root);
  // Each directory below `dir` is created or opened without following links.
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int next = ::openat(cur.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT) {
      if (::mkdirat(cur.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST)
        throw_system_error("cannot create", shown_root + "/" + join(parts, 0, i + 1));
      next = ::openat(cur.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) throw_system_error("cannot open the directory", shown_root + "/" + join(parts, 0, i + 1));
    cur = DirFd(next);
  }
  const int fd = ::openat(cur.get(), parts.back().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw_system_error("cannot create", shown);
  return fd;
}

void for_each_run_file(const std::string& root, const std::vector<std::string>& also_inside,
                       bool (*skip)(const std::string& relative), const Visit& visit) {
  DirFd top = open_dir_under(root, {});
  if (!top) return;
  Walk w{root, {}, skip, &visit};
  w.allowed.push_back(real_path(root));
  for (const auto& other : also_inside) w.allowed.push_back(real_path(other));
  walk(w, top.get(), "", 0);
}

}  // namespace codedag::store
