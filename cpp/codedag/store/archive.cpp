#include "codedag/store/archive.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/sha256.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/git_snapshot.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/safe_fs.hpp"
#include "codedag/store/subprocess.hpp"

namespace codedag::store {
namespace fs = std::filesystem;

namespace {

constexpr size_t kBlock = 512;
constexpr size_t kMaxMembers = 1000000;
constexpr size_t kMaxManifestBytes = 64u << 20;

// ---- ustar headers ----

void put_octal(char* field, size_t width, uint64_t value) {
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(value));
}

// A numeric field: octal digits, optionally space/NUL padded. false for anything else (base-256,
// garbage), which an archive we wrote never holds.
bool get_octal(const char* field, size_t width, uint64_t& out) {
  out = 0;
  size_t i = 0;
  while (i < width && field[i] == ' ') ++i;
  size_t digits = 0;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i, ++digits) {
    if (out > (UINT64_MAX >> 3)) return false;
    out = out * 8 + static_cast<uint64_t>(field[i] - '0');
  }
  for (; i < width; ++i)
    if (field[i] != ' ' && field[i] != '\0') return false;
  return digits > 0;
}

std::string header_for(const std::string& path, uint64_t size) {
  char h[kBlock];
  std::memset(h, 0, sizeof h);
  std::string name = path, prefix;
  if (name.size() > 100) {
    const size_t cut = name.rfind('/', 155);
    if (cut == std::string::npos || name.size() - cut - 1 > 100 || cut > 155)
      throw InputError("cannot archive '" + term::printable(path) + "': path too long for ustar");
    prefix = name.substr(0, cut);
    name = name.substr(cut + 1);
  }
  std::memcpy(h, name.data(), name.size());
  put_octal(h + 100, 8, 0644);
  put_octal(h + 108, 8, 0);
  put_octal(h + 116, 8, 0);
  put_octal(h + 124, 12, size);
  put_octal(h + 136, 12, static_cast<uint64_t>(unix_now()));
  h[156] = '0';
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memcpy(h + 345, prefix.data(), prefix.size());
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  return std::string(h, sizeof h);
}

std::string padding(uint64_t size) { return std::string((kBlock - size % kBlock) % kBlock, '\0'); }

// ---- reading: one pass over a byte source, member by member ----

// Where archive bytes come from (a file descriptor, or memory for check_archive and fuzzing).
class Source {
 public:
  virtual ~Source() = default;
  // Reads exactly n bytes; false at a clean or early end of data.
  virtual bool read(char* out, size_t n) = 0;
  uint64_t offset = 0;
};

class FdSource : public Source {
 public:
  FdSource(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  bool read(char* out, size_t n) override {
    size_t done = 0;
    while (done < n) {
      const ssize_t r = ::read(fd_, out + done, n - done);
      if (r < 0) {
        if (errno == EINTR) continue;
        throw_system_error("cannot read", path_);
      }
      if (r == 0) return false;
      done += static_cast<size_t>(r);
    }
    offset += n;
    return true;
  }

 private:
  int fd_;
  std::string path_;
};

class MemorySource : public Source {
 public:
  explicit MemorySource(const std::string& bytes) : bytes_(bytes) {}
  bool read(char* out, size_t n) override {
    if (offset + n > bytes_.size()) return false;
    std::memcpy(out, bytes_.data() + offset, n);
    offset += n;
    return true;
  }

 private:
  const std::string& bytes_;
};

// A member's header, checked.
struct MemberHeader {
  std::string path;
  uint64_t size = 0;
  bool regular = true;
};

// Reads the next header; false at the end marker. FormatError for anything else than a checked
// ustar header of a regular file (or directory) with a safe path.
bool next_header(Source& src, const std::string& origin, MemberHeader& m) {
  char h[kBlock];
  const uint64_t at = src.offset;
  if (!src.read(h, kBlock))
    throw FormatError(origin + ": truncated archive at byte " + std::to_string(at) + " (no end marker)");
  bool zero = true;
  for (size_t i = 0; i < kBlock && zero; ++i) zero = h[i] == 0;
  if (zero) return false;
  unsigned sum = 0;
  for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
  uint64_t recorded = 0;
  if (!get_octal(h + 148, 8, recorded) || sum != recorded)
    throw FormatError(origin + ": damaged archive header at byte " + std::to_string(at) + " (checksum mismatch)");
  std::string name(h, strnlen(h, 100));
  const std::string prefix(h + 345, strnlen(h + 345, 155));
  if (!prefix.empty()) name = prefix + "/" + name;
  if (!get_octal(h + 124, 12, m.size))
    throw FormatError(origin + ": damaged archive header at byte " + std::to_string(at) + " (bad size field)");
  const char type = h[156];
  if (type == '5') {  // a directory entry (other tar tools write them): nothing to restore
    m.regular = false;
  } else if (type == '0' || type == '\0') {
    m.regular = true;
  } else {
    throw FormatError(
        origin + ": member '" + term::printable(name) + "' at byte " + std::to_string(at) + " is a " +
        (type == '1' || type == '2' ? "link" : "special entry (type '" + term::printable(std::string(1, type)) + "')") +
        "; codedag backups hold regular files only");
  }
  while (!name.empty() && name.back() == '/') name.pop_back();
  if (!is_safe_relative_path(name))
    throw FormatError(origin + ": unsafe path '" + term::printable(name) + "' in archive at byte " +
                      std::to_string(at));
  m.path = name;
  return true;
}

// Passes the member's data to `sink` in pieces and skips its padding.
void read_data(Source& src, const std::string& origin, const MemberHeader& m,
               const std::function<void(const char*, size_t)>& sink) {
  char buf[1 << 16];
  uint64_t left = m.size;
  while (left > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, sizeof buf));
    if (!src.read(buf, n))
      throw FormatError(origin + ": truncated archive: '" + term::printable(m.path) + "' needs " +
                        std::to_string(m.size) + " bytes");
    sink(buf, n);
    left -= n;
  }
  const size_t pad = (kBlock - m.size % kBlock) % kBlock;
  if (pad && !src.read(buf, pad))
    throw FormatError(origin + ": truncated archive after '" + term::printable(m.path) + "'");
}

bool is_member_path(const std::string& p) {
  return p.rfind("info/", 0) == 0 || p.rfind("blob/", 0) == 0 || p == "snapshot.bundle" || p == "snapshot-missing.txt";
}

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// What one pass over an archive found: each member's digest, and the manifest's text.
struct Scan {
  std::map<std::string, ArchiveMember> seen;
  std::string manifest;
};

// Reads every member; `store(member, data pieces)` receives the data of each regular member that
// is not the manifest (nullptr: only hash it).
Scan scan_archive(Source& src, const std::string& origin,
                  const std::function<std::function<void(const char*, size_t)>(const MemberHeader&)>& open_member) {
  Scan scan;
  MemberHeader m;
  bool manifest_seen = false;
  while (next_header(src, origin, m)) {
    if (!m.regular) {
      read_data(src, origin, m, [](const char*, size_t) {});
      continue;
    }
    if (scan.seen.size() >= kMaxMembers)
      throw FormatError(origin + ": more than " + std::to_string(kMaxMembers) + " members");
    if (manifest_seen) throw FormatError(origin + ": member '" + term::printable(m.path) + "' after the manifest");
    if (m.path == kBackupManifest) {
      if (m.size > kMaxManifestBytes)
        throw FormatError(origin + ": the manifest is larger than " + std::to_string(kMaxManifestBytes) + " bytes");
      read_data(src, origin, m, [&](const char* p, size_t n) { scan.manifest.append(p, n); });
      manifest_seen = true;
      continue;
    }
    if (!is_member_path(m.path))
      throw FormatError(origin + ": unexpected member '" + term::printable(m.path) +
                        "' (a backup holds info/..., blob/..., snapshot.bundle and " + kBackupManifest + ")");
    if (scan.seen.count(m.path)) throw FormatError(origin + ": member '" + term::printable(m.path) + "' appears twice");
    Sha256 digest;
    auto sink = open_member ? open_member(m) : std::function<void(const char*, size_t)>();
    read_data(src, origin, m, [&](const char* p, size_t n) {
      digest.update(p, n);
      if (sink) sink(p, n);
    });
    scan.seen[m.path] = ArchiveMember{m.path, m.size, digest.hex()};
  }
  if (!manifest_seen)
    throw FormatError(origin + ": not a codedag backup (no " + kBackupManifest + " with schema " + kBackupSchema + ")");
  return scan;
}

// The manifest and the members found must agree exactly.
RunId check_against_manifest(const Scan& scan, const std::string& origin) {
  std::vector<ArchiveMember> listed;
  const RunId id = parse_backup_manifest(scan.manifest, origin + ":" + kBackupManifest, listed);
  std::map<std::string, const ArchiveMember*> by_path;
  for (const auto& l : listed) by_path[l.path] = &l;
  for (const auto& [path, found] : scan.seen) {
    const auto it = by_path.find(path);
    if (it == by_path.end())
      throw FormatError(origin + ": member '" + term::printable(path) + "' is not listed in the manifest");
    if (it->second->bytes != found.bytes || it->second->sha256 != found.sha256)
      throw FormatError(origin + ": member '" + term::printable(path) +
                        "' differs from the manifest (damaged or altered: size " + std::to_string(found.bytes) +
                        " vs " + std::to_string(it->second->bytes) + ")");
  }
  for (const auto& l : listed)
    if (!scan.seen.count(l.path))
      throw FormatError(origin + ": the manifest lists '" + term::printable(l.path) + "' but the archive lacks it");
  if (!scan.seen.count("info/run.json")) throw FormatError(origin + ": the archive has no info/run.json");
  return id;
}

std::string random_token() {
  unsigned r = 0;
  if (::getrandom(&r, sizeof r, 0) != sizeof r) r = static_cast<unsigned>(::getpid()) * 2654435761u;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", r);
  return buf;
}

bool skip_in_backup(const std::string& rel) {
  return rel == kLockFile || rel.find(".tmp.") != std::string::npos || rel.rfind(".tmp.", 0) == 0;
}

// Moves `staged` (a directory in `from_dir`) to <root>/<name>/<test_name>: the target is created
// empty first (mkdir fails if the run is there) and the staged directory renamed over it, which
// replaces only an empty directory — so nothing in the store is ever overwritten.
// Returns false when the run is already there.
bool move_into_place(int from_dir, const std::string& staged, const std::string& root, const RunId& id) {
  DirFd name_dir = open_dir_under(root, {id.name}, true);
  const std::string target = root + "/" + id.str();
  if (::mkdirat(name_dir.get(), id.test_name.c_str(), 0755) != 0) {
    if (errno == EEXIST) return false;
    throw_system_error("cannot create", target);
  }
  if (::renameat(from_dir, staged.c_str(), name_dir.get(), id.test_name.c_str()) != 0) {
    const int err = errno;
    ::unlinkat(name_dir.get(), id.test_name.c_str(), AT_REMOVEDIR);
    errno = err;
    throw_system_error("cannot move the restored files to", target);
  }
  return true;
}

}  // namespace

RunId parse_backup_manifest(const std::string& text, const std::string& origin, std::vector<ArchiveMember>& members) {
  JsonLimits limits;
  limits.max_bytes = kMaxManifestBytes;
  limits.max_depth = 8;
  const JsonDocument doc = JsonDocument::parse(text, origin, limits);
  const json& m = doc.value();
  if (!m.is_object()) throw doc.error("", "a manifest must be a JSON object");
  const auto schema = m.find("schema");
  if (schema == m.end() || !schema->is_string() || *schema != kBackupSchema)
    throw doc.error("/schema", std::string("must be \"") + kBackupSchema + "\"");
  for (const char* k : {"name", "test_name"})
    if (!m.contains(k) || !m[k].is_string()) throw doc.error(std::string("/") + k, "must be a string");
  RunId id;
  try {
    id = checked_run_id(m["name"].get<std::string>(), m["test_name"].get<std::string>());
  } catch (const InputError& e) {
    throw doc.error("/name", e.what());
  }
  const auto list = m.find("members");
  if (list == m.end() || !list->is_array())
    throw doc.error("/members",
                    "must list the archive's members (archives written before member lists are not accepted)");
  members.clear();
  for (size_t i = 0; i < list->size(); ++i) {
    const json& e = (*list)[i];
    const std::string at = "/members/" + std::to_string(i);
    if (!e.is_object()) throw doc.error(at, "must be an object {path, bytes, sha256}");
    const auto p = e.find("path"), b = e.find("bytes"), h = e.find("sha256");
    if (p == e.end() || !p->is_string() || !is_safe_relative_path(p->get<std::string>()) ||
        !is_member_path(p->get<std::string>()))
      throw doc.error(at + "/path", "must be a relative path under info/ or blob/ (or snapshot.bundle)");
    if (b == e.end() || !b->is_number_unsigned()) throw doc.error(at + "/bytes", "must be a non-negative integer");
    if (h == e.end() || !h->is_string() || !is_hex64(h->get<std::string>()))
      throw doc.error(at + "/sha256", "must be 64 hexadecimal digits");
    members.push_back(ArchiveMember{p->get<std::string>(), b->get<uint64_t>(), h->get<std::string>()});
  }
  return id;
}

RunId check_archive(const std::string& bytes, const std::string& origin) {
  MemorySource src(bytes);
  std::string run_json;
  const Scan scan = scan_archive(src, origin, [&](const MemberHeader& m) -> std::function<void(const char*, size_t)> {
    if (m.path != "info/run.json") return nullptr;
    if (m.size > kMaxRunFileBytes) throw FormatError(origin + ": info/run.json is too large");
    return [&](const char* p, size_t n) { run_json.append(p, n); };
  });
  const RunId id = check_against_manifest(scan, origin);
  JsonLimits limits;
  limits.max_bytes = kMaxRunFileBytes;
  validate_run_record(JsonDocument::parse(run_json, origin + ":info/run.json", limits), &id);
  return id;
}

std::string backup_run(Store& store, const std::string& id_text, const std::string& dir) {
  const RunRef ref = store.resolve(id_text);
  const RunId id = ref.id();
  const json run = load_run(ref.info_dir, &id);
  const std::string info = ref.info_dir, blob = store.layout().blob_dir(id.name, id.test_name);
  const std::string path = (fs::path(dir) / (id.name + "." + id.test_name + ".codedag.tar")).string();
  AtomicFile out(path);
  json members = json::array();
  // Streams one member: its header (size known up front), its bytes hashed on the way, padding.
  const auto add_stream = [&](const std::string& name, int fd, uint64_t size) {
    out.write(header_for(name, size));
    Sha256 digest;
    char buf[1 << 16];
    uint64_t left = size;
    while (left > 0) {
      const ssize_t n = ::read(fd, buf, static_cast<size_t>(std::min<uint64_t>(left, sizeof buf)));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)  // the file shrank while being read (a log rewritten): the archive would lie
        throw StateError("cannot back up " + term::printable(name) + ": it changed while being archived; try again");
      out.write(std::string_view(buf, static_cast<size_t>(n)));
      digest.update(buf, static_cast<size_t>(n));
      left -= static_cast<uint64_t>(n);
    }
    out.write(padding(size));
    members.push_back(json{{"path", name}, {"bytes", size}, {"sha256", digest.hex()}});
  };
  const auto add_bytes = [&](const std::string& name, const std::string& data) {
    out.write(header_for(name, data.size()));
    out.write(data);
    out.write(padding(data.size()));
    members.push_back(json{{"path", name}, {"bytes", data.size()}, {"sha256", sha256_hex(data)}});
  };
  for_each_run_file(info, {blob}, skip_in_backup,
                    [&](const std::string& rel, int fd, uint64_t size) { add_stream("info/" + rel, fd, size); });
  for_each_run_file(blob, {info}, skip_in_backup,
                    [&](const std::string& rel, int fd, uint64_t size) { add_stream("blob/" + rel, fd, size); });
  const json git = run.value("git", json::object());
  if (git.value("present", false)) {
    // The bundle holds the run's own ref only (checked by load_run); made in the cache, then streamed.
    const std::string bundle =
        store.layout().cache_root() + "/backup." + std::to_string(::getpid()) + "." + random_token() + ".bundle";
    make_directories(store.layout().cache_root());
    SpawnResult r;
    try {
      r = run_process({"git", "-C", git.value("toplevel", std::string()), "bundle", "create", "-q", bundle, id.ref()});
    } catch (const std::exception& e) {
      r.err = e.what();
    }
    if (r.exit_code == 0) {
      const int fd = ::open(bundle.c_str(), O_RDONLY | O_CLOEXEC);
      struct stat st {};
      if (fd >= 0 && ::fstat(fd, &st) == 0) add_stream("snapshot.bundle", fd, static_cast<uint64_t>(st.st_size));
      if (fd >= 0) ::close(fd);
    } else {
      add_bytes("snapshot-missing.txt", "the code snapshot could not be bundled: " + r.err);
    }
    std::error_code ec;
    fs::remove(bundle, ec);
  }
  const json manifest = {{"schema", kBackupSchema},
                         {"name", id.name},
                         {"test_name", id.test_name},
                         {"created_at", unix_now()},
                         {"host", run.value("host", std::string())},
                         {"members", members}};
  const std::string text = dump_json(manifest, 1) + "\n";
  out.write(header_for(kBackupManifest, text.size()));
  out.write(text);
  out.write(padding(text.size()));
  out.write(std::string(2 * kBlock, '\0'));
  out.commit();
  return path;
}

std::string restore_run(Store& store, const std::string& archive_path, std::vector<std::string>& notes) {
  const int fd = ::open(archive_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) throw NotFoundError("no such archive '" + term::printable(archive_path) + "'");
    throw_system_error("cannot open", archive_path);
  }
  DirFd archive_fd(fd);  // closes it
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw FormatError(archive_path + ": not a regular file");
  const std::string& origin = archive_path;
  // Staging directories next to the store's roots (same file system, so the final move is a rename).
  const std::string token = ".restore." + std::to_string(::getpid()) + "." + random_token();
  const Layout& layout = store.layout();
  make_directories(layout.info_root());
  make_directories(layout.blob_root());
  DirFd info_root = open_dir_under(layout.info_root(), {});
  DirFd blob_root = open_dir_under(layout.blob_root(), {});
  if (::mkdirat(info_root.get(), token.c_str(), 0700) != 0)
    throw_system_error("cannot create", layout.info_root() + "/" + token);
  bool blob_staged = false;
  struct Cleanup {
    int info, blob;
    std::string token;
    bool* blob_staged;
    bool armed = true;
    ~Cleanup() {
      if (!armed) return;
      try {
        remove_tree_at(info, token, token);
        if (*blob_staged) remove_tree_at(blob, token, token);
      } catch (...) {
      }
    }
  } cleanup{info_root.get(), blob_root.get(), token, &blob_staged};
  DirFd info_stage = open_dir_under(layout.info_root(), {token});
  DirFd blob_stage;

  FdSource src(fd, archive_path);
  const Scan scan = scan_archive(src, origin, [&](const MemberHeader& m) -> std::function<void(const char*, size_t)> {
    int out = -1;
    if (m.path.rfind("blob/", 0) == 0) {
      if (!blob_staged) {
        if (::mkdirat(blob_root.get(), token.c_str(), 0700) != 0)
          throw_system_error("cannot create", layout.blob_root() + "/" + token);
        blob_staged = true;
        blob_stage = open_dir_under(layout.blob_root(), {token});
      }
      out = create_new_file_at(blob_stage.get(), m.path.substr(5), layout.blob_root() + "/" + token);
    } else {
      // info/x -> x; snapshot.bundle and snapshot-missing.txt are kept with the run's info files.
      const std::string rel = m.path.rfind("info/", 0) == 0 ? m.path.substr(5) : m.path;
      out = create_new_file_at(info_stage.get(), rel, layout.info_root() + "/" + token);
    }
    auto file = std::make_shared<DirFd>(out);  // closes the member's file when the sink goes
    return [file, &m, origin](const char* p, size_t n) {
      size_t done = 0;
      while (done < n) {
        const ssize_t w = ::write(file->get(), p + done, n - done);
        if (w < 0) {
          if (errno == EINTR) continue;
          throw_system_error("cannot write the restored file", m.path);
        }
        done += static_cast<size_t>(w);
      }
    };
  });
  const RunId id = check_against_manifest(scan, origin);
  // The record must be the run the manifest names, and a valid record at all.
  try {
    load_run(layout.info_root() + "/" + token, &id);
  } catch (const FormatError& e) {
    throw FormatError(origin + ": " + e.what());
  }
  const auto exists = [&]() {
    return StateError("run " + id.str() + " is already in the store " + layout.home() +
                      "; restore never overwrites (remove it with `codedag rm` and `codedag gc` first)");
  };
  bool blob_placed = false;
  if (blob_staged) {
    if (!move_into_place(blob_root.get(), token, layout.blob_root(), id)) throw exists();
    blob_staged = false;
    blob_placed = true;
  }
  if (!move_into_place(info_root.get(), token, layout.info_root(), id)) {
    if (blob_placed) {  // the blobs just placed belong to no restored run: take them back out
      DirFd name_dir = open_dir_under(layout.blob_root(), {id.name});
      if (name_dir) remove_tree_at(name_dir.get(), id.test_name, layout.blob_dir(id.name, id.test_name));
    }
    throw exists();
  }
  cleanup.armed = false;
  const std::string info_dir = layout.info_dir(id.name, id.test_name);
  const json run = load_run(info_dir, &id);
  store.reindex(run);
  if (scan.seen.count("snapshot.bundle")) {
    const json git = run.value("git", json::object());
    const std::string bundle = info_dir + "/snapshot.bundle";
    const std::string why = git.value("present", false)
                                ? fetch_snapshot_ref(git.value("toplevel", std::string()), bundle, id.ref(),
                                                     git.value("commit", std::string()))
                                : std::string("the record has no snapshot");
    notes.push_back(why.empty() ? "code snapshot " + id.ref() + " restored into " + git.value("toplevel", std::string())
                                : "code snapshot kept as " + bundle + " (" + why + "; fetch it with `git fetch " +
                                      bundle + " " + id.ref() + ":" + id.ref() + "`)");
  }
  return id.test_name;
}

}  // namespace codedag::store
