// codedag index rebuild | status: the SQLite index of the store.
#include <chrono>
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/store.hpp"

namespace codedag::cli {
namespace {

void run_rebuild(Context& ctx) {
  store::Store s;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> warnings;
  const size_t n = s.rebuild(warnings);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  term::Printer out;
  for (const auto& w : warnings) term::Printer(stderr).warn(w);
  out.ok("index " + s.index().path() + " rebuilt from " + std::to_string(n) + " run files");
  out.summary("runs indexed", static_cast<int>(n), static_cast<int>(warnings.size()), secs);
  if (!warnings.empty()) ctx.exit_code = 1;
}

void run_status() {
  store::Store s;
  store::IndexQuery q;
  q.include_deleted = true;
  const size_t rows = s.index().list(q).size();
  term::Printer out;
  out.header("index", {{"file", s.index().path()},
                       {"schema version", std::to_string(s.index().schema_version())},
                       {"runs", std::to_string(rows)}});
}

}  // namespace

void add_index_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("index", "The store's SQLite index (a cache of the run files)");
  cmd->require_subcommand(1);
  cmd->add_subcommand("rebuild", "Recreate the index from the run files (after copying runs in, or damage)")
      ->callback([&ctx] { run_rebuild(ctx); });
  cmd->add_subcommand("status", "Where the index is, its schema version and size")->callback([] { run_status(); });
}

}  // namespace codedag::cli
