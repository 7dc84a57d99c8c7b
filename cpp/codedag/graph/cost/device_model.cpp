#include "codedag/graph/cost/device_model.hpp"

#include <cmath>
#include <limits>
#include <set>

#include "codedag/common/error.hpp"
#include "codedag/graph/model/dag.hpp"

namespace codedag::graph {
namespace {

[[noreturn]] void bad(const std::string& origin, const std::string& field, const std::string& problem) {
  throw FormatError(origin + ": '" + field + "' " + problem);
}

double read_number(const json& v, const std::string& origin, const std::string& field, bool positive) {
  if (!v.is_number()) bad(origin, field, std::string("must be a number, got ") + json_type_name(v));
  const double x = v.get<double>();
  if (!std::isfinite(x)) bad(origin, field, "must be a finite number");
  if (positive && x <= 0) bad(origin, field, "must be greater than 0, got " + v.dump());
  if (x < 0) bad(origin, field, "must not be negative, got " + v.dump());
  return x;
}

TransferCost read_transfer(const json& v, const std::string& origin, const std::string& field) {
  if (!v.is_object())
    bad(origin, field, std::string("must be an object {\"latency_ns\", \"bytes_per_s\"}, got ") + json_type_name(v));
  for (const auto& [key, value] : v.items())
    if (key != "latency_ns" && key != "bytes_per_s")
      bad(origin, field + "." + key, "is not a field of a transfer; use latency_ns and bytes_per_s");
  TransferCost t;
  t.latency_ns = v.contains("latency_ns") ? read_number(v.at("latency_ns"), origin, field + ".latency_ns", false) : 0.0;
  if (v.contains("bytes_per_s") && !v.at("bytes_per_s").is_null())
    t.bytes_per_s = read_number(v.at("bytes_per_s"), origin, field + ".bytes_per_s", true);
  return t;
}

json transfer_json(const TransferCost& t) {
  return {{"latency_ns", t.latency_ns}, {"bytes_per_s", t.bytes_per_s ? json(*t.bytes_per_s) : json(nullptr)}};
}

}  // namespace

std::vector<std::string> executor_names(int gpu_count) {
  std::vector<std::string> out = {"cpu", "batch:cpu"};
  for (int i = 0; i < gpu_count; ++i) out.push_back("cuda:" + std::to_string(i));
  return out;
}

bool is_executor_name(const std::string& name) {
  if (name == "cpu" || name == "batch:cpu") return true;
  if (name.rfind("cuda:", 0) != 0 || name.size() == 5) return false;
  for (size_t i = 5; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return false;
  return name.size() < 12;
}

double DeviceModel::parallel_workers() const {
  if (workers <= 0) return 1.0;
  const double w = static_cast<double>(workers);
  return cores > 0 ? std::min(w, cores) : w;
}

DeviceModel DeviceModel::defaults(int64_t workers) {
  DeviceModel m;
  m.workers = std::max<int64_t>(1, workers);
  m.train_ns["batch:cpu"] = 0;
  // Workers hand their samples to the main process through shared memory as part of collation:
  // SPEC §2 charges nothing for it.
  m.transfer["cpu->batch:cpu"] = TransferCost{0, std::nullopt};
  return m;
}

const TransferCost& DeviceModel::transfer_for(const std::string& from, const std::string& to) const {
  const auto it = transfer.find(from + "->" + to);
  return it == transfer.end() ? default_transfer : it->second;
}

double DeviceModel::node_time_ns(const Node& node, const std::string& executor) const {
  if (executor == "cpu") return node.cpu_ns;
  if (!node.gpu_eligible) return std::numeric_limits<double>::infinity();
  if (executor == "batch:cpu") return node.batch_ns ? *node.batch_ns : node.cpu_ns / batch_speedup;
  if (node.gpu_ns) return *node.gpu_ns;
  return std::max(node.cpu_ns / gpu_speedup, static_cast<double>(node.calls) * gpu_launch_ns);
}

DeviceModel DeviceModel::from_json(const json& doc, const std::string& origin) {
  if (!doc.is_object())
    throw FormatError(origin + ": a device model must be a JSON object, got " + json_type_name(doc));
  if (!doc.contains("schema"))
    throw FormatError(origin + ": no 'schema' field; expected \"" + std::string(kDeviceModelSchema) + "\"");
  if (doc.at("schema") != kDeviceModelSchema)
    throw FormatError(origin + ": unknown schema " + doc.at("schema").dump() + "; this version reads \"" +
                      kDeviceModelSchema + "\"");
  static const std::set<std::string> known = {"schema",   "workers",  "cores",   "worker_handoff_ns",
                                              "train_ns", "transfer", "estimate"};
  for (const auto& [key, value] : doc.items())
    if (!known.count(key))
      bad(origin, key,
          "is not a field of " + std::string(kDeviceModelSchema) +
              " (expected workers, cores, worker_handoff_ns, train_ns, transfer, estimate)");
  DeviceModel m = defaults(1);
  if (doc.contains("workers")) {
    const json& w = doc.at("workers");
    if (!w.is_number_integer() || w.get<int64_t>() < 0 || w.get<int64_t>() > kMaxWorkers)
      bad(origin, "workers",
          "must be a whole number from 0 (the main process loads the samples) to " + std::to_string(kMaxWorkers) +
              ", got " + w.dump());
    m.workers = w.get<int64_t>();
  }
  if (doc.contains("cores") && !doc.at("cores").is_null()) {
    m.cores = read_number(doc.at("cores"), origin, "cores", false);
    if (m.cores > kMaxWorkers) bad(origin, "cores", "is more CPUs than any machine has: " + doc.at("cores").dump());
  }
  if (doc.contains("worker_handoff_ns"))
    m.worker_handoff_ns = read_number(doc.at("worker_handoff_ns"), origin, "worker_handoff_ns", false);
  if (doc.contains("train_ns")) {
    const json& t = doc.at("train_ns");
    if (!t.is_object())
      bad(origin, "train_ns", std::string("must be an object keyed by executor, got ") + json_type_name(t));
    for (const auto& [key, value] : t.items()) {
      if (!is_executor_name(key) || key == "cpu")
        bad(origin, "train_ns." + key, "is not a main-process executor (batch:cpu or cuda:<n>)");
      m.train_ns[key] = read_number(value, origin, "train_ns." + key, false);
    }
  }
  if (doc.contains("transfer")) {
    const json& t = doc.at("transfer");
    if (!t.is_object())
      bad(origin, "transfer", std::string("must be an object keyed \"<from>-><to>\", got ") + json_type_name(t));
    for (const auto& [key, value] : t.items()) {
      const std::string field = "transfer." + key;
      if (key == "default") {
        m.default_transfer = read_transfer(value, origin, field);
        continue;
      }
      const auto arrow = key.find("->");
      if (arrow == std::string::npos || !is_executor_name(key.substr(0, arrow)) ||
          !is_executor_name(key.substr(arrow + 2)))
        bad(origin, field, "must be \"default\" or \"<from>-><to>\" with executors cpu, batch:cpu or cuda:<n>");
      if (key.substr(0, arrow) == key.substr(arrow + 2)) bad(origin, field, "names the same executor twice");
      m.transfer[key] = read_transfer(value, origin, field);
    }
  }
  if (doc.contains("estimate")) {
    const json& e = doc.at("estimate");
    if (!e.is_object()) bad(origin, "estimate", std::string("must be an object, got ") + json_type_name(e));
    for (const auto& [key, value] : e.items()) {
      const std::string field = "estimate." + key;
      if (key == "gpu_speedup")
        m.gpu_speedup = read_number(value, origin, field, true);
      else if (key == "gpu_launch_ns")
        m.gpu_launch_ns = read_number(value, origin, field, false);
      else if (key == "batch_speedup")
        m.batch_speedup = read_number(value, origin, field, true);
      else
        bad(origin, field, "is not an estimate (expected gpu_speedup, gpu_launch_ns, batch_speedup)");
    }
  }
  return m;
}

json DeviceModel::to_json() const {
  json transfers = json::object();
  transfers["default"] = transfer_json(default_transfer);
  for (const auto& [key, t] : transfer) transfers[key] = transfer_json(t);
  json train = json::object();
  for (const auto& [key, ns] : train_ns) train[key] = ns;
  return {
      {"schema", kDeviceModelSchema},
      {"workers", workers},
      {"cores", cores},
      {"worker_handoff_ns", worker_handoff_ns},
      {"train_ns", train},
      {"transfer", transfers},
      {"estimate", {{"gpu_speedup", gpu_speedup}, {"gpu_launch_ns", gpu_launch_ns}, {"batch_speedup", batch_speedup}}}};
}

DeviceModel DeviceModel::load(const std::string& path) { return from_json(load_json_file(path), path); }

void DeviceModel::save(const std::string& path) const { save_json_file(path, to_json(), 2); }

}  // namespace codedag::graph
