#include "codedag/store/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "codedag/common/error.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/listing_columns.hpp"
#include "codedag/store/metric_log.hpp"
#include "codedag/store/process_identity.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/subprocess.hpp"

namespace codedag::store {
namespace fs = std::filesystem;

namespace {

// "a.b" reaches into nested objects.
const json* lookup(const json& object, const std::string& dotted) {
  const json* cur = &object;
  size_t pos = 0;
  while (true) {
    if (!cur->is_object()) return nullptr;
    const size_t dot = dotted.find('.', pos);
    const std::string part = dotted.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    const auto it = cur->find(part);
    if (it == cur->end()) {
      // a key that itself contains dots
      const auto whole = cur->find(dotted.substr(pos));
      return whole == cur->end() ? nullptr : &*whole;
    }
    cur = &*it;
    if (dot == std::string::npos) return cur;
    pos = dot + 1;
  }
}

long long mtime_ns(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

std::string as_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

bool matches_condition(const json& object, const std::string& condition, bool metric) {
  static const char* const ops[] = {">=", "<=", "!=", "==", "=", ">", "<"};
  for (const char* op : ops) {
    const size_t at = condition.find(op);
    if (at == std::string::npos || at == 0) continue;
    const std::string key = condition.substr(0, at);
    const std::string want = condition.substr(at + std::string(op).size());
    const json* found = lookup(object, key);
    if (found && metric && found->is_object() && found->contains("value")) found = &(*found)["value"];
    if (!found || found->is_null()) return false;
    const std::string o = op;
    if (o == "=" || o == "==") return as_text(*found) == want;
    if (o == "!=") return as_text(*found) != want;
    char* end = nullptr;
    const double w = std::strtod(want.c_str(), &end);
    if (end == want.c_str() || *end != '\0')
      throw InputError("filter '" + condition + "': '" + want + "' is not a number (use " + key + "=" + want +
                       " to compare text)");
    if (!found->is_number()) return false;
    const double v = found->get<double>();
    if (o == ">") return v > w;
    if (o == "<") return v < w;
    if (o == ">=") return v >= w;
    return v <= w;
  }
  throw InputError("filter '" + condition + "' has no comparison: write key=value, key>number, key<=number ...");
}

Store::Store(std::string home) : layout_(std::move(home)) {}

RunIndex& Store::index() {
  if (!index_) index_ = std::make_unique<RunIndex>(layout_);
  return *index_;
}

RunRef Store::resolve(const std::string& id_in) {
  if (id_in.empty()) throw InputError("empty run id: give a test_name such as 230306.012.d5t (see `codedag ls`)");
  std::string name, id = id_in;
  if (const size_t slash = id.rfind('/'); slash != std::string::npos) {
    name = id.substr(0, slash);
    id = id.substr(slash + 1);
  }
  if (id.find("..") != std::string::npos || name.find("..") != std::string::npos || name.find('/') != std::string::npos)
    throw InputError("'" + id_in + "' is not a run id");
  std::string test_name;
  if (const auto row = index().find(id)) {
    test_name = row->test_name;
    name = row->name;
  } else {
    const auto matches = index().match_prefix(id);
    if (matches.size() > 1) {
      std::string list;
      for (const auto& m : matches) list += " " + m;
      throw InputError("run id '" + id_in + "' is ambiguous; it matches:" + list);
    }
    if (matches.size() == 1) {
      test_name = matches[0];
      name = index().find(test_name)->name;
    }
  }
  if (test_name.empty()) {
    // Not indexed (the index was lost or is being rebuilt): look on disk.
    std::error_code ec;
    if (!name.empty() && fs::is_directory(layout_.info_dir(name, id), ec)) {
      test_name = id;
    } else {
      for (const auto& d : fs::directory_iterator(layout_.info_root(), ec))
        if (fs::is_directory(d.path() / id, ec)) {
          name = d.path().filename().string();
          test_name = id;
          break;
        }
    }
  }
  if (test_name.empty())
    throw NotFoundError("no run '" + id_in + "' in the store " + layout_.home() +
                        " (list runs with `codedag ls`; another store is chosen with CODEDAG_HOME)");
  return RunRef{name, test_name, layout_.info_dir(name, test_name)};
}

void Store::reindex(const json& run) {
  try {
    const std::string dir = layout_.info_dir(run.value("name", std::string()), run.value("test_name", std::string()));
    index().upsert(run, mtime_ns(dir + "/" + kRunFile));
  } catch (const std::exception& e) {
    // The file is already written; the index can be rebuilt from it.
    std::fprintf(stderr, "! codedag: run index not updated (%s); `codedag index rebuild` repairs it\n", e.what());
  }
}

json Store::update(const RunRef& run, const std::function<void(json&)>& change) {
  json record = update_run(run.info_dir, change);
  reindex(record);
  return record;
}

json Store::check_liveness(const RunRef& run, json record, std::vector<std::string>* warnings) {
  if (record.value("status", std::string()) != "running") return record;
  const Heartbeat hb = read_heartbeat(run.info_dir);
  const double now = unix_now();
  ProcessIdentity who = hb.beat_at > 0 ? hb.process : ProcessIdentity::from_json(record.value("process", json()));
  if (who.host.empty()) who.host = record.value("host", std::string());
  const double lease_until =
      hb.beat_at > 0 ? hb.lease_until : record.value("started_at", 0.0) + default_lease_seconds();
  if (now < lease_until) return record;
  const Liveness l = liveness(who);
  if (l == Liveness::alive) return record;
  // Another host: only the lease tells; give it three leases of grace before calling it dead.
  if (l == Liveness::unknown && now < lease_until + 2 * default_lease_seconds()) return record;
  std::vector<std::string> local;
  const MetricSeries series = read_metric_series(run.info_dir + "/" + kMetricsFile, warnings ? *warnings : local);
  try {
    return update(run, [&](json& r) {
      if (r.value("status", std::string()) != "running") return;  // ended meanwhile
      r["status"] = "dead";
      r["ended_at"] = hb.beat_at > 0 ? hb.beat_at : r.value("started_at", 0.0);
      r["duration"] = r["ended_at"].get<double>() - r.value("started_at", 0.0);
      r["last"] = series.last;
      r["dead"] =
          json{{"detected_at", now}, {"last_heartbeat", hb.beat_at}, {"reason", "lease expired and process gone"}};
    });
  } catch (const std::exception& e) {
    if (warnings) warnings->push_back(run.info_dir + ": cannot mark dead: " + e.what());
    return record;
  }
}

std::set<std::string> Store::sync(std::vector<std::string>* warnings) {
  std::set<std::string> bad;
  auto stamps = index().stamps();
  std::vector<std::pair<std::string, json>> changed;  // (test_name, record)
  std::set<std::string> seen;
  // readdir + fstatat relative to each name's directory: the kernel resolves two path components per
  // run instead of the whole path, which was most of the cost of listing 10k runs.
  const std::string root = layout_.info_root();
  DIR* root_dir = ::opendir(root.c_str());
  while (dirent* name_entry = root_dir ? ::readdir(root_dir) : nullptr) {
    const std::string name = name_entry->d_name;
    if (name == "." || name == "..") continue;
    const int name_fd = ::openat(::dirfd(root_dir), name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (name_fd < 0) continue;  // not a directory
    DIR* name_dir = ::fdopendir(name_fd);
    if (!name_dir) {
      ::close(name_fd);
      continue;
    }
    while (dirent* run_entry = ::readdir(name_dir)) {
      const std::string test_name = run_entry->d_name;
      if (!looks_like_test_name(test_name)) continue;
      seen.insert(test_name);
      struct stat st {};
      const long long mtime = ::fstatat(name_fd, (test_name + "/" + kRunFile).c_str(), &st, 0) != 0
                                  ? -1
                                  : static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
      const auto it = stamps.find(test_name);
      const std::string run_dir = root + "/" + name + "/" + test_name;
      if (mtime < 0) {
        // A directory just claimed by a starting run has its row but no run.json yet.
        if (it == stamps.end() && warnings) warnings->push_back(run_dir + "/" + kRunFile + ": missing, run skipped");
        continue;
      }
      if (it != stamps.end() && it->second.second == mtime) continue;
      try {
        json r = load_run(run_dir);
        if (r.value("test_name", std::string()) != test_name || r.value("name", std::string()) != name)
          throw FormatError(run_dir + "/" + kRunFile + ": \"name\"/\"test_name\" do not match its directory " + name +
                            "/" + test_name);
        r["__file_mtime"] = mtime;
        changed.emplace_back(test_name, std::move(r));
      } catch (const std::exception& e) {
        bad.insert(test_name);
        if (warnings) warnings->push_back(std::string(e.what()) + " (run skipped)");
      }
    }
    ::closedir(name_dir);  // closes name_fd too
  }
  if (root_dir) ::closedir(root_dir);
  std::vector<std::string> gone;
  for (const auto& [test_name, stamp] : stamps)
    if (!seen.count(test_name)) gone.push_back(test_name);
  if (changed.empty() && gone.empty()) return bad;
  index().begin();
  try {
    for (auto& [test_name, r] : changed) {
      const long long m = r["__file_mtime"].get<long long>();
      r.erase("__file_mtime");
      index().upsert(r, m);
    }
    for (const auto& t : gone) index().remove(t);
    index().commit();
  } catch (...) {
    index().rollback();
    throw;
  }
  return bad;
}

json listing_fields(const IndexRow& row) {
  if (!row.has_metric_values) {
    json s = json::parse(row.summary, nullptr, false);
    return s.is_object() ? s : json(json::value_t::discarded);
  }
  json r = json::object();
  r["test_name"] = row.test_name;
  r["name"] = row.name;
  r["status"] = row.status;
  r["started_at"] = row.started_at;
  r["ended_at"] = row.ended_at;
  r["deleted"] = row.deleted;
  r["host"] = row.host;
  if (row.has_duration) r["duration"] = row.duration;
  if (row.tags != "[]") {
    json tags = json::parse(row.tags, nullptr, false);
    if (tags.is_discarded()) return tags;
    r["tags"] = std::move(tags);
  }
  json best = json::object(), last = json::object();
  decode_metric_values(row.metric_values, best, last);
  r["metrics"] = std::move(best);
  r["last"] = std::move(last);
  return r;
}

std::string run_json_text(const IndexRow& row, const std::string& info_dir) {
  std::string out;
  const std::string dir = json(info_dir).dump(-1, ' ', false, json::error_handler_t::replace);
  const size_t close = row.summary.rfind('}');
  if (close == std::string::npos) return "{\"info_dir\":" + dir + "}";
  out.reserve(row.summary.size() + dir.size() + 16);
  out.append(row.summary, 0, close);
  // "{}" has nothing before the closing brace to separate from.
  if (row.summary.find_first_not_of(" \t\n\r", row.summary.find('{') + 1) != close) out += ',';
  out += "\"info_dir\":";
  out += dir;
  out += '}';
  return out;
}

std::vector<IndexRow> Store::list_rows(const RunFilter& filter, std::vector<std::string>* warnings, bool sync_files) {
  const std::set<std::string> bad = sync_files ? sync(warnings) : std::set<std::string>{};
  // Runs still "running" first get a liveness check (cheap: only they are looked at).
  if (filter.index.status.empty() || filter.index.status == "running" || filter.index.status == "dead") {
    IndexQuery q = filter.index;
    q.status = "running";
    for (const IndexRow& row : index().list(q)) {
      RunRef ref{row.name, row.test_name, layout_.info_dir(row.name, row.test_name)};
      try {
        check_liveness(ref, load_run(ref.info_dir), warnings);
      } catch (const std::exception& e) {
        if (warnings) warnings->push_back(e.what());
      }
    }
  }
  std::vector<IndexRow> rows = index().list(filter.index);
  std::vector<IndexRow> out;
  out.reserve(rows.size());
  const bool filtered = !filter.params.empty() || !filter.metrics.empty() || !filter.tags.empty();
  for (IndexRow& row : rows) {
    if (bad.count(row.test_name)) continue;
    // A summary must at least look like an object; it is parsed in full only when a filter reads it
    // (filters reach any field, e.g. metric extras, which the listing columns do not keep).
    const size_t first = row.summary.find_first_not_of(" \t\n\r");
    const size_t last = row.summary.find_last_not_of(" \t\n\r");
    bool damaged = first == std::string::npos || row.summary[first] != '{' || row.summary[last] != '}';
    if (!damaged && filtered) {
      const json s = json::parse(row.summary, nullptr, false);
      damaged = s.is_discarded() || !s.is_object();
      if (!damaged) {
        bool keep = true;
        const json info = s.value("info", json::object());
        json metrics = s.value("last", json::object());
        const json best = s.value("metrics", json::object());    // named: items() of a temporary dangles
        for (const auto& [k, v] : best.items()) metrics[k] = v;  // best wins over last
        for (const auto& c : filter.params) keep = keep && matches_condition(info, c, false);
        for (const auto& c : filter.metrics) keep = keep && matches_condition(metrics, c, true);
        for (const auto& t : filter.tags) {
          bool has = false;
          for (const auto& tag : s.value("tags", json::array())) has = has || tag == t;
          keep = keep && has;
        }
        if (!keep) continue;
      }
    }
    if (damaged) {
      if (warnings) warnings->push_back(layout_.index_path() + ": row " + row.test_name + " is damaged, skipped");
      continue;
    }
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<json> Store::list(const RunFilter& filter, std::vector<std::string>* warnings, bool sync_files) {
  std::vector<json> out;
  for (const IndexRow& row : list_rows(filter, warnings, sync_files)) {
    json s = json::parse(row.summary, nullptr, false);
    if (s.is_discarded() || !s.is_object()) {
      if (warnings) warnings->push_back(layout_.index_path() + ": row " + row.test_name + " is damaged, skipped");
      continue;
    }
    s["info_dir"] = layout_.info_dir(row.name, row.test_name);
    out.push_back(std::move(s));
  }
  return out;
}

size_t Store::rebuild(std::vector<std::string>& warnings) {
  std::vector<json> runs;
  std::error_code ec;
  for (const auto& name_dir : fs::directory_iterator(layout_.info_root(), ec)) {
    if (!name_dir.is_directory(ec)) continue;
    for (const auto& run_dir : fs::directory_iterator(name_dir.path(), ec)) {
      if (!run_dir.is_directory(ec)) continue;
      try {
        json r = load_run(run_dir.path().string());
        if (!r.contains("test_name") || !r["test_name"].is_string() || !r.contains("name"))
          throw FormatError(run_dir.path().string() + "/run.json: missing \"test_name\" or \"name\"");
        r["__file_mtime"] = mtime_ns(run_dir.path().string() + "/" + kRunFile);
        runs.push_back(std::move(r));
      } catch (const std::exception& e) {
        warnings.push_back(std::string(e.what()) + " (skipped)");
      }
    }
  }
  index().replace_all(runs);
  return runs.size();
}

std::vector<std::string> Store::collect_garbage() {
  IndexQuery q;
  q.only_deleted = true;
  std::vector<std::string> erased;
  for (const IndexRow& row : index().list(q)) {
    const RunRef ref{row.name, row.test_name, layout_.info_dir(row.name, row.test_name)};
    json record;
    try {
      record = load_run(ref.info_dir);
    } catch (const std::exception&) {
    }
    if (record.is_object() && !record.value("deleted", false)) continue;  // restored meanwhile
    // The hidden git ref goes too, so the snapshot can be garbage-collected by git.
    if (record.is_object() && record.contains("git") && record["git"].value("present", false)) {
      try {
        run_process({"git", "-C", record["git"].value("toplevel", std::string(".")), "update-ref", "-d",
                     record["git"].value("ref", std::string())});
      } catch (const std::exception&) {
      }
    }
    std::error_code ec;
    fs::remove_all(layout_.blob_dir(row.name, row.test_name), ec);
    fs::remove_all(layout_.cache_dir(row.name, row.test_name), ec);
    fs::remove_all(ref.info_dir, ec);
    index().remove(row.test_name);
    erased.push_back(row.test_name);
  }
  return erased;
}

}  // namespace codedag::store
