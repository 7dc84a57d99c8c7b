// Bindings of the store area: the C++ Experiment (one run) and Store (listing, retrieving,
// rebuilding). codedag.store.Experiment / Watcher in Python are thin faces over these. Warnings
// handed to Python quote file names and contents: they are escaped (term::printable) here, once.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"
#include "codedag/common/process_rank.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/experiment.hpp"
#include "codedag/store/heartbeat.hpp"
#include "codedag/store/metric_log.hpp"
#include "codedag/store/rendezvous.hpp"
#include "codedag/store/run_file.hpp"
#include "codedag/store/shard.hpp"
#include "codedag/store/store.hpp"

namespace codedag::bindings {

namespace {

using store::Experiment;
using store::Store;

nb::list warning_list(const std::vector<std::string>& warnings) {
  nb::list out;
  for (const auto& w : warnings) out.append(nb::str(term::printable(w).c_str()));
  return out;
}

store::RunFilter make_filter(const std::string& name, const std::string& status, double since, double until,
                             const std::vector<std::string>& params, const std::vector<std::string>& metrics,
                             const std::vector<std::string>& tags, bool include_deleted) {
  store::RunFilter f;
  f.index.name = name;
  f.index.status = status;
  f.index.since = since;
  f.index.until = until;
  f.index.include_deleted = include_deleted;
  f.params = params;
  f.metrics = metrics;
  f.tags = tags;
  return f;
}

nb::object list_runs(Store& s, const std::string& name, const std::string& status, double since, double until,
                     const std::vector<std::string>& params, const std::vector<std::string>& metrics,
                     const std::vector<std::string>& tags, bool include_deleted) {
  const store::RunFilter f = make_filter(name, status, since, until, params, metrics, tags, include_deleted);
  std::vector<std::string> warnings;
  // One JSON text for all rows, spliced from the stored summaries (no parse, no re-serialisation),
  // each checked to be one sound object (Store::list_rows). Watcher.load() uses list_objects below;
  // this text is what the store bench and the parity test compare it with (json.loads of it).
  std::string text;
  {
    nb::gil_scoped_release release;
    const std::vector<store::IndexRow> rows = s.list_rows(f, &warnings);
    size_t total = 2;
    for (const auto& r : rows) total += r.summary.size() + 128;
    text.reserve(total);
    text += '[';
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i) text += ',';
      text += store::run_json_text(rows[i], s.layout().info_dir(rows[i].name, rows[i].test_name));
    }
    text += ']';
  }
  return nb::make_tuple(nb::bytes(text.data(), text.size()), warning_list(warnings));
}

// Watcher.load()'s path: each row's dict built straight from its stored summary (JsonToPython:
// json.loads's result without a JSON text for all rows), with "info_dir" added; a damaged row is
// skipped and named as Store::list names it.
nb::object list_objects(Store& s, const std::string& name, const std::string& status, double since, double until,
                        const std::vector<std::string>& params, const std::vector<std::string>& metrics,
                        const std::vector<std::string>& tags, bool include_deleted) {
  const store::RunFilter f = make_filter(name, status, since, until, params, metrics, tags, include_deleted);
  std::vector<std::string> warnings;
  std::vector<store::IndexRow> rows;
  {
    nb::gil_scoped_release release;
    rows = s.list_rows(f, &warnings, /*sync_files=*/true, /*check_summaries=*/false);  // the builder checks them
  }
  // The cyclic GC is paused while 10k rows of dicts and lists are made: they hold no cycles, and
  // collections triggered every 700 new containers would walk the growing result again and again
  // (a third of the time json.loads took for the same rows).
  struct GcPause {
    int was = PyGC_Disable();
    ~GcPause() {
      if (was) PyGC_Enable();
    }
  } pause;
  JsonToPython builder;
  nb::list out;
  nb::str info_key("info_dir");
  for (const store::IndexRow& row : rows) {
    bool damaged = false;
    nb::object run = builder.build(row.summary, damaged);
    if (damaged || !PyDict_Check(run.ptr())) {
      warnings.push_back(s.index().path() + ": row " + row.test_name + " is damaged, skipped");
      continue;
    }
    const std::string dir = s.layout().info_dir(row.name, row.test_name);
    nb::object dir_str = nb::steal(PyUnicode_DecodeUTF8(dir.data(), static_cast<Py_ssize_t>(dir.size()), "replace"));
    if (!dir_str.is_valid() || PyDict_SetItem(run.ptr(), info_key.ptr(), dir_str.ptr()) != 0) throw nb::python_error();
    out.append(run);
  }
  return nb::make_tuple(out, warning_list(warnings));
}

nb::dict sync_report(const store::SyncReport& r) {
  nb::dict d;
  d["path"] = r.path;
  d["reason"] = r.reason;
  d["journal_lines"] = r.journal_lines;
  d["checked"] = r.checked;
  d["changed"] = r.changed;
  d["removed"] = r.removed;
  return d;
}

// The slow, sure path: every summary through the bounded parser, damaged ones named and skipped.
nb::object list_parsed(Store& s, const std::string& name, const std::string& status, double since, double until,
                       const std::vector<std::string>& params, const std::vector<std::string>& metrics,
                       const std::vector<std::string>& tags, bool include_deleted) {
  const store::RunFilter f = make_filter(name, status, since, until, params, metrics, tags, include_deleted);
  std::vector<std::string> warnings;
  std::vector<json> runs;
  {
    nb::gil_scoped_release release;
    runs = s.list(f, &warnings, /*sync_files=*/false);
  }
  nb::list out;
  for (const auto& r : runs) out.append(from_json(r));
  return nb::make_tuple(out, warning_list(warnings));
}

// {rank, world_size, local_rank, attempt, launcher, job_key} from Python; types checked by to_json's caller.
store::ShardStart shard_start(nb::handle h) {
  const json j = to_json(h);
  if (!j.is_object()) throw InputError("shard: expected a dict {rank, world_size, ...}");
  const auto integer = [&](const char* key, int fallback) {
    if (!j.contains(key)) return fallback;
    if (!j[key].is_number_integer()) throw InputError(std::string("shard: '") + key + "' must be an integer");
    const long long v = j[key].get<long long>();
    if (v < -1 || v > kMaxWorldSize) throw InputError(std::string("shard: '") + key + "' is out of range");
    return static_cast<int>(v);
  };
  const auto text = [&](const char* key) {
    if (!j.contains(key)) return std::string();
    if (!j[key].is_string()) throw InputError(std::string("shard: '") + key + "' must be a string");
    return j[key].get<std::string>();
  };
  store::ShardStart s;
  s.rank = integer("rank", 0);
  s.world_size = integer("world_size", 1);
  s.local_rank = integer("local_rank", -1);
  s.attempt = integer("attempt", 0);
  s.launcher = text("launcher");
  s.job_key = text("job_key");
  return s;
}

nb::dict problems_of(const Experiment& e) { return nb::borrow<nb::dict>(from_json(e.write_problems().to_json())); }

}  // namespace

void add_store(nb::module_& m) {
  nb::class_<Experiment>(m, "_Experiment", "One run of an experiment (engine side of codedag.Experiment).")
      .def(nb::init<std::string, std::string>(), nb::arg("name"), nb::arg("home") = "")
      .def_static(
          "open",
          [](const std::string& id, const std::string& home) {
            nb::gil_scoped_release release;
            return Experiment::open_existing(id, home);
          },
          nb::arg("id"), nb::arg("home") = "", "A view of a recorded run (test_name, name/test_name or a prefix).")
      .def(
          "start",
          [](Experiment& e, const std::vector<std::string>& argv, const std::string& executable, const std::string& cwd,
             nb::handle extra, bool heartbeat, double lease_seconds, double flush_interval) {
            store::StartOptions o;
            o.argv = argv;
            o.executable = executable;
            o.cwd = cwd;
            o.extra = to_json(extra);
            o.heartbeat = heartbeat;
            o.lease_seconds = lease_seconds;
            o.flush_interval = flush_interval;
            nb::gil_scoped_release release;
            e.start(o);
          },
          nb::arg("argv"), nb::arg("executable"), nb::arg("cwd"), nb::arg("extra"), nb::arg("heartbeat") = true,
          nb::arg("lease_seconds") = 0.0, nb::arg("flush_interval") = 0.5)
      .def(
          "adopt",
          [](Experiment& e, const std::string& id, const std::string& executable, const std::string& cwd,
             nb::handle extra, bool heartbeat, double lease_seconds, int attempt) {
            store::StartOptions o;
            o.executable = executable;
            o.cwd = cwd;
            o.extra = to_json(extra);
            o.heartbeat = heartbeat;
            o.lease_seconds = lease_seconds;
            o.attempt = attempt;
            nb::gil_scoped_release release;
            e.adopt(id, o);
          },
          nb::arg("id"), nb::arg("executable"), nb::arg("cwd"), nb::arg("extra"), nb::arg("heartbeat") = true,
          nb::arg("lease_seconds") = 0.0, nb::arg("attempt") = 0)
      .def(
          "join_shard",
          [](Experiment& e, const std::string& id, nb::handle shard, const std::string& cwd, bool heartbeat,
             double lease_seconds) {
            const store::ShardStart s = shard_start(shard);
            store::StartOptions o;
            o.cwd = cwd;
            o.heartbeat = heartbeat;
            o.lease_seconds = lease_seconds;
            nb::gil_scoped_release release;
            e.join_shard(id, s, o);
          },
          nb::arg("id"), nb::arg("shard"), nb::arg("cwd"), nb::arg("heartbeat") = true, nb::arg("lease_seconds") = 0.0,
          "Rank k > 0 of a distributed job joins run `id` as its shard.")
      .def(
          "record_shard",
          [](Experiment& e, nb::handle shard) {
            const store::ShardStart s = shard_start(shard);
            nb::gil_scoped_release release;
            e.record_shard(s);
          },
          nb::arg("shard"), "Rank 0 records its shard of the run it started or adopted.")
      .def_prop_ro("rank", &Experiment::rank)
      .def(
          "end",
          [](Experiment& e, const std::string& status, nb::handle details) {
            const json d = to_json(details);
            {
              nb::gil_scoped_release release;
              e.end(status, d);
            }
            return problems_of(e);
          },
          nb::arg("status"), nb::arg("details"),
          "Ends the run; returns what could not be written (see write_problems).")
      .def_prop_ro("name", &Experiment::name)
      .def_prop_ro("test_name", &Experiment::test_name)
      .def_prop_ro("info_dir", &Experiment::info_dir)
      .def_prop_ro("blob_dir", &Experiment::blob_dir)
      .def_prop_ro("cache_dir", &Experiment::cache_dir)
      .def_prop_ro("heartbeat_file", &Experiment::heartbeat_file)
      .def_prop_ro("home", &Experiment::home)
      .def_prop_ro("running", &Experiment::running)
      .def_prop_ro("started", &Experiment::started)
      .def_prop_ro("is_view", &Experiment::is_view)
      .def("dump_info",
           [](Experiment& e, const std::string& key, nb::handle value) { e.dump_info(key, to_json(value)); })
      .def("dump_metric", [](Experiment& e, const std::string& key, double value, const std::string& cmp,
                             nb::handle extra) { return from_json(e.dump_metric(key, value, cmp, to_json(extra))); })
      // The hot path: no JSON, no dict, one mutex and a buffer append in C++.
      .def("log_metric", &Experiment::log_metric, nb::arg("key"), nb::arg("value"), nb::arg("step").none())
      .def("flush_metrics", &Experiment::flush_metrics)
      .def("add_tag", &Experiment::add_tag)
      .def("add_note", &Experiment::add_note)
      .def("attach", &Experiment::attach, nb::arg("kind"), nb::arg("path"))
      .def(
          "snapshot_code",
          [](Experiment& e, uint64_t max_file_bytes, uint64_t max_total_bytes) {
            store::SnapshotOptions o{max_file_bytes, max_total_bytes};
            json r;
            {
              nb::gil_scoped_release release;
              r = e.snapshot_code(o);
            }
            return from_json(r);
          },
          nb::arg("max_file_bytes"), nb::arg("max_total_bytes"))
      .def("link_rerun", &Experiment::link_rerun)
      .def("merge_fields", [](Experiment& e, nb::handle fields) { e.merge_fields(to_json(fields)); })
      .def("write_problems", &problems_of,
           "What could not be written so far: {error, record_changes_pending, metric_bytes_pending, "
           "metric_lines_dropped, heartbeat_error}.")
      .def("record", [](Experiment& e) { return from_json(e.record()); });

  nb::class_<Store>(m, "_Store", "A store of runs: files under CODEDAG_HOME plus their SQLite index.")
      .def(nb::init<std::string>(), nb::arg("home") = "")
      .def_prop_ro("home", [](Store& s) { return s.layout().home(); })
      .def("list", &list_runs, nb::arg("name") = "", nb::arg("status") = "", nb::arg("since") = 0.0,
           nb::arg("until") = 0.0, nb::arg("params") = std::vector<std::string>{},
           nb::arg("metrics") = std::vector<std::string>{}, nb::arg("tags") = std::vector<std::string>{},
           nb::arg("include_deleted") = false, "Runs matching the filters as (JSON array bytes, warnings).")
      .def("list_objects", &list_objects, nb::arg("name") = "", nb::arg("status") = "", nb::arg("since") = 0.0,
           nb::arg("until") = 0.0, nb::arg("params") = std::vector<std::string>{},
           nb::arg("metrics") = std::vector<std::string>{}, nb::arg("tags") = std::vector<std::string>{},
           nb::arg("include_deleted") = false,
           "Runs matching the filters as (list of dicts, warnings), built from the index summaries in C++.")
      .def(
          "sync",
          [](Store& s) {
            std::vector<std::string> warnings;
            {
              nb::gil_scoped_release release;
              s.sync(&warnings);
              for (auto& n : s.take_notices()) warnings.push_back(std::move(n));
            }
            return nb::make_tuple(sync_report(s.last_sync()), warning_list(warnings));
          },
          "Brings the index in line with the files; returns (how: {path, reason, ...}, warnings).")
      .def_prop_ro(
          "last_sync", [](Store& s) { return sync_report(s.last_sync()); },
          "How the last sync of this Store ran: {path: 'journal' | 'full' | '', reason, journal_lines, checked, "
          "changed, removed}.")
      .def("list_parsed", &list_parsed, nb::arg("name") = "", nb::arg("status") = "", nb::arg("since") = 0.0,
           nb::arg("until") = 0.0, nb::arg("params") = std::vector<std::string>{},
           nb::arg("metrics") = std::vector<std::string>{}, nb::arg("tags") = std::vector<std::string>{},
           nb::arg("include_deleted") = false, "Runs matching the filters as (list of dicts, warnings).")
      .def(
          "retrieve",
          [](Store& s, const std::string& id) {
            std::vector<std::string> warnings;
            json run;
            {
              nb::gil_scoped_release release;
              const store::RunRef ref = s.resolve(id);
              const store::RunId rid = ref.id();
              run = s.check_liveness(ref, store::load_run(ref.info_dir, &rid), &warnings);
              run["info_dir"] = ref.info_dir;
              run["blob_dir"] = s.layout().blob_dir(ref.name, ref.test_name);
              run["cache_dir"] = s.layout().cache_dir(ref.name, ref.test_name);
              for (auto& n : s.take_notices()) warnings.push_back(std::move(n));
            }
            return nb::make_tuple(from_json(run), warning_list(warnings));
          },
          nb::arg("id"), "The full run.json of one run (test_name, name/test_name or a unique prefix).")
      .def(
          "series",
          [](Store& s, const std::string& id) {
            std::vector<std::string> warnings;
            store::MetricSeries series;
            {
              nb::gil_scoped_release release;
              const store::RunRef ref = s.resolve(id);
              series = store::read_metric_series(ref.info_dir + "/" + store::kMetricsFile, warnings);
              for (auto& n : s.take_notices()) warnings.push_back(std::move(n));
            }
            return nb::make_tuple(from_json(series.series), warning_list(warnings));
          },
          nb::arg("id"), "Metric series of a run: {key: [[step, value, t], ...]} and warnings.")
      .def(
          "shards",
          [](Store& s, const std::string& id) {
            std::vector<std::string> warnings;
            json out = json::array();
            {
              nb::gil_scoped_release release;
              const store::RunRef ref = s.resolve(id);
              for (json& shard : store::read_shards(ref.info_dir, warnings)) {
                const int rank = shard.value("rank", 0);
                shard["series"] =
                    store::read_metric_series(store::rank_metrics_file(ref.info_dir, rank), warnings).series;
                out.push_back(std::move(shard));
              }
            }
            return nb::make_tuple(from_json(out), warning_list(warnings));
          },
          nb::arg("id"), "The shards of a distributed run, each with its rank's metric series, and warnings.")
      .def("rebuild",
           [](Store& s) {
             std::vector<std::string> warnings;
             size_t n;
             {
               nb::gil_scoped_release release;
               n = s.rebuild(warnings);
               for (auto& m : s.take_notices()) warnings.push_back(std::move(m));
             }
             return nb::make_tuple(n, warning_list(warnings));
           })
      .def("tag", [](Store& s, const std::string& id, const std::string& label) {
        if (label.empty() || label.find('\0') != std::string::npos)
          throw InputError("tag: the label is empty or contains a NUL character");
        s.update(s.resolve(id), [&](json& r) {
          if (!r["tags"].is_array()) r["tags"] = json::array();
          for (const auto& t : r["tags"])
            if (t == label) return;
          r["tags"].push_back(label);
        });
      });
  m.def("default_lease_seconds", &store::default_lease_seconds);

  // Distributed jobs (shard.hpp, rendezvous.hpp, common/process_rank.hpp).
  m.def(
      "process_rank",
      [] {
        const ProcessRank r = process_rank();
        return nb::make_tuple(r.rank, r.world_size, r.local_rank, r.source);
      },
      "(rank, world_size, local_rank, source) from the launcher's environment; -1 when unknown.");
  m.def("set_known_rank", &set_known_rank, nb::arg("rank"), nb::arg("world_size"));
  m.def("launcher_job", [] {
    const store::JobIdentity j = store::launcher_job();
    return nb::make_tuple(j.launcher, j.key);
  });
  m.def(
      "publish_rendezvous",
      [](const std::string& home, const std::string& key, const std::string& run_id, int attempt) {
        nb::gil_scoped_release release;
        store::publish_rendezvous(store::Layout(home).home(), key, run_id, attempt);
      },
      nb::arg("home"), nb::arg("job_key"), nb::arg("run_id"), nb::arg("attempt"));
  m.def(
      "await_rendezvous",
      [](const std::string& home, const std::string& key, int attempt, double not_before, double timeout) {
        store::RendezvousEntry e;
        {
          nb::gil_scoped_release release;  // waits: other threads (and Ctrl-C checks) go on
          e = store::await_rendezvous(store::Layout(home).home(), key, attempt, not_before, timeout);
        }
        return e.run_id;
      },
      nb::arg("home"), nb::arg("job_key"), nb::arg("attempt"), nb::arg("not_before"), nb::arg("timeout"));
  m.def(
      "read_rendezvous",
      [](const std::string& home, const std::string& key) -> nb::object {
        const auto e = store::read_rendezvous(store::rendezvous_file(store::Layout(home).home(), key));
        if (!e) return nb::none();
        return from_json(e->to_json());
      },
      nb::arg("home"), nb::arg("job_key"));
  m.def("process_start_time", &store::process_start_time);
  m.def("default_rendezvous_timeout", &store::default_rendezvous_timeout);
  m.def(
      "rank_log_file", [](const std::string& info_dir, int rank) { return store::rank_log_file(info_dir, rank); },
      nb::arg("info_dir"), nb::arg("rank"));
  m.def(
      "rank_log_tail",
      [](const std::string& info_dir, int rank, size_t lines) {
        return term::printable(store::rank_log_tail(info_dir, rank, lines), /*keep_newlines=*/true);
      },
      nb::arg("info_dir"), nb::arg("rank"), nb::arg("lines") = 20);
}

}  // namespace codedag::bindings
