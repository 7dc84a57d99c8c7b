#include "codedag/store/archive.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/subprocess.hpp"

namespace codedag::store {
namespace fs = std::filesystem;

namespace {

constexpr const char* kManifest = "codedag-backup.json";
constexpr const char* kBackupSchema = "codedag.backup/1";

void put_octal(char* field, size_t width, uint64_t value) {
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(value));
}

uint64_t get_octal(const char* field, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width && field[i]; ++i) {
    if (field[i] == ' ') continue;
    if (field[i] < '0' || field[i] > '7') break;
    v = v * 8 + static_cast<uint64_t>(field[i] - '0');
  }
  return v;
}

bool safe_relative(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  for (const auto& part : fs::path(p))
    if (part == "..") return false;
  return true;
}

void collect(const std::string& root, const std::string& prefix, std::vector<TarEntry>& out) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return;
  for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    const std::string rel = fs::relative(it->path(), root).string();
    if (rel == kLockFile || rel.find(".tmp.") != std::string::npos) continue;
    out.push_back({prefix + rel, read_file(it->path().string())});
  }
}

}  // namespace

std::string write_tar(const std::vector<TarEntry>& entries) {
  std::string out;
  for (const TarEntry& e : entries) {
    char h[512];
    std::memset(h, 0, sizeof h);
    std::string name = e.path, prefix;
    if (name.size() > 100) {
      const size_t cut = name.rfind('/', 155);
      if (cut == std::string::npos || name.size() - cut - 1 > 100 || cut > 155)
        throw InputError("cannot archive '" + e.path + "': path too long for ustar");
      prefix = name.substr(0, cut);
      name = name.substr(cut + 1);
    }
    std::memcpy(h, name.data(), name.size());
    put_octal(h + 100, 8, 0644);
    put_octal(h + 108, 8, 0);
    put_octal(h + 116, 8, 0);
    put_octal(h + 124, 12, e.data.size());
    put_octal(h + 136, 12, static_cast<uint64_t>(unix_now()));
    h[156] = '0';
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    std::memcpy(h + 345, prefix.data(), prefix.size());
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(h + 148, 8, "%06o", sum);
    out.append(h, sizeof h);
    out += e.data;
    out.append((512 - e.data.size() % 512) % 512, '\0');
  }
  out.append(1024, '\0');
  return out;
}

std::vector<TarEntry> read_tar(const std::string& bytes, const std::string& origin) {
  std::vector<TarEntry> out;
  size_t pos = 0;
  while (true) {
    if (pos + 512 > bytes.size())
      throw FormatError(origin + ": truncated archive at byte " + std::to_string(pos) + " (no end marker)");
    const char* h = bytes.data() + pos;
    bool zero = true;
    for (int i = 0; i < 512 && zero; ++i) zero = h[i] == 0;
    if (zero) break;
    unsigned sum = 0;
    for (int i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    if (sum != get_octal(h + 148, 8))
      throw FormatError(origin + ": damaged archive header at byte " + std::to_string(pos) + " (checksum mismatch)");
    std::string name(h, strnlen(h, 100));
    const std::string prefix(h + 345, strnlen(h + 345, 155));
    if (!prefix.empty()) name = prefix + "/" + name;
    const uint64_t size = get_octal(h + 124, 12);
    pos += 512;
    if (pos + size > bytes.size())
      throw FormatError(origin + ": truncated archive: '" + name + "' needs " + std::to_string(size) +
                        " bytes at byte " + std::to_string(pos));
    if (h[156] == '0' || h[156] == 0) {
      if (!safe_relative(name)) throw FormatError(origin + ": unsafe path '" + name + "' in archive");
      out.push_back({name, bytes.substr(pos, size)});
    }
    pos += (size + 511) / 512 * 512;
  }
  return out;
}

std::string backup_run(Store& store, const std::string& id, const std::string& dir) {
  const RunRef ref = store.resolve(id);
  const json run = load_run(ref.info_dir);
  std::vector<TarEntry> entries;
  entries.push_back({kManifest, json{{"schema", kBackupSchema},
                                     {"name", ref.name},
                                     {"test_name", ref.test_name},
                                     {"created_at", unix_now()},
                                     {"host", run.value("host", std::string())}}
                                        .dump(1) +
                                    "\n"});
  collect(ref.info_dir, "info/", entries);
  collect(store.layout().blob_dir(ref.name, ref.test_name), "blob/", entries);
  const json git = run.value("git", json::object());
  if (git.value("present", false)) {
    const std::string bundle = store.layout().cache_root() + "/backup." + std::to_string(::getpid()) + ".bundle";
    make_directories(store.layout().cache_root());
    SpawnResult r;
    try {
      r = run_process({"git", "-C", git.value("toplevel", std::string(".")), "bundle", "create", "-q", bundle,
                       git.value("ref", std::string())});
    } catch (const std::exception& e) {
      r.err = e.what();
    }
    if (r.exit_code == 0) {
      entries.push_back({"snapshot.bundle", read_file(bundle)});
    } else {
      entries.push_back({"snapshot-missing.txt", "the code snapshot could not be bundled: " + r.err});
    }
    std::error_code ec;
    fs::remove(bundle, ec);
  }
  const std::string path = (fs::path(dir) / (ref.name + "." + ref.test_name + ".codedag.tar")).string();
  write_file_atomic(path, write_tar(entries));
  return path;
}

std::string restore_run(Store& store, const std::string& archive_path, std::vector<std::string>& notes) {
  const std::vector<TarEntry> entries = read_tar(read_file(archive_path), archive_path);
  json manifest;
  for (const auto& e : entries)
    if (e.path == kManifest) manifest = parse_json(e.data, archive_path + ":" + kManifest);
  if (!manifest.is_object() || manifest.value("schema", std::string()) != kBackupSchema)
    throw FormatError(archive_path + ": not a codedag backup (no " + kManifest + " with schema " + kBackupSchema + ")");
  const std::string name = manifest.value("name", std::string());
  const std::string test_name = manifest.value("test_name", std::string());
  validate_experiment_name(name);
  if (!looks_like_test_name(test_name))
    throw FormatError(archive_path + ": bad test_name '" + test_name + "' in manifest");
  const std::string info_dir = store.layout().info_dir(name, test_name);
  make_directories(store.layout().info_root() + "/" + name);
  if (::mkdir(info_dir.c_str(), 0755) != 0) {
    if (errno == EEXIST)
      throw StateError("run " + name + "/" + test_name + " is already in the store " + store.layout().home() +
                       "; restore never overwrites (remove it with `codedag rm` and `codedag gc` first)");
    throw_system_error("cannot create", info_dir);
  }
  std::string bundle;
  for (const auto& e : entries) {
    if (e.path.rfind("info/", 0) == 0)
      write_file_atomic(info_dir + "/" + e.path.substr(5), e.data);
    else if (e.path.rfind("blob/", 0) == 0)
      write_file_atomic(store.layout().blob_dir(name, test_name) + "/" + e.path.substr(5), e.data);
    else if (e.path == "snapshot.bundle") {
      bundle = info_dir + "/snapshot.bundle";
      write_file_atomic(bundle, e.data);
    }
  }
  json run = load_run(info_dir);
  store.reindex(run);
  const json git = run.value("git", json::object());
  if (!bundle.empty()) {
    const std::string top = git.value("toplevel", std::string());
    std::error_code ec;
    SpawnResult r;
    r.exit_code = 1;
    if (!top.empty() && fs::is_directory(top, ec)) {
      try {
        const std::string ref = git.value("ref", std::string());
        r = run_process({"git", "-C", top, "fetch", "-q", bundle, ref + ":" + ref});
      } catch (const std::exception& e) {
        r.err = e.what();
      }
    }
    notes.push_back(r.exit_code == 0 ? "code snapshot restored into " + top
                                     : "code snapshot kept as " + bundle + " (fetch it with `git fetch " + bundle +
                                           " " + git.value("ref", std::string()) + "`)");
  }
  return test_name;
}

}  // namespace codedag::store
