// codedag ls: the recorded runs, filtered, sorted, with chosen columns (or --json).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/cli/store_cli.hpp"
#include "codedag/cli/usage.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/run_format.hpp"
#include "codedag/store/store.hpp"

namespace codedag::cli {
namespace {

struct LsOptions {
  std::string name, status, since, until, sort, columns, sweep;  // sort "": started, the default order
  std::vector<std::string> params, metrics, tags;
  bool json_out = false, all = false, deleted = false, no_sync = false;
  size_t limit = 0;
};

const char* const kDefaultColumns = "id,name,status,started,duration,metrics,tags";

// One cell of column `col` for run `r`.
std::string cell(const json& r, const std::string& col) {
  if (col == "id" || col == "test_name") return r.value("test_name", std::string());
  if (col == "name") return r.value("name", std::string());
  if (col == "status") return r.value("status", std::string()) + (r.value("deleted", false) ? " (deleted)" : "");
  if (col == "started") return store::format_time(r.value("started_at", 0.0));
  if (col == "ended") return store::format_time(r.value("ended_at", 0.0));
  if (col == "duration") return store::format_duration(r.contains("duration") ? r.value("duration", -1.0) : -1.0);
  if (col == "host") return r.value("host", std::string());
  if (col == "git") {
    const json g = r.value("git", json::object());
    if (!g.value("present", false)) return "-";
    return g.value("commit", std::string()).substr(0, 8) + (g.value("dirty", false) ? "+" : "");
  }
  if (col == "tags") {
    std::string out;
    for (const auto& t : r.value("tags", json::array())) out += (out.empty() ? "" : ",") + store::format_value(t);
    return out.empty() ? "-" : out;
  }
  if (col == "metrics") {  // best metrics, then last values of series not dumped as best
    std::string out;
    const json best = r.value("metrics", json::object());
    for (const auto& [k, v] : best.items()) out += (out.empty() ? "" : " ") + k + "=" + store::format_value(v);
    const json last = r.value("last", json::object());
    for (const auto& [k, v] : last.items())
      if (!best.contains(k)) out += (out.empty() ? "" : " ") + k + "=" + store::format_value(v);
    return out.empty() ? "-" : out;
  }
  if (col.rfind("param.", 0) == 0 || col.rfind("info.", 0) == 0) {
    const json flat = store::flatten(r.value("info", json::object()));
    const std::string key = col.substr(col.find('.') + 1);
    return flat.contains(key) ? store::format_value(flat[key]) : "-";
  }
  if (col.rfind("metric.", 0) == 0 || col.rfind("last.", 0) == 0) {
    const std::string key = col.substr(col.find('.') + 1);
    const json best = r.value("metrics", json::object());
    if (col[0] == 'm' && best.contains(key)) return store::format_value(best[key]);
    const json last = r.value("last", json::object());
    return last.contains(key) ? store::format_value(last[key]) : "-";
  }
  throw InputError("unknown column '" + col +
                   "': use id, name, status, started, ended, duration, host, git, tags, metrics, param.KEY, "
                   "metric.KEY or last.KEY");
}

// A sortable value of `key` (started, name, status, duration, param.X, metric.X).
json sort_value(const json& r, const std::string& key) {
  if (key == "started") return r.value("started_at", 0.0);
  if (key == "ended") return r.value("ended_at", 0.0);
  if (key == "duration") return r.value("duration", 0.0);
  if (key == "name" || key == "status" || key == "id") return cell(r, key);
  if (key.rfind("param.", 0) == 0 || key.rfind("info.", 0) == 0) {
    const json flat = store::flatten(r.value("info", json::object()));
    const std::string k = key.substr(key.find('.') + 1);
    return flat.contains(k) ? flat[k] : json(nullptr);
  }
  if (key.rfind("metric.", 0) == 0 || key.rfind("last.", 0) == 0) {
    const std::string k = key.substr(key.find('.') + 1);
    const json best = r.value("metrics", json::object()), last = r.value("last", json::object());
    const json* v = key[0] == 'm' && best.contains(k) ? &best[k] : last.contains(k) ? &last[k] : nullptr;
    return v && v->is_object() ? v->value("value", json(nullptr)) : json(nullptr);
  }
  throw InputError("cannot sort by '" + key +
                   "': use started, ended, duration, name, status, id, param.KEY or metric.KEY "
                   "(prefix '-' for descending)");
}

void run_ls(const LsOptions& o, Context& /*ctx*/) {
  store::Store s = open_store();
  store::RunFilter f;
  f.index.name = o.name;
  f.index.status = o.status;
  f.index.sweep = o.sweep;
  if (!o.since.empty()) f.index.since = store::parse_date(o.since, "--since");
  if (!o.until.empty()) f.index.until = store::parse_date(o.until, "--until");
  f.index.include_deleted = o.all;
  f.index.only_deleted = o.deleted;
  f.params = o.params;
  f.metrics = o.metrics;
  f.tags = o.tags;
  std::vector<std::string> warnings;
  std::vector<store::IndexRow> rows = s.list_rows(f, &warnings, !o.no_sync);

  std::vector<std::string> cols;
  const std::string spec = o.columns.empty() ? kDefaultColumns : o.columns;
  for (size_t pos = 0; pos <= spec.size();) {
    const size_t comma = spec.find(',', pos);
    const std::string c = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!c.empty()) cols.push_back(c);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  std::string key = o.sort.empty() ? "started" : o.sort;
  bool descending = key[0] == '-';
  if (descending) key = key.substr(1);
  const bool custom_sort = !o.sort.empty();  // an explicit --sort, even --sort started: -n takes its first N
  // The index's listing columns hold everything but info (params) and git; only those make us
  // parse each run's summary. --json prints the stored summaries as they are.
  const auto needs_summary = [](const std::string& k) {
    return k == "git" || k.rfind("param.", 0) == 0 || k.rfind("info.", 0) == 0;
  };
  bool full = custom_sort && needs_summary(key);
  if (!o.json_out)
    for (const auto& c : cols) full = full || needs_summary(c);
  std::vector<json> runs;
  if (!o.json_out || custom_sort) {
    std::vector<store::IndexRow> kept;
    kept.reserve(rows.size());
    runs.reserve(rows.size());
    for (auto& row : rows) {
      json r = full ? try_parse_json(row.summary).value_or(json(json::value_t::discarded)) : store::listing_fields(row);
      if (r.is_discarded() || !r.is_object()) {
        warnings.push_back(s.index().path() + ": row " + row.test_name + " is damaged, skipped");
        continue;
      }
      runs.push_back(std::move(r));
      kept.push_back(std::move(row));
    }
    rows = std::move(kept);
  }
  print_warnings(warnings);

  if (custom_sort) {
    std::vector<std::pair<json, size_t>> keyed;
    for (size_t i = 0; i < runs.size(); ++i) keyed.emplace_back(sort_value(runs[i], key), i);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      if (a.first.is_null() != b.first.is_null()) return b.first.is_null();  // missing values last
      return descending ? b.first < a.first : a.first < b.first;
    });
    std::vector<json> sorted;
    std::vector<store::IndexRow> sorted_rows;
    for (auto& [k, i] : keyed) {
      sorted.push_back(std::move(runs[i]));
      sorted_rows.push_back(std::move(rows[i]));
    }
    runs = std::move(sorted);
    rows = std::move(sorted_rows);
  }
  // -n N keeps the newest N under the default order (oldest first, so the newest end the listing,
  // as `tail` would); under an explicit --sort, the first N of that order.
  const auto keep = [&](auto& items) {
    if (!o.limit || items.size() <= o.limit) return;
    if (custom_sort)
      items.resize(o.limit);
    else
      items.erase(items.begin(), items.end() - static_cast<std::ptrdiff_t>(o.limit));
  };
  keep(rows);
  keep(runs);

  if (o.json_out) {
    // Written a run at a time through one buffer: 10k runs are ~7 MB of text, and holding it whole
    // (twice, with the items) cost more in fresh pages than the formatting itself.
    std::string text;
    for (size_t i = 0; i < rows.size(); ++i) {
      text.clear();
      const store::IndexRow& row = rows[i];
      store::append_indented_array_item(text, store::run_json_text(row, s.layout().info_dir(row.name, row.test_name)),
                                        i, 1);
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    text = store::close_indented_array(rows.size()) + "\n";
    std::fwrite(text.data(), 1, text.size(), stdout);
    return;
  }
  std::vector<std::vector<std::string>> table;
  table.reserve(runs.size());
  std::map<std::string, int> by_status;
  for (const json& r : runs) {
    std::vector<std::string> row;
    // Cells hold names, tags, params and metric keys as recorded: escaped before they reach a terminal.
    for (const auto& c : cols) row.push_back(term::printable(cell(r, c)));
    table.push_back(std::move(row));
    ++by_status[term::printable(r.value("status", std::string("?")))];
  }
  term::Printer out;
  std::vector<std::pair<std::string, std::string>> fields = {{"store", term::printable(s.layout().home())}};
  if (!o.name.empty()) fields.emplace_back("name", term::printable(o.name));
  if (!o.status.empty()) fields.emplace_back("status", o.status);
  out.header("runs", fields);
  if (table.empty()) {
    out.info("no runs match (record one with `with codedag.Experiment(\"name\"):` in a script)");
    return;
  }
  out.table(cols, table);
  std::string counts;
  for (const auto& [st, n] : by_status) counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + st;
  out.ok(std::to_string(runs.size()) + " run" + (runs.size() == 1 ? "" : "s") + " (" + counts + ")");
}

}  // namespace

void add_ls_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<LsOptions>();
  auto* cmd = app.add_subcommand("ls", "List recorded runs (filter, sort, choose columns, --json)");
  cmd->add_option("name", o->name, "Only runs of this experiment name");
  cmd->add_option("-s,--status", o->status,
                  "Only runs with this status: running, finished, failed, killed, interrupted, dead, queued, pending")
      ->check(CLI::IsMember({"running", "finished", "failed", "killed", "interrupted", "dead", "queued", "pending"}));
  cmd->add_option("--since", o->since,
                  "Only runs started at or after this date (2026-03-06, 2026-03-06T12:30, 260306)");
  cmd->add_option("--until", o->until, "Only runs started before this date");
  cmd->add_option("-p,--param", o->params, "Filter on a dump_info value: lr=0.1, params.epochs>=10 (repeatable)");
  cmd->add_option("-m,--metric", o->metrics, "Filter on a best/last metric: acc>0.9, loss<=0.2 (repeatable)");
  cmd->add_option("-t,--tag", o->tags, "Only runs with this tag (repeatable)");
  cmd->add_option("--sweep", o->sweep, "Only the runs of this sweep (an id or its prefix, see `codedag sweep ls`)");
  cmd->add_option("--sort", o->sort,
                  "started (default), ended, duration, name, status, id, param.KEY, metric.KEY; '-' prefix: "
                  "descending");
  cmd->add_option("-c,--columns", o->columns,
                  std::string("Comma-separated columns (default ") + kDefaultColumns +
                      "; also ended, host, git, param.KEY, metric.KEY, last.KEY)");
  cmd->add_option("-n,--limit", o->limit, "Show the newest N runs (with --sort: the first N of that order)")
      ->check(whole_number(1, 1LL << 40));
  cmd->add_flag("--json", o->json_out, "Print the runs as a JSON array (the index summaries)");
  cmd->add_flag("-a,--all", o->all, "Include runs marked deleted (codedag rm)");
  cmd->add_flag("--deleted", o->deleted, "Only runs marked deleted");
  cmd->add_flag("--no-sync", o->no_sync, "Trust the index; do not look for run files changed behind its back");
  cmd->callback([o, &ctx] { run_ls(*o, ctx); });
}

}  // namespace codedag::cli
