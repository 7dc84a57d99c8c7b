#include "codedag/graph/cost/device_model.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "codedag/common/error.hpp"
#include "codedag/graph/model/dag.hpp"

namespace {

using codedag::json;
using namespace codedag::graph;

TEST(DeviceModel, DefaultsRoundTrip) {
  const DeviceModel m = DeviceModel::defaults(4);
  const json doc = m.to_json();
  EXPECT_EQ(doc["schema"], "codedag.device_model/1");
  EXPECT_EQ(doc["workers"], 4);
  EXPECT_TRUE(doc["transfer"]["cpu->batch:cpu"]["bytes_per_s"].is_null());
  EXPECT_EQ(DeviceModel::from_json(doc).to_json(), doc);
  // A missing pair uses the default; null bandwidth is free.
  EXPECT_DOUBLE_EQ(m.transfer_ns("batch:cpu", "cuda:0", 1.2e10, 3), 30000 + 1e9);
  EXPECT_DOUBLE_EQ(m.transfer_ns("cpu", "batch:cpu", 1e12, 5), 0);
}

TEST(DeviceModel, CoresHandOffAndNoWorkersRoundTrip) {
  DeviceModel m = DeviceModel::defaults(3);
  m.workers = 0;  // the main process loads every sample itself
  m.cores = 1.5;  // a cgroup quota
  m.worker_handoff_ns = 250000;
  const DeviceModel back = DeviceModel::from_json(m.to_json());
  EXPECT_EQ(back.workers, 0);
  EXPECT_DOUBLE_EQ(back.cores, 1.5);
  EXPECT_DOUBLE_EQ(back.worker_handoff_ns, 250000);
  EXPECT_DOUBLE_EQ(back.parallel_workers(), 1.0);
  m.workers = 4;
  EXPECT_DOUBLE_EQ(m.parallel_workers(), 1.5);  // four workers, one and a half CPUs
  m.cores = 0;
  EXPECT_DOUBLE_EQ(m.parallel_workers(), 4.0);  // not limited: SPEC §2
  // A file written before these fields existed reads as "not limited".
  json old = DeviceModel::defaults(2).to_json();
  old.erase("cores");
  old.erase("worker_handoff_ns");
  EXPECT_DOUBLE_EQ(DeviceModel::from_json(old).cores, 0);
}

TEST(DeviceModel, NodeTimeEstimates) {
  const DeviceModel m = DeviceModel::defaults();
  Node n;
  n.cpu_ns = 1e6;
  n.calls = 200;
  EXPECT_DOUBLE_EQ(m.node_time_ns(n, "cpu"), 1e6);
  EXPECT_TRUE(std::isinf(m.node_time_ns(n, "cuda:0")));  // not eligible
  n.gpu_eligible = true;
  EXPECT_DOUBLE_EQ(m.node_time_ns(n, "cuda:0"), 200 * 10000.0);  // launch floor beats 1e6 / 10
  n.calls = 1;
  EXPECT_DOUBLE_EQ(m.node_time_ns(n, "cuda:1"), 1e5);
  n.gpu_ns = 7;
  EXPECT_DOUBLE_EQ(m.node_time_ns(n, "cuda:0"), 7);
  EXPECT_DOUBLE_EQ(m.node_time_ns(n, "batch:cpu"), 1e6);
  n.batch_ns = 5;
  EXPECT_DOUBLE_EQ(m.node_time_ns(n, "batch:cpu"), 5);
}

TEST(DeviceModel, ExecutorNames) {
  EXPECT_EQ(executor_names(2), (std::vector<std::string>{"cpu", "batch:cpu", "cuda:0", "cuda:1"}));
  for (const char* ok : {"cpu", "batch:cpu", "cuda:0", "cuda:12"}) EXPECT_TRUE(is_executor_name(ok)) << ok;
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "batch:gpu", "tpu:0", ""})
    EXPECT_FALSE(is_executor_name(bad)) << bad;
}

std::string rejection(const std::function<void(json&)>& edit) {
  json doc = DeviceModel::defaults().to_json();
  edit(doc);
  try {
    DeviceModel::from_json(doc, "device.json");
  } catch (const codedag::FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(DeviceModel, EveryRejectionNamesTheField) {
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& d) { d.erase("schema"); }, "no 'schema'"},
      {[](json& d) { d["schema"] = "codedag.device_model/2"; }, "unknown schema"},
      {[](json& d) { d["workers"] = -1; }, "'workers'"},
      {[](json& d) { d["workers"] = 100000; }, "'workers'"},
      {[](json& d) { d["cores"] = -2; }, "'cores'"},
      {[](json& d) { d["cores"] = "all"; }, "'cores' must be a number"},
      {[](json& d) { d["worker_handoff_ns"] = -1; }, "'worker_handoff_ns'"},
      {[](json& d) { d["workers"] = 2.5; }, "'workers'"},
      {[](json& d) { d["train_ns"] = 3; }, "'train_ns'"},
      {[](json& d) { d["train_ns"]["cpu"] = 3; }, "'train_ns.cpu'"},
      {[](json& d) { d["train_ns"]["cuda:0"] = -3; }, "'train_ns.cuda:0' must not be negative"},
      {[](json& d) { d["train_ns"]["cuda:0"] = "fast"; }, "'train_ns.cuda:0' must be a number"},
      {[](json& d) { d["transfer"] = json::array(); }, "'transfer'"},
      {[](json& d) {
         d["transfer"]["cpu=>cuda:0"] = {{"latency_ns", 1}};
       },
       "'transfer.cpu=>cuda:0'"},
      {[](json& d) {
         d["transfer"]["cuda:0->cuda:0"] = {{"latency_ns", 1}};
       },
       "same executor"},
      {[](json& d) { d["transfer"]["default"]["bytes_per_s"] = 0; },
       "'transfer.default.bytes_per_s' must be greater than 0"},
      {[](json& d) { d["transfer"]["default"]["latency_ns"] = -1; }, "'transfer.default.latency_ns'"},
      {[](json& d) { d["transfer"]["default"]["speed"] = 1; }, "'transfer.default.speed'"},
      {[](json& d) { d["transfer"]["default"] = 5; }, "'transfer.default' must be an object"},
      {[](json& d) { d["estimate"]["gpu_speedup"] = 0; }, "'estimate.gpu_speedup'"},
      {[](json& d) { d["estimate"]["batch_speedup"] = nullptr; }, "'estimate.batch_speedup' must be a number"},
      {[](json& d) { d["estimate"]["turbo"] = 1; }, "'estimate.turbo'"},
      {[](json& d) { d["estimate"] = "x"; }, "'estimate'"},
      {[](json& d) { d["colour"] = "red"; }, "'colour' is not a field"},
  };
  for (const auto& [edit, expected] : cases) {
    const std::string message = rejection(edit);
    EXPECT_NE(message.find(expected), std::string::npos) << "expected '" << expected << "' in: " << message;
    EXPECT_NE(message.find("device.json"), std::string::npos) << message;
  }
  EXPECT_THROW(DeviceModel::from_json(json::array()), codedag::FormatError);
}

}  // namespace
