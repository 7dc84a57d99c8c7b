#pragma once
// What the panel's request handlers share: the store (one object, not thread-safe, so every use
// goes through with_store under one mutex), the run table (its own read connection, under the
// same mutex), the metric cache and the live event feed (each with its own lock).
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "codedag/server/event_feed.hpp"
#include "codedag/server/http_server.hpp"
#include "codedag/server/metric_buckets.hpp"
#include "codedag/store/run_query.hpp"
#include "codedag/store/store.hpp"

namespace codedag::server {

class PanelContext {
 public:
  explicit PanelContext(const std::string& home);

  // Runs `use` with the store and the run table under the panel's store lock.
  template <class F>
  auto with_store(F&& use) {
    std::lock_guard<std::mutex> lock(store_mutex_);
    return use(store_, *table_);
  }

  MetricCache& metrics() { return metrics_; }
  EventFeed& events() { return *events_; }
  const std::string& home() const { return home_; }
  // The codedag executable serving the panel: changes (tag, rm, rerun) run its own subcommands,
  // so they follow exactly the rules of the terminal commands.
  std::string self_executable() const;

 private:
  std::string home_;
  std::mutex store_mutex_;
  store::Store store_;
  std::unique_ptr<store::RunTable> table_;
  MetricCache metrics_;
  std::unique_ptr<EventFeed> events_;
};

// A run of the store by id, with its record (run.json), resolved under the store lock.
struct LoadedRun {
  store::RunRef ref;
  json record;
};
LoadedRun load_run_record(PanelContext& ctx, const std::string& id);

// A file a run attached (run.json "attachments.<kind>"), the newest one, as an absolute path
// inside the run's info directory; empty when there is none. Paths read from run.json that point
// outside the run's directory are refused (FormatError), never followed.
std::string attachment_path(const LoadedRun& run, const std::string& kind);

// Route groups (one file each).
void add_run_routes(HttpServer& http, PanelContext& ctx);       // runs_api.cpp: table, run, metrics
void add_artifact_routes(HttpServer& http, PanelContext& ctx);  // artifacts_api.cpp: dag, resources, logs
void add_diff_routes(HttpServer& http, PanelContext& ctx);      // diff_api.cpp
void add_action_routes(HttpServer& http, PanelContext& ctx);    // actions_api.cpp: tag, rm, rerun (POST)

// Numbers from query parameters, bounded; InputError names the parameter.
size_t size_param(const HttpRequest& req, const std::string& name, size_t fallback, size_t max);
std::optional<double> number_param(const HttpRequest& req, const std::string& name);
// Compact JSON text for a response (invalid UTF-8 replaced, never thrown on).
std::string dump(const json& value);
// A number a file may leave out (a plan's costs and speedup), null when it did.
json number_or_null(const std::optional<double>& value);

}  // namespace codedag::server
