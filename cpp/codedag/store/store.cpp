#include "codedag/store/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/listing_columns.hpp"
#include "codedag/store/metric_log.hpp"
#include "codedag/store/run_dir_scan.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/safe_fs.hpp"

namespace codedag::store {

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

std::string as_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Characters a test_name (or a prefix of one) can hold: anything else (*, ?, %, /, spaces) is not
// an id, and must not reach a prefix match that would select every run.
bool is_id_text(const std::string& s) {
  if (s.empty() || s.size() > 40 || !(s[0] >= '0' && s[0] <= '9')) return false;  // test_names start with the day
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '.')) return false;
  return true;
}

std::string stamp_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

}  // namespace

ParsedCondition parse_condition(const std::string& condition) {
  static const char* const ops[] = {">=", "<=", "!=", "==", "=", ">", "<"};
  for (const char* op : ops) {
    const size_t at = condition.find(op);
    if (at == std::string::npos || at == 0) continue;
    ParsedCondition c{condition.substr(0, at), op == std::string("==") ? "=" : op,
                      condition.substr(at + std::string(op).size()), std::nullopt};
    if (c.op == "=" || c.op == "!=") return c;
    // An ordering compares numbers: "lr>>3" or "acc>high" is a typo, refused before any run is read.
    char* end = nullptr;
    const double w = std::strtod(c.value.c_str(), &end);
    if (c.value.empty() || end == c.value.c_str() || *end != '\0')
      throw InputError("filter '" + term::printable(condition) + "': '" + term::printable(c.value) +
                       "' is not a number (write " + term::printable(c.key + c.op) + "NUMBER, or " +
                       term::printable(c.key + "=" + c.value) + " to compare text)");
    c.number = w;
    return c;
  }
  throw InputError("filter '" + term::printable(condition) +
                   "' has no comparison: write key=value, key!=value, key>number, key<=number ...");
}

bool matches_condition(const json& object, const std::string& condition, bool metric) {
  const ParsedCondition c = parse_condition(condition);
  const json* found = lookup(object, c.key);
  if (found && metric && found->is_object() && found->contains("value")) found = &(*found)["value"];
  if (!found || found->is_null()) return false;
  if (c.op == "=") return as_text(*found) == c.value;
  if (c.op == "!=") return as_text(*found) != c.value;
  if (!found->is_number()) return false;
  const double v = found->get<double>(), w = *c.number;
  if (c.op == ">") return v > w;
  if (c.op == "<") return v < w;
  if (c.op == ">=") return v >= w;
  return v <= w;
}

Store::Store(std::string home) : layout_(std::move(home)) {}

void Store::notice(const std::string& message) {
  if (notice_handler_)
    notice_handler_(message);
  else
    notices_.push_back(message);
}

std::vector<std::string> Store::take_notices() {
  std::vector<std::string> out;
  out.swap(notices_);
  return out;
}

// ---- the index: opened lazily, healed when damaged, replaced when unusable ----

void Store::open_index() {
  const IndexPlacement placement = place_index(layout_);
  try {
    index_ = open_shared_index(placement);
  } catch (const IndexDamaged& e) {
    heal(e);
    return;
  } catch (const IndexUnavailable& e) {
    fall_back(e);
    return;
  }
  if (!placement.why.empty() && index_->fresh()) notice("run index kept at " + placement.path + ": " + placement.why);
  if (const int from = index_->take_migrated_from(); from > 0)
    notice("run index " + placement.path + " upgraded from schema " + std::to_string(from) + " to " +
           std::to_string(kIndexSchemaVersion) + " (rebuilt from its own rows; the run files were not touched)");
}

RunIndex& Store::index() {
  if (index_ && index_->owner_pid() != ::getpid()) index_.reset();  // forked: open our own connection
  if (!index_) open_index();
  return *index_;
}

// Moves the damaged file (and its WAL and shared-memory files) aside, opens a new index and fills it
// from the run files. A file another Store of this process already replaced is not moved again.
void Store::heal(const IndexDamaged& damage) {
  const std::string path = index_ ? index_->path() : place_index(layout_).path;
  const IndexPlacement placement = index_ ? index_->placement() : place_index(layout_);
  index_.reset();
  forget_shared_index(path);
  const std::string aside = path + ".damaged-" + stamp_now();
  if (::rename(path.c_str(), aside.c_str()) != 0) {
    fall_back(IndexUnavailable(std::string(damage.what()) + "; it cannot be moved aside"));
    return;
  }
  for (const char* suffix : {"-wal", "-shm", "-journal"}) ::rename((path + suffix).c_str(), (aside + suffix).c_str());
  try {
    index_ = open_shared_index(placement);
  } catch (const Error& e) {
    fall_back(IndexUnavailable(e.what()));
    return;
  }
  std::vector<std::string> skipped;
  const size_t n = rebuild(skipped);
  notice(std::string(damage.what()) + ": moved it aside to " + aside + " and rebuilt it from " + std::to_string(n) +
         " run file" + (n == 1 ? "" : "s"));
}

// The index cannot be opened or written where it is: the user cache, and failing that memory. The
// run files stay the truth; listing re-reads them into the new index.
void Store::fall_back(const IndexUnavailable& failure) {
  const std::string failed = index_ ? index_->path() : "";
  index_.reset();
  IndexPlacement cache;
  cache.path = cached_index_path(layout_, user_cache_dir());
  cache.why = std::string(failure.what()) + "; using the user cache instead";
  if (failed != cache.path) {
    try {
      index_ = open_shared_index(cache);
      notice(std::string(failure.what()) + "; using " + cache.path + " instead (the run files are unchanged)");
      return;
    } catch (const Error&) {
    }
  }
  IndexPlacement memory;
  memory.path = ":memory:";
  memory.why = std::string(failure.what()) + "; keeping the index in memory";
  index_ = open_shared_index(memory);
  notice(std::string(failure.what()) + "; listing from the run files without a saved index");
}

// ---- finding runs ----

std::optional<RunRef> Store::find_on_disk(const std::string& name, const std::string& id,
                                          std::vector<std::string>* prefix_matches) {
  std::optional<RunRef> exact;
  for_each_run_dir(layout_, [&](const FoundRun& r) {
    if (!name.empty() && r.id.name != name) return;
    if (r.id.test_name == id)
      exact = RunRef{r.id.name, r.id.test_name, layout_.info_dir(r.id.name, r.id.test_name)};
    else if (prefix_matches && r.id.test_name.rfind(id, 0) == 0)
      prefix_matches->push_back(r.id.name + "/" + r.id.test_name);
  });
  return exact;
}

RunRef Store::resolve(const std::string& id_in, bool use_index) {
  const std::string shown = term::printable(id_in);
  if (id_in.empty()) throw InputError("empty run id: give a test_name such as 230306.012.d5t (see `codedag ls`)");
  std::string name, id = id_in;
  if (const size_t slash = id.find('/'); slash != std::string::npos) {
    name = id.substr(0, slash);
    id = id.substr(slash + 1);
    try {
      validate_experiment_name(name);
    } catch (const InputError& e) {
      throw InputError("'" + shown + "' is not a run id: " + e.what());
    }
  }
  if (!is_id_text(id))
    throw InputError("'" + shown +
                     "' is not a run id: give a test_name (230306.012.d5t), name/test_name or the start of a "
                     "test_name (digits, lowercase letters and dots; no wildcards)");
  const auto not_found = [&](const std::string& hint) {
    return NotFoundError("no run '" + shown + "' in the store " + layout_.home() + hint +
                         " (list runs with `codedag ls`; another store is chosen with CODEDAG_HOME)");
  };
  std::vector<std::string> matches;
  if (use_index) {
    const auto exact = with_index([&](RunIndex& ix) { return ix.find(id); });
    if (exact) {
      if (!name.empty() && exact->name != name)
        throw not_found(": " + id + " is a run of '" + exact->name + "', not of '" + name + "'");
      return RunRef{exact->name, exact->test_name, layout_.info_dir(exact->name, exact->test_name)};
    }
    for (const auto& t : with_index([&](RunIndex& ix) { return ix.match_prefix(id); }))
      if (const auto row = with_index([&](RunIndex& ix) { return ix.find(t); });
          row && (name.empty() || row->name == name))
        matches.push_back(row->name + "/" + row->test_name);
  }
  if (matches.empty()) {
    // Not indexed (copied in, restored, being started, or an index kept elsewhere): look on disk.
    if (auto found = find_on_disk(name, id, &matches)) return *found;
  }
  if (matches.size() > 1) {
    std::string list;
    for (size_t i = 0; i < matches.size() && i < 20; ++i) list += " " + matches[i];
    throw InputError("run id '" + shown + "' is ambiguous; it matches:" + list);
  }
  if (matches.size() == 1) {
    const size_t slash = matches[0].find('/');
    const std::string n = matches[0].substr(0, slash), t = matches[0].substr(slash + 1);
    return RunRef{n, t, layout_.info_dir(n, t)};
  }
  if (!name.empty())
    if (const auto other = find_on_disk("", id, nullptr))
      throw not_found(": " + id + " is a run of '" + other->name + "', not of '" + name + "'");
  throw not_found("");
}

void Store::reindex(const json& run) {
  try {
    struct stat st {};
    const std::string file =
        layout_.info_dir(run.value("name", std::string()), run.value("test_name", std::string())) + "/" + kRunFile;
    const long long mtime = ::stat(file.c_str(), &st) == 0 ? mtime_ns(st) : 0;
    with_index([&](RunIndex& ix) {
      ix.upsert(run, mtime);
      return 0;
    });
  } catch (const std::exception& e) {
    // The file is already written; the next listing re-reads it.
    notice(std::string("run index not updated (") + e.what() + "); the next `codedag ls` re-reads the run file");
  }
}

json Store::update(const RunRef& run, const std::function<void(json&)>& change) {
  json record = update_run(run.info_dir, change);
  reindex(record);
  return record;
}

// ---- liveness ----

Lease Store::lease_of(const RunRef& run, const json& record) const {
  if (record.value("status", std::string()) != "running") return Lease::not_running;
  const Heartbeat hb = read_heartbeat(run.info_dir);
  const double now = unix_now();
  ProcessIdentity who = hb.beat_at > 0 ? hb.process : ProcessIdentity::from_json(record.value("process", json()));
  if (who.host.empty()) who.host = record.value("host", std::string());
  const double started =
      record.contains("started_at") && record["started_at"].is_number() ? record["started_at"].get<double>() : 0.0;
  const double lease_until = hb.beat_at > 0 ? hb.lease_until : started + default_lease_seconds();
  if (now < lease_until) return Lease::alive;
  const Liveness l = liveness(who);
  if (l == Liveness::alive) return Lease::alive;
  // Another host: only the lease tells; give it three leases of grace before calling it dead.
  if (l == Liveness::unknown)
    return now < lease_until + 2 * default_lease_seconds() ? Lease::expired_unknown : Lease::expired_gone;
  return Lease::expired_gone;
}

json Store::check_liveness(const RunRef& run, json record, std::vector<std::string>* warnings) {
  if (lease_of(run, record) != Lease::expired_gone) return record;
  const Heartbeat hb = read_heartbeat(run.info_dir);
  const double now = unix_now();
  std::vector<std::string> local;
  const MetricSeries series = read_metric_series(run.info_dir + "/" + kMetricsFile, warnings ? *warnings : local);
  try {
    return update(run, [&](json& r) {
      if (r.value("status", std::string()) != "running") return;  // ended meanwhile
      const double started =
          r.contains("started_at") && r["started_at"].is_number() ? r["started_at"].get<double>() : 0.0;
      r["status"] = "dead";
      r["ended_at"] = hb.beat_at > 0 ? hb.beat_at : started;
      r["duration"] = r["ended_at"].get<double>() - started;
      r["last"] = series.last;
      r["dead"] =
          json{{"detected_at", now}, {"last_heartbeat", hb.beat_at}, {"reason", "lease expired and process gone"}};
    });
  } catch (const std::exception& e) {
    if (warnings) warnings->push_back(run.info_dir + ": cannot mark dead: " + e.what());
    return record;
  }
}

// ---- the index follows the files ----

// ---- listing ----

json listing_fields(const IndexRow& row) {
  if (!row.has_metric_values) {
    auto s = try_parse_json(row.summary);
    return s && s->is_object() ? std::move(*s) : json(json::value_t::discarded);
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
    auto tags = try_parse_json(row.tags);
    if (!tags) return json(json::value_t::discarded);
    r["tags"] = std::move(*tags);
  }
  json best = json::object(), last = json::object();
  decode_metric_values(row.metric_values, best, last);
  r["metrics"] = std::move(best);
  r["last"] = std::move(last);
  return r;
}

std::string run_json_text(const IndexRow& row, const std::string& info_dir) {
  std::string out;
  const std::string dir = dump_json(json(info_dir));
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

namespace {

// A summary spliced into `ls --json` and Watcher.load() text without parsing: it must at least be
// one well-nested object of UTF-8 text (a damaged row is skipped, never passed on). Linear, no
// allocation: the cost of listing 10k runs stays in reading them.
bool plausible_object(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t\n\r");
  const size_t last = s.find_last_not_of(" \t\n\r");
  if (first == std::string::npos || s[first] != '{' || s[last] != '}') return false;
  int depth = 0;
  bool in_string = false;
  for (size_t i = first; i <= last; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      } else if (c < 0x20) {
        return false;
      } else if (c >= 0x80) {
        size_t n = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 9;
        if (n == 9 || i + n > last) return false;
        for (size_t k = 1; k <= n; ++k)
          if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += n;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > 300) return false;
    } else if (c == '}' || c == ']') {
      if (--depth < 0 || (depth == 0 && i != last)) return false;
    } else if (c >= 0x80) {
      return false;
    }
  }
  return depth == 0 && !in_string;
}

}  // namespace

std::vector<IndexRow> Store::list_rows(const RunFilter& filter, std::vector<std::string>* warnings, bool sync_files,
                                       bool check_summaries) {
  // Bad filters are refused even when no run would be read: an empty answer must mean "no match".
  if (!filter.index.status.empty() && !is_known_status(filter.index.status))
    throw InputError("unknown status '" + term::printable(filter.index.status) +
                     "': use running, finished, failed, killed, interrupted, dead, queued or pending");
  for (const auto& c : filter.params) parse_condition(c);
  for (const auto& c : filter.metrics) parse_condition(c);
  const std::set<std::string> bad = sync_files ? sync(warnings) : std::set<std::string>{};
  // Runs still "running" first get a liveness check (cheap: only they are looked at).
  if (filter.index.status.empty() || filter.index.status == "running" || filter.index.status == "dead") {
    IndexQuery q = filter.index;
    q.status = "running";
    for (const IndexRow& row : with_index([&](RunIndex& ix) { return ix.list(q); })) {
      RunRef ref{row.name, row.test_name, layout_.info_dir(row.name, row.test_name)};
      try {
        const RunId expected = ref.id();
        check_liveness(ref, load_run(ref.info_dir, &expected), warnings);
      } catch (const std::exception& e) {
        if (warnings) warnings->push_back(e.what());
      }
    }
  }
  std::vector<IndexRow> rows = with_index([&](RunIndex& ix) { return ix.list(filter.index); });
  std::vector<IndexRow> out;
  out.reserve(rows.size());
  const bool filtered = !filter.params.empty() || !filter.metrics.empty() || !filter.tags.empty();
  for (IndexRow& row : rows) {
    if (bad.count(row.test_name)) continue;
    // A summary must be a sound object; it is parsed in full only when a filter reads it (filters
    // reach any field, e.g. metric extras, which the listing columns do not keep).
    bool damaged = !looks_like_test_name(row.test_name) || (check_summaries && !plausible_object(row.summary));
    if (!damaged && filtered) {
      const auto s = try_parse_json(row.summary);
      damaged = !s || !s->is_object();
      if (!damaged) {
        bool keep = true;
        const json info = s->value("info", json::object());
        json metrics = s->value("last", json::object());
        const json best = s->value("metrics", json::object());  // named: items() of a temporary dangles
        if (metrics.is_object() && best.is_object())
          for (const auto& [k, v] : best.items()) metrics[k] = v;  // best wins over last
        for (const auto& c : filter.params) keep = keep && matches_condition(info, c, false);
        for (const auto& c : filter.metrics) keep = keep && matches_condition(metrics, c, true);
        const json tags = s->value("tags", json::array());
        for (const auto& t : filter.tags) {
          bool has = false;
          if (tags.is_array())
            for (const auto& tag : tags) has = has || tag == t;
          keep = keep && has;
        }
        if (!keep) continue;
      }
    }
    if (damaged) {
      if (warnings)
        warnings->push_back(index().path() + ": row " + term::printable(row.test_name) + " is damaged, skipped");
      continue;
    }
    out.push_back(std::move(row));
  }
  if (warnings)
    for (auto& n : take_notices()) warnings->push_back(std::move(n));
  return out;
}

std::vector<json> Store::list(const RunFilter& filter, std::vector<std::string>* warnings, bool sync_files) {
  std::vector<json> out;
  for (const IndexRow& row : list_rows(filter, warnings, sync_files)) {
    auto s = try_parse_json(row.summary);
    if (!s || !s->is_object()) {
      if (warnings) warnings->push_back(index().path() + ": row " + row.test_name + " is damaged, skipped");
      continue;
    }
    (*s)["info_dir"] = layout_.info_dir(row.name, row.test_name);
    out.push_back(std::move(*s));
  }
  return out;
}

}  // namespace codedag::store
