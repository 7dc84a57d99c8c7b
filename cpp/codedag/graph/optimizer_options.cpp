#include "codedag/graph/optimizer_options.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "codedag/common/error.hpp"
#include "codedag/graph/partition/partition.hpp"

namespace codedag::graph {
namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// A whole number in [minimum, maximum]; bools and fractions are refused (JSON keeps them apart).
int64_t whole(const json& v, const std::string& where, int64_t minimum,
              int64_t maximum = std::numeric_limits<int64_t>::max()) {
  if (!v.is_number_integer())
    throw InputError(where + " must be a whole number of at least " + std::to_string(minimum) + ", got " + v.dump());
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(maximum))
    throw InputError(where + " is too large: " + v.dump());
  const int64_t x = v.get<int64_t>();
  if (x < minimum || x > maximum)
    throw InputError(where + " must be a whole number of at least " + std::to_string(minimum) + ", got " + v.dump());
  return x;
}

std::string text(const json& v, const std::string& where) {
  if (!v.is_string()) throw InputError(where + " must be a string, got " + v.dump());
  return v.get<std::string>();
}

}  // namespace

void OptimizerOptions::validate() const {
  if (k != 0 && k < 2)
    throw InputError("k must be at least 2 (the DataLoader workers and one main-process executor), got " +
                     std::to_string(k));
  if (coarsen_max_depth < 0)
    throw InputError("coarsen_max_depth must be 0 or more, got " + std::to_string(coarsen_max_depth));
  if (max_iterations < 0) throw InputError("max_iterations must be 0 or more, got " + std::to_string(max_iterations));
  if (gpu_count < 0 || gpu_count > kMaxGpus)
    throw InputError("gpu_count must be from 0 to " + std::to_string(kMaxGpus) + ", got " + std::to_string(gpu_count));
  if (workers && (*workers < 0 || *workers > kMaxWorkers))
    throw InputError("workers must be a whole number from 0 (the main process loads the samples) to " +
                     std::to_string(kMaxWorkers) + ", got " + std::to_string(*workers));
  if (max_workers < 0 || max_workers > kMaxWorkers)
    throw InputError("max_workers must be from 0 (twice the cores) to " + std::to_string(kMaxWorkers) + ", got " +
                     std::to_string(max_workers));
  if (cores && (!std::isfinite(*cores) || *cores < 0 || *cores > kMaxWorkers))
    throw InputError("cores must be a number from 0 (not limited) to " + std::to_string(kMaxWorkers) + ", got " +
                     std::to_string(*cores));
  if (chain_merge_min_nodes < 0)
    throw InputError("chain_merge_min_nodes must be 0 or more, got " + std::to_string(chain_merge_min_nodes));
  const std::vector<std::string> algorithms = partitioner_names();
  if (std::find(algorithms.begin(), algorithms.end(), algorithm) == algorithms.end())
    throw InputError("unknown algorithm '" + algorithm + "'; known: " + joined(algorithms));
  PartitionOptions::preset(preset);  // InputError naming the known presets
}

OptimizerOptions OptimizerOptions::from_json(const json& doc, const std::string& origin) {
  if (!doc.is_object()) throw InputError(origin + ": expected an object of option -> value, got " + doc.dump());
  OptimizerOptions o;
  for (const auto& [key, v] : doc.items()) {
    if (v.is_null()) continue;
    if (key == "k") {
      o.k = static_cast<int>(whole(v, "k", 2, std::numeric_limits<int>::max()));
    } else if (key == "coarsen_max_depth") {
      o.coarsen_max_depth = static_cast<int>(whole(v, key, 0, std::numeric_limits<int>::max()));
    } else if (key == "max_iterations") {
      o.max_iterations = static_cast<int>(whole(v, key, 0, std::numeric_limits<int>::max()));
    } else if (key == "seed") {
      if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0))
        throw InputError("seed must be a whole number of at least 0, got " + v.dump());
      o.seed = v.get<uint64_t>();
    } else if (key == "gpu_count") {
      o.gpu_count = static_cast<int>(whole(v, key, 0, kMaxGpus));
    } else if (key == "workers") {
      o.workers = whole(v, key, 0, kMaxWorkers);
    } else if (key == "choose_workers") {
      if (!v.is_boolean()) throw InputError("choose_workers must be true or false, got " + v.dump());
      o.choose_workers = v.get<bool>();
    } else if (key == "max_workers") {
      o.max_workers = whole(v, key, 0, kMaxWorkers);
    } else if (key == "cores") {
      if (!v.is_number() || v.get<double>() < 0)
        throw InputError("cores must be a number of at least 0 (0: not limited), got " + v.dump());
      o.cores = v.get<double>();
    } else if (key == "device_model") {
      o.device_model = DeviceModel::from_json(v, origin + ": device_model");
    } else if (key == "algorithm") {
      o.algorithm = text(v, key);
    } else if (key == "preset") {
      o.preset = text(v, key);
    } else if (key == "chain_merge_min_nodes") {
      o.chain_merge_min_nodes = whole(v, key, 0);
    } else {
      throw InputError(origin + ": unknown option '" + key +
                       "'; known: k, coarsen_max_depth, max_iterations, seed, gpu_count, workers, device_model, "
                       "algorithm, preset, chain_merge_min_nodes, choose_workers, max_workers, "
                       "cores");
    }
  }
  o.validate();
  return o;
}

json OptimizerOptions::to_json() const {
  json doc = {{"k", k},
              {"coarsen_max_depth", coarsen_max_depth},
              {"max_iterations", max_iterations},
              {"seed", seed},
              {"gpu_count", gpu_count},
              {"workers", workers ? json(*workers) : json(nullptr)},
              {"device_model", device_model ? device_model->to_json() : json(nullptr)},
              {"algorithm", algorithm},
              {"preset", preset},
              {"chain_merge_min_nodes", chain_merge_min_nodes},
              {"choose_workers", choose_workers},
              {"max_workers", max_workers},
              {"cores", cores ? json(*cores) : json(nullptr)}};
  return doc;
}

}  // namespace codedag::graph
