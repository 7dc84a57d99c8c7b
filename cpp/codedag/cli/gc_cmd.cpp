// codedag gc: erase the runs marked deleted (files, blobs, cache, snapshot ref) and what killed
// processes left behind (temporary files, restore staging directories).
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/cli/store_cli.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/store.hpp"

namespace codedag::cli {
namespace {

struct GcOptions {
  bool dry_run = false;
};

void run_gc(const GcOptions& o) {
  store::Store s = open_store();
  term::Printer out;
  store::RunFilter f;
  f.index.only_deleted = true;
  std::vector<std::string> warnings;
  const std::vector<json> marked = s.list(f, &warnings);
  out.header("gc", {{"store", term::printable(s.layout().home())}, {"marked deleted", std::to_string(marked.size())}});
  if (o.dry_run) {
    print_warnings(warnings);
    for (const auto& r : marked)
      out.info("would erase " +
               term::printable(r.value("name", std::string()) + "/" + r.value("test_name", std::string())));
    if (marked.empty()) out.info("nothing is marked deleted (`codedag rm ID` marks a run)");
    return;
  }
  warnings.clear();
  const std::vector<std::string> erased = s.collect_garbage(warnings);
  print_warnings(warnings);
  for (const auto& t : erased) out.ok("erased " + term::printable(t));
  const std::vector<std::string> swept = s.sweep_leftovers();
  for (const auto& p : swept) out.info("removed leftover " + term::printable(p));
  if (erased.empty() && swept.empty()) out.info("nothing to erase (`codedag rm ID` marks a run for gc)");
  out.summary("gc", static_cast<int>(erased.size()),
              static_cast<int>(marked.size() - std::min(marked.size(), erased.size())));
}

}  // namespace

void add_gc_command(CLI::App& app, Context& /*ctx*/) {
  auto o = std::make_shared<GcOptions>();
  auto* cmd = app.add_subcommand(
      "gc", "Erase for good the runs marked deleted by codedag rm, and leftovers of killed processes");
  cmd->add_flag("--dry-run", o->dry_run, "List what would be erased");
  cmd->callback([o] { run_gc(*o); });
}

}  // namespace codedag::cli
