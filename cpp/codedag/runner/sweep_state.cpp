#include "codedag/runner/sweep_state.hpp"

#include <algorithm>
#include <map>

#include "codedag/runner/cell_run.hpp"
#include "codedag/store/process_identity.hpp"
#include "codedag/store/run_file.hpp"

namespace codedag::runner {

const AttemptState* CellState::current() const {
  const AttemptState* last = nullptr;
  for (const auto& a : attempts)
    if (a.status == "finished") return &a;
  for (const auto& a : attempts)
    if (a.status == "running" || a.status == "queued") last = &a;
  if (last) return last;
  return attempts.empty() ? nullptr : &attempts.back();
}

bool local_launcher_alive(const json& launcher) {
  if (!launcher.is_object() || !launcher.contains("process")) return false;
  return store::liveness(store::ProcessIdentity::from_json(launcher["process"])) != store::Liveness::gone;
}

std::vector<CellState> load_cell_states(store::Store& store, const SweepDir& dir, const Manifest& m,
                                        std::vector<std::string>* warnings, bool live_check,
                                        const QueuedAliveCheck& queued_alive) {
  std::vector<CellState> states(m.cells.size());
  for (size_t i = 0; i < states.size(); ++i) states[i].cell = static_cast<int>(i);
  std::map<std::string, bool> seen;
  for (const AttemptEntry& e : read_attempts(dir, m.cells.size(), warnings)) {
    if (seen[e.run]) continue;  // a line written twice
    seen[e.run] = true;
    AttemptState a;
    a.attempt = e.attempt;
    a.ref = store::RunRef{e.name, e.run, store.layout().info_dir(e.name, e.run)};
    try {
      a.record = store::load_run(a.ref.info_dir);
      if (live_check) {
        const std::string status = run_status(a.record);
        if (status == "running") {
          a.record = store.check_liveness(a.ref, a.record, warnings);
        } else if (status == "queued" && !queued_alive(a.record.value("launcher", json::object()))) {
          give_up_queued_run(store, a.ref, "never started: the sweep that queued it stopped first");
          a.record = store::load_run(a.ref.info_dir);
        }
      }
      a.status = run_status(a.record);
    } catch (const std::exception& ex) {
      // The run's files are gone (rm + gc) or damaged: the attempt counts as dead.
      if (warnings) warnings->push_back(std::string(ex.what()) + " (attempt counted as dead)");
      a.record = json::object();
      a.status = "dead";
    }
    states[static_cast<size_t>(e.cell)].attempts.push_back(std::move(a));
  }
  for (CellState& s : states) {
    std::sort(s.attempts.begin(), s.attempts.end(),
              [](const AttemptState& x, const AttemptState& y) { return x.attempt < y.attempt; });
    const AttemptState* cur = s.current();
    s.status = cur ? cur->status : "pending";
  }
  return states;
}

std::vector<int> cells_to_resume(const std::vector<CellState>& states, bool retry_failed) {
  std::vector<int> out;
  for (const CellState& s : states) {
    if (s.status == "finished" || s.in_flight()) continue;
    if (s.status == "failed" && !retry_failed) continue;
    out.push_back(s.cell);
  }
  return out;
}

std::vector<std::pair<std::string, int>> count_statuses(const std::vector<CellState>& states) {
  static const char* const order[] = {"finished", "running",     "queued", "failed",
                                      "killed",   "interrupted", "dead",   "pending"};
  std::vector<std::pair<std::string, int>> out;
  for (const char* status : order) {
    const int n = static_cast<int>(
        std::count_if(states.begin(), states.end(), [&](const CellState& s) { return s.status == status; }));
    if (n) out.emplace_back(status, n);
  }
  return out;
}

}  // namespace codedag::runner
