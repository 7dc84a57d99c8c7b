#include "codedag/monitor/result_model.hpp"

#include <chrono>
#include <cmath>
#include <ctime>

#include "codedag/common/error.hpp"
#include "codedag/monitor/statistics.hpp"

namespace codedag::monitor {

namespace {

// JSON has no NaN or infinity; a non-finite reading is written as null.
ordered_json number(double v) { return std::isfinite(v) ? ordered_json(v) : ordered_json(nullptr); }

ordered_json series_json(const Series& s) {
  ordered_json out = ordered_json::array();
  for (const Point& p : s) out.push_back({number(p[0]), number(p[1])});
  return out;
}

ordered_json series_map_json(const std::map<std::string, Series>& m) {
  ordered_json out = ordered_json::object();
  for (const auto& [key, s] : m) out[key] = series_json(s);
  return out;
}

ordered_json metric_json(const std::vector<MetricPoint>& points) {
  ordered_json out = ordered_json::array();
  for (const MetricPoint& p : points) out.push_back({p.epoch, p.batch, number(p.value)});
  return out;
}

std::vector<double> values_of(const Series& s) {
  std::vector<double> v;
  v.reserve(s.size());
  for (const Point& p : s)
    if (std::isfinite(p[1])) v.push_back(p[1]);
  return v;
}

std::vector<double> values_of(const std::vector<MetricPoint>& s) {
  std::vector<double> v;
  v.reserve(s.size());
  for (const MetricPoint& p : s)
    if (std::isfinite(p.value)) v.push_back(p.value);
  return v;
}

ordered_json mean_max(const Series& s) {
  const auto st = describe(values_of(s));
  if (!st) return nullptr;
  return ordered_json{{"mean", st->mean}, {"max", st->max}};
}

[[noreturn]] void bad(const std::string& where, const std::string& what) { throw FormatError(where + ": " + what); }

double get_number(const json& v, const std::string& where) {
  if (v.is_null()) return std::nan("");
  if (!v.is_number()) bad(where, std::string("expected a number, found ") + json_type_name(v));
  return v.get<double>();
}

long long get_integer(const json& v, const std::string& where) {
  if (v.is_number_integer()) return v.get<long long>();
  if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>())
    return static_cast<long long>(v.get<double>());
  bad(where, std::string("expected an integer, found ") + (v.is_number() ? v.dump() : json_type_name(v)));
}

const json& array_at(const json& parent, const char* key, const std::string& where) {
  static const json empty = json::array();
  if (!parent.contains(key)) return empty;
  const json& v = parent.at(key);
  if (!v.is_array()) bad(where + "." + key, std::string("expected an array, found ") + json_type_name(v));
  return v;
}

Series parse_series(const json& arr, const std::string& where) {
  Series s;
  s.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    const json& p = arr[i];
    if (!p.is_array() || p.size() != 2) bad(at, "expected a pair [time, value], found " + p.dump().substr(0, 60));
    s.push_back({get_number(p[0], at + "[0]"), get_number(p[1], at + "[1]")});
  }
  return s;
}

std::map<std::string, Series> parse_series_map(const json& parent, const char* key, const std::string& where) {
  std::map<std::string, Series> out;
  if (!parent.contains(key)) return out;
  const json& v = parent.at(key);
  const std::string at = where + "." + key;
  if (!v.is_object()) bad(at, std::string("expected an object {gpu index: series}, found ") + json_type_name(v));
  for (const auto& [gpu, arr] : v.items()) {
    if (!arr.is_array()) bad(at + "." + gpu, std::string("expected an array, found ") + json_type_name(arr));
    out[gpu] = parse_series(arr, at + "." + gpu);
  }
  return out;
}

std::vector<MetricPoint> parse_metric(const json& arr, const std::string& where) {
  std::vector<MetricPoint> out;
  out.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    const json& p = arr[i];
    if (!p.is_array() || p.size() != 3) bad(at, "expected [epoch, batch, value], found " + p.dump().substr(0, 60));
    out.push_back({get_integer(p[0], at + "[0]"), get_integer(p[1], at + "[1]"), get_number(p[2], at + "[2]")});
  }
  return out;
}

double optional_number(const json& doc, const char* key, const std::string& where, double fallback = 0) {
  if (!doc.contains(key) || doc.at(key).is_null()) return fallback;
  return get_number(doc.at(key), where + "." + key);
}

}  // namespace

ordered_json ModeResult::summary() const {
  ordered_json s;
  s["total_time"] = number(total_time);

  std::vector<double> times;
  times.reserve(batch_times.size());
  for (const auto& bt : batch_times)
    if (std::isfinite(bt.second)) times.push_back(bt.second);
  const auto bt = describe(times);
  s["batch_time"] = bt ? ordered_json{{"mean", bt->mean}, {"std", bt->std},     {"min", bt->min},
                                      {"max", bt->max},   {"count", bt->count}, {"median", bt->median}}
                       : ordered_json{{"mean", nullptr}, {"std", nullptr}, {"min", nullptr},
                                      {"max", nullptr},  {"count", 0},     {"median", nullptr}};

  const std::vector<double> loss = values_of(losses);
  const auto ls = describe(loss);
  s["loss"] = ls ? ordered_json{{"initial", loss.front()}, {"final", loss.back()}, {"min", ls->min}, {"max", ls->max}}
                 : ordered_json{{"initial", nullptr}, {"final", nullptr}, {"min", nullptr}, {"max", nullptr}};

  const std::vector<double> acc = values_of(accuracies);
  const auto as = describe(acc);
  s["accuracy"] = as ? ordered_json{{"initial", acc.front()}, {"final", acc.back()}, {"best", as->max}}
                     : ordered_json{{"initial", nullptr}, {"final", nullptr}, {"best", nullptr}};

  // Beyond the seed: throughput and resource means/peaks, so comparisons need no re-reading.
  double busy = 0;
  for (double t : times) busy += t;
  s["batches"] = times.size();
  s["batches_per_second"] =
      total_time > 0 && !times.empty() ? number(static_cast<double>(times.size()) / total_time) : ordered_json(nullptr);
  ordered_json res;
  res["cpu_usage"] = mean_max(resources.cpu_usage);
  res["memory_usage"] = mean_max(resources.memory_usage);
  res["process_cpu_usage"] = mean_max(resources.process_cpu_usage);
  res["process_memory"] = mean_max(resources.process_memory);
  ordered_json gu = ordered_json::object(), gm = ordered_json::object();
  for (const auto& [gpu, series] : resources.gpu_usage) gu[gpu] = mean_max(series);
  for (const auto& [gpu, series] : resources.gpu_memory) gm[gpu] = mean_max(series);
  res["gpu_usage"] = gu;
  res["gpu_memory"] = gm;
  double throttled = 0;
  for (const Point& p : resources.cpu_throttled)
    if (std::isfinite(p[1])) throttled += p[1];
  res["cpu_throttled_ms"] = throttled;
  res["samples"] = resources.cpu_usage.size();
  s["resources"] = res;
  return s;
}

ordered_json ModeResult::to_json() const {
  ordered_json out;
  out["config"] = config.is_null() ? ordered_json::object() : ordered_json(config);
  ordered_json bt = ordered_json::array();
  for (const auto& [index, seconds] : batch_times) bt.push_back({index, number(seconds)});
  out["batch_times"] = bt;
  ordered_json ru;
  ru["cpu_usage"] = series_json(resources.cpu_usage);
  ru["memory_usage"] = series_json(resources.memory_usage);
  ru["gpu_usage"] = series_map_json(resources.gpu_usage);
  ru["gpu_memory"] = series_map_json(resources.gpu_memory);
  ru["process_cpu_usage"] = series_json(resources.process_cpu_usage);
  ru["process_memory"] = series_json(resources.process_memory);
  ru["system_cpu_usage"] = series_json(resources.system_cpu_usage);
  ru["cpu_throttled"] = series_json(resources.cpu_throttled);
  out["resource_usage"] = ru;
  out["metrics"] = {{"losses", metric_json(losses)}, {"accuracies", metric_json(accuracies)}};
  out["summary"] = summary();
  out["start_time"] = number(start_time);
  out["end_time"] = end_time > 0 ? number(end_time) : ordered_json(nullptr);
  out["resource_interval"] = number(resource_interval);
  out["resource_info"] = ordered_json(resource_info);
  for (const auto& [key, value] : extra.items())
    if (!out.contains(key)) out[key] = ordered_json(value);
  return out;
}

ModeResult ModeResult::from_json(const json& doc, const std::string& name, const std::string& where) {
  if (!doc.is_object()) bad(where, std::string("expected an object, found ") + json_type_name(doc));
  ModeResult m;
  m.name = name;
  if (doc.contains("config")) m.config = doc.at("config");
  const json& bt = array_at(doc, "batch_times", where);
  for (size_t i = 0; i < bt.size(); ++i) {
    const std::string at = where + ".batch_times[" + std::to_string(i) + "]";
    if (!bt[i].is_array() || bt[i].size() != 2)
      bad(at, "expected [batch index, seconds], found " + bt[i].dump().substr(0, 60));
    const double seconds = get_number(bt[i][1], at + "[1]");
    if (seconds < 0) bad(at + "[1]", "a batch time cannot be negative (" + std::to_string(seconds) + ")");
    m.batch_times.emplace_back(get_integer(bt[i][0], at + "[0]"), seconds);
  }
  if (doc.contains("resource_usage")) {
    const json& ru = doc.at("resource_usage");
    const std::string at = where + ".resource_usage";
    if (!ru.is_object()) bad(at, std::string("expected an object, found ") + json_type_name(ru));
    m.resources.cpu_usage = parse_series(array_at(ru, "cpu_usage", at), at + ".cpu_usage");
    m.resources.memory_usage = parse_series(array_at(ru, "memory_usage", at), at + ".memory_usage");
    m.resources.gpu_usage = parse_series_map(ru, "gpu_usage", at);
    m.resources.gpu_memory = parse_series_map(ru, "gpu_memory", at);
    m.resources.process_cpu_usage = parse_series(array_at(ru, "process_cpu_usage", at), at + ".process_cpu_usage");
    m.resources.process_memory = parse_series(array_at(ru, "process_memory", at), at + ".process_memory");
    m.resources.system_cpu_usage = parse_series(array_at(ru, "system_cpu_usage", at), at + ".system_cpu_usage");
    m.resources.cpu_throttled = parse_series(array_at(ru, "cpu_throttled", at), at + ".cpu_throttled");
  }
  if (doc.contains("metrics")) {
    const json& mt = doc.at("metrics");
    const std::string at = where + ".metrics";
    if (!mt.is_object()) bad(at, std::string("expected an object, found ") + json_type_name(mt));
    m.losses = parse_metric(array_at(mt, "losses", at), at + ".losses");
    m.accuracies = parse_metric(array_at(mt, "accuracies", at), at + ".accuracies");
  }
  // total_time lives in the summary (the seed's place for it).
  if (doc.contains("summary") && doc.at("summary").is_object())
    m.total_time = optional_number(doc.at("summary"), "total_time", where + ".summary");
  m.start_time = optional_number(doc, "start_time", where);
  m.end_time = optional_number(doc, "end_time", where);
  m.resource_interval = optional_number(doc, "resource_interval", where);
  if (doc.contains("resource_info") && doc.at("resource_info").is_object()) m.resource_info = doc.at("resource_info");
  static const char* known[] = {"config",     "batch_times", "resource_usage",    "metrics",      "summary",
                                "start_time", "end_time",    "resource_interval", "resource_info"};
  for (const auto& [key, value] : doc.items()) {
    bool is_known = false;
    for (const char* k : known) is_known = is_known || key == k;
    if (!is_known) m.extra[key] = value;
  }
  return m;
}

ModeResult* ExperimentResult::find(const std::string& mode) {
  for (ModeResult& m : modes)
    if (m.name == mode) return &m;
  return nullptr;
}

const ModeResult* ExperimentResult::find(const std::string& mode) const {
  for (const ModeResult& m : modes)
    if (m.name == mode) return &m;
  return nullptr;
}

ModeResult& ExperimentResult::put(ModeResult mode) {
  if (ModeResult* existing = find(mode.name)) {
    *existing = std::move(mode);
    return *existing;
  }
  modes.push_back(std::move(mode));
  return modes.back();
}

ordered_json ExperimentResult::to_json() const {
  ordered_json out;
  out["experiment_name"] = experiment_name;
  // The seed writes an integer timestamp; sub-second precision is kept in the modes' start_time.
  out["timestamp"] = static_cast<long long>(std::floor(timestamp));
  out["datetime"] = datetime;
  ordered_json m = ordered_json::object();
  for (const ModeResult& mode : modes) m[mode.name] = mode.to_json();
  out["modes"] = m;
  out["schema"] = "codedag.monitor_result/1";
  for (const auto& [key, value] : extra.items())
    if (!out.contains(key)) out[key] = ordered_json(value);
  return out;
}

ExperimentResult ExperimentResult::from_json(const json& doc, const std::string& origin) {
  if (!doc.is_object()) bad(origin, std::string("expected a result object, found ") + json_type_name(doc));
  ExperimentResult r;
  if (!doc.contains("modes")) bad(origin, "no \"modes\": not an ExperimentMonitor result file");
  const json& modes = doc.at("modes");
  if (!modes.is_object()) bad(origin + ": modes", std::string("expected an object, found ") + json_type_name(modes));
  if (doc.contains("experiment_name")) {
    if (!doc.at("experiment_name").is_string()) bad(origin + ": experiment_name", "expected a string");
    r.experiment_name = doc.at("experiment_name").get<std::string>();
  }
  r.timestamp = optional_number(doc, "timestamp", origin);
  if (doc.contains("datetime") && doc.at("datetime").is_string()) r.datetime = doc.at("datetime").get<std::string>();
  for (const auto& [name, mode] : modes.items())
    r.modes.push_back(ModeResult::from_json(mode, name, origin + ": modes." + name));
  for (const auto& [key, value] : doc.items())
    if (key != "experiment_name" && key != "timestamp" && key != "datetime" && key != "modes" && key != "schema")
      r.extra[key] = value;
  return r;
}

ExperimentResult ExperimentResult::load(const std::string& path) { return from_json(load_json_file(path), path); }

void ExperimentResult::save(const std::string& path) const { save_json_file(path, to_json(), 2); }

std::string iso_datetime(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

}  // namespace codedag::monitor
