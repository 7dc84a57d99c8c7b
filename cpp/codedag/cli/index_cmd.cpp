// codedag index rebuild | status: the SQLite index of the store (a cache of the run files).
#include <chrono>
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/cli/store_cli.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/store.hpp"

namespace codedag::cli {
namespace {

void run_rebuild(Context& ctx) {
  store::Store s = open_store();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> warnings;
  const size_t n = s.rebuild(warnings);
  const std::vector<std::string> swept = s.sweep_leftovers();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  term::Printer out;
  print_warnings(warnings);
  for (const auto& p : swept) out.info("removed leftover " + term::printable(p));
  out.ok("index " + term::printable(s.index().path()) + " rebuilt from " + std::to_string(n) + " run file" +
         (n == 1 ? "" : "s"));
  if (n == 0 && warnings.empty())
    out.info("the store has no runs yet (" + term::printable(s.layout().info_root()) + ")");
  out.summary("runs indexed", static_cast<int>(n), static_cast<int>(warnings.size()), secs);
  if (!warnings.empty()) ctx.exit_code = 1;
}

void run_status() {
  store::Store s = open_store();
  store::IndexQuery q;
  q.include_deleted = true;
  const size_t rows = s.index().list(q).size();
  const store::IndexPlacement& p = s.index().placement();
  term::Printer out;
  std::vector<std::pair<std::string, std::string>> fields = {
      {"store", term::printable(s.layout().home())},
      {"file", term::printable(p.path)},
      {"journal", p.wal ? "WAL" : "rollback journal, writes serialised by " + term::printable(p.lock_path)},
      {"schema version", std::to_string(s.index().schema_version())},
      {"runs", std::to_string(rows)}};
  if (!p.why.empty()) fields.emplace_back("why here", term::printable(p.why));
  out.header("index", fields);
}

}  // namespace

void add_index_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("index", "The store's SQLite index (a cache of the run files)");
  cmd->require_subcommand(1);
  cmd->add_subcommand("rebuild", "Recreate the index from the run files (after copying runs in, or damage)")
      ->callback([&ctx] { run_rebuild(ctx); });
  cmd->add_subcommand("status", "Where the index is (and why), its journal, schema version and size")->callback([] {
    run_status();
  });
}

}  // namespace codedag::cli
