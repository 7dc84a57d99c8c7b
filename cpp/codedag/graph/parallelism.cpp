#include "codedag/graph/parallelism.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/graph/cost/device_model.hpp"

namespace codedag::graph {
namespace {

constexpr double kOverheadShare = 0.05;  // fixed cost per batch we accept before suggesting more samples
constexpr int64_t kMaxBatchGrowth = 8;

[[noreturn]] void bad(const std::string& origin, const std::string& field, const std::string& problem) {
  throw FormatError(origin + ": 'parallelism." + field + "' " + problem);
}

int64_t count(const json& doc, const std::string& origin, const std::string& field, int64_t minimum) {
  const json& v = doc.at(field);
  if (!v.is_number_integer() || v.get<int64_t>() < minimum || v.get<int64_t>() > kMaxWorkers * 1024)
    bad(origin, field, "must be a whole number of at least " + std::to_string(minimum) + ", got " + v.dump());
  return v.get<int64_t>();
}

double amount(const json& doc, const std::string& origin, const std::string& field) {
  const json& v = doc.at(field);
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
    bad(origin, field, "must be a number of at least 0, got " + v.dump());
  return v.get<double>();
}

}  // namespace

int64_t threads_per_worker(double cores, int64_t workers, double main_busy) {
  if (cores <= 0) return 1;  // unknown: one, as torch gives each worker
  main_busy = std::clamp(main_busy, 0.0, 1.0);
  if (workers <= 0) return std::max<int64_t>(1, static_cast<int64_t>(std::floor(cores)));
  return std::max<int64_t>(1, static_cast<int64_t>(std::floor((cores - main_busy) / static_cast<double>(workers))));
}

int64_t suggest_batch_size(int64_t batch_size, double batch_ns, double fixed_ns, std::string& reason) {
  if (batch_size <= 0) {
    reason = "the DAG does not say how many samples a batch has";
    return 0;
  }
  if (fixed_ns <= 0 || batch_ns <= 0) {
    reason = "no fixed cost per batch is known (worker hand-off not measured)";
    return batch_size;
  }
  const double share = fixed_ns / batch_ns;
  if (share <= kOverheadShare) {
    reason = "the fixed cost per batch (" + term::format_ns(fixed_ns) + ") is " +
             std::to_string(static_cast<int>(std::lround(100 * share))) + " % of a batch: the batch size is fine";
    return batch_size;
  }
  const double per_sample = std::max(batch_ns - fixed_ns, 1.0) / static_cast<double>(batch_size);
  // fixed / (fixed + per_sample * B) <= share  <=>  B >= fixed * (1 - share) / (share * per_sample)
  const double needed = fixed_ns * (1 - kOverheadShare) / (kOverheadShare * per_sample);
  int64_t b = batch_size;
  while (static_cast<double>(b) < needed && b < batch_size * kMaxBatchGrowth) b *= 2;
  reason = "the fixed cost per batch (" + term::format_ns(fixed_ns) + ") is " +
           std::to_string(static_cast<int>(std::lround(100 * share))) + " % of a batch of " +
           std::to_string(batch_size) + "; " + std::to_string(b) + " samples bring it to " +
           std::to_string(static_cast<int>(std::lround(100 * fixed_ns / (fixed_ns + per_sample * b)))) +
           " % (a suggestion: the batch size changes training)";
  return b;
}

json Parallelism::to_json() const {
  json list = json::array();
  for (const WorkerSetting& s : settings)
    list.push_back(
        {{"workers", s.workers}, {"plan_cost", s.plan_cost}, {"plain_cost", s.plain_cost}, {"limit", s.limit}});
  return {{"workers", workers},
          {"threads_per_worker", threads_per_worker},
          {"limit_threads", limit_threads},
          {"main_threads", main_threads},
          {"plain_workers", plain_workers},
          {"plain_threads_per_worker", plain_threads_per_worker},
          {"plain_cost", plain_cost},
          {"untouched_workers", untouched_workers},
          {"untouched_cost", untouched_cost},
          {"cores", cores},
          {"batch_size", batch_size},
          {"suggested_batch_size", suggested_batch_size},
          {"batch_size_reason", batch_size_reason},
          {"settings", list}};
}

Parallelism Parallelism::from_json(const json& doc, const std::string& origin) {
  if (!doc.is_object()) throw FormatError(origin + ": 'parallelism' must be an object, got " + json_type_name(doc));
  static const std::set<std::string> known = {"workers",
                                              "threads_per_worker",
                                              "main_threads",
                                              "plain_workers",
                                              "plain_threads_per_worker",
                                              "plain_cost",
                                              "untouched_workers",
                                              "untouched_cost",
                                              "cores",
                                              "batch_size",
                                              "suggested_batch_size",
                                              "batch_size_reason",
                                              "settings",
                                              "limit_threads"};
  for (const auto& [key, value] : doc.items())
    if (!known.count(key)) bad(origin, key, "is not a field of a plan's parallelism");
  if (!doc.contains("workers")) bad(origin, "workers", "is missing (how many DataLoader workers the plan runs with)");
  Parallelism p;
  p.workers = count(doc, origin, "workers", 0);
  if (p.workers > kMaxWorkers) bad(origin, "workers", "is more than " + std::to_string(kMaxWorkers));
  if (doc.contains("threads_per_worker")) p.threads_per_worker = count(doc, origin, "threads_per_worker", 1);
  if (doc.contains("limit_threads")) {
    if (!doc.at("limit_threads").is_boolean()) bad(origin, "limit_threads", "must be true or false");
    p.limit_threads = doc.at("limit_threads").get<bool>();
  }
  if (doc.contains("main_threads")) p.main_threads = count(doc, origin, "main_threads", 1);
  p.plain_workers = doc.contains("plain_workers") ? count(doc, origin, "plain_workers", 0) : p.workers;
  if (p.plain_workers > kMaxWorkers) bad(origin, "plain_workers", "is more than " + std::to_string(kMaxWorkers));
  if (doc.contains("plain_threads_per_worker"))
    p.plain_threads_per_worker = count(doc, origin, "plain_threads_per_worker", 1);
  if (doc.contains("plain_cost")) p.plain_cost = amount(doc, origin, "plain_cost");
  if (doc.contains("untouched_workers")) p.untouched_workers = count(doc, origin, "untouched_workers", -1);
  if (doc.contains("untouched_cost")) p.untouched_cost = amount(doc, origin, "untouched_cost");
  if (doc.contains("cores")) p.cores = amount(doc, origin, "cores");
  if (doc.contains("batch_size")) p.batch_size = count(doc, origin, "batch_size", 0);
  if (doc.contains("suggested_batch_size")) p.suggested_batch_size = count(doc, origin, "suggested_batch_size", 0);
  if (doc.contains("batch_size_reason")) {
    if (!doc.at("batch_size_reason").is_string()) bad(origin, "batch_size_reason", "must be a string");
    p.batch_size_reason = doc.at("batch_size_reason").get<std::string>().substr(0, 1000);
  }
  if (doc.contains("settings")) {
    const json& list = doc.at("settings");
    if (!list.is_array() || list.size() > 4096) bad(origin, "settings", "must be a list of worker settings");
    for (size_t i = 0; i < list.size(); ++i) {
      const json& s = list[i];
      const std::string field = "settings[" + std::to_string(i) + "]";
      if (!s.is_object() || !s.contains("workers") || !s.contains("plan_cost") || !s.contains("plain_cost"))
        bad(origin, field, "must be an object {workers, plan_cost, plain_cost, limit}");
      WorkerSetting w;
      w.workers = count(s, origin + ": " + field, "workers", 0);
      w.plan_cost = amount(s, origin + ": " + field, "plan_cost");
      w.plain_cost = amount(s, origin + ": " + field, "plain_cost");
      if (s.contains("limit") && s.at("limit").is_string()) w.limit = s.at("limit").get<std::string>().substr(0, 64);
      p.settings.push_back(std::move(w));
    }
  }
  return p;
}

}  // namespace codedag::graph
