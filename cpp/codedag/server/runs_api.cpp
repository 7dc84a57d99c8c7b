// GET routes of the run table, one run, its metric series and the live event feed.
#include <chrono>
#include <cmath>

#include "codedag/common/error.hpp"
#include "codedag/common/version.hpp"
#include "codedag/server/panel_context.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/layout.hpp"

namespace codedag::server {
namespace {

constexpr size_t kDefaultPoints = 800;
constexpr size_t kMaxOverlayRuns = 50;

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(pos, comma - pos);
    if (!item.empty()) out.push_back(std::move(item));
    pos = comma + 1;
  }
  return out;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json column_json(const store::ColumnInfo& c) {
  return json{
      {"key", c.key}, {"kind", c.kind}, {"runs", c.counted ? json(c.runs) : json(nullptr)}, {"varies", c.varies}};
}

json metric_keys(PanelContext& ctx, const std::string& info_dir) {
  return ctx.metrics().with_file(info_dir + "/" + store::kMetricsFile, [](const MetricFile& f) {
    json keys = json::array();
    for (const auto& [key, s] : f.series) {
      const double v = s.value.empty() ? NAN : s.value.back();
      keys.push_back(json{{"key", key},
                          {"points", s.step.size()},
                          {"last", std::isfinite(v) ? json(v) : json(nullptr)},
                          {"last_step", s.step.empty() ? json(nullptr) : json(s.step.back())}});
    }
    return json{{"keys", std::move(keys)}, {"lines", f.lines}, {"bad_lines", f.bad_lines}};
  });
}

json bucketed(PanelContext& ctx, const std::string& info_dir, const std::string& key, const HttpRequest& req) {
  const size_t points = size_param(req, "points", kDefaultPoints, kMaxBuckets);
  const std::optional<double> from = number_param(req, "from"), to = number_param(req, "to");
  return ctx.metrics().with_file(info_dir + "/" + store::kMetricsFile, [&](const MetricFile& f) {
    const auto it = f.series.find(key);
    static const SeriesPoints kEmpty;
    json out =
        to_json(bucket_series(key, it == f.series.end() ? kEmpty : it->second, std::max<size_t>(points, 1), from, to));
    out["present"] = it != f.series.end();
    return out;
  });
}

}  // namespace

void add_run_routes(HttpServer& http, PanelContext& ctx) {
  http.get("/api/info", [&](const HttpRequest&) {
    return HttpResponse::json_body(ctx.with_store([&](store::Store& s, store::RunTable& t) {
      store::RunQuery all;
      all.limit = 0;
      const store::RunPage p = t.query(all);
      return dump(json{{"home", s.layout().home()},
                       {"version", kVersion},
                       {"runs", p.total},
                       {"index_schema", s.index().schema_version()}});
    }));
  });

  http.get("/api/keys", [&](const HttpRequest&) {
    return HttpResponse::json_body(ctx.with_store([&](store::Store&, store::RunTable& t) {
      return dump(json{{"keys", t.keys()}});
    }));
  });

  http.get("/api/runs", [&](const HttpRequest& req) {
    store::RunQuery q;
    q.filter = req.param("q");
    q.sort = req.param("sort");
    q.offset = size_param(req, "offset", 0, size_t{1} << 40);
    q.limit = size_param(req, "limit", 50, store::kMaxPageSize);
    q.columns = split_list(req.param("columns"));
    q.all_columns = req.param("all_columns") == "1";
    q.include_deleted = req.param("deleted") == "1";
    q.group_by = split_list(req.param("group"));
    ctx.events().keep_watching();  // the listing is only as fresh as the feed's sync of the files
    return HttpResponse::json_body(ctx.with_store([&](store::Store&, store::RunTable& t) {
      const store::RunPage p = t.query(q);
      json out = json{{"total", p.total},         {"offset", q.offset},     {"limit", q.limit},      {"runs", p.runs},
                      {"columns", json::array()}, {"constant", p.constant}, {"warnings", p.warnings}};
      for (const store::ColumnInfo& c : p.columns) out["columns"].push_back(column_json(c));
      if (!q.group_by.empty()) {
        out["groups"] = p.groups.is_null() ? json::array() : p.groups;
        out["total_groups"] = p.total_groups;
      }
      return dump(out);
    }));
  });

  http.get("/api/runs/([^/]+)", [&](const HttpRequest& req) {
    const LoadedRun run = load_run_record(ctx, req.captures.at(0));
    json out = run.record;
    out["info_dir"] = run.ref.info_dir;
    out["values"] = ctx.with_store([&](store::Store&, store::RunTable& t) { return t.run_values(run.ref.test_name); });
    const store::Heartbeat hb = store::read_heartbeat(run.ref.info_dir);
    const bool running = run.record.value("status", std::string()) == "running";
    const double interval = hb.beat_at > 0 ? (hb.lease_until - hb.beat_at) / 3 : 0;
    out["heartbeat"] = hb.beat_at > 0 ? json{{"beat_at", hb.beat_at},
                                             {"lease_until", hb.lease_until},
                                             {"stale", running && now_seconds() - hb.beat_at > 2 * interval}}
                                      : json(nullptr);
    out["metric_series"] = metric_keys(ctx, run.ref.info_dir);
    json artifacts = json::object();
    for (const char* kind : {"dag", "plan", "closed_loop", "monitor_result", "trace"}) {
      std::string path;
      try {
        path = attachment_path(run, kind);
      } catch (const FormatError&) {
      }
      artifacts[kind] = !path.empty();
    }
    out["artifacts"] = artifacts;
    return HttpResponse::json_body(dump(out));
  });

  http.get("/api/runs/([^/]+)/metrics", [&](const HttpRequest& req) {
    const LoadedRun run = load_run_record(ctx, req.captures.at(0));
    json out = metric_keys(ctx, run.ref.info_dir);
    out["test_name"] = run.ref.test_name;
    return HttpResponse::json_body(dump(out));
  });

  http.get("/api/runs/([^/]+)/metrics/(.+)", [&](const HttpRequest& req) {
    const LoadedRun run = load_run_record(ctx, req.captures.at(0));
    json out = bucketed(ctx, run.ref.info_dir, req.captures.at(1), req);
    out["test_name"] = run.ref.test_name;
    return HttpResponse::json_body(dump(out));
  });

  // Several runs' series of one key, for the compare page (one request instead of fifty).
  http.get("/api/metrics", [&](const HttpRequest& req) {
    const std::vector<std::string> ids = split_list(req.param("runs"));
    const std::string key = req.param("key");
    if (key.empty()) throw InputError("parameter key is needed: /api/metrics?runs=A,B&key=loss");
    if (ids.size() > kMaxOverlayRuns)
      throw InputError("at most " + std::to_string(kMaxOverlayRuns) + " runs at once (" + std::to_string(ids.size()) +
                       " given); group them instead");
    json series = json::array();
    for (const std::string& id : ids) {
      const LoadedRun run = load_run_record(ctx, id);
      json one = bucketed(ctx, run.ref.info_dir, key, req);
      one["test_name"] = run.ref.test_name;
      one["name"] = run.ref.name;
      series.push_back(std::move(one));
    }
    return HttpResponse::json_body(dump(json{{"key", key}, {"series", std::move(series)}}));
  });

  http.get("/api/events", [&](const HttpRequest& req) {
    const std::string since_text = req.param("since", "0");
    char* end = nullptr;
    const long long since = std::strtoll(since_text.c_str(), &end, 10);
    if (end != since_text.c_str() + since_text.size())
      throw InputError("parameter since='" + since_text + "' is not a sequence number");
    const double wait = std::min(number_param(req, "wait").value_or(25.0), 55.0);
    return HttpResponse::json_body(dump(ctx.events().wait(since, wait)));
  });
}

}  // namespace codedag::server
