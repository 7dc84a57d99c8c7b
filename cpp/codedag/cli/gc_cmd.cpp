// codedag gc: erase the runs marked deleted (files, blobs, cache, snapshot ref).
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/store.hpp"

namespace codedag::cli {
namespace {

struct GcOptions {
  bool dry_run = false;
};

void run_gc(const GcOptions& o) {
  store::Store s;
  term::Printer out;
  store::RunFilter f;
  f.index.only_deleted = true;
  const std::vector<json> marked = s.list(f);
  out.header("gc", {{"store", s.layout().home()}, {"marked deleted", std::to_string(marked.size())}});
  if (o.dry_run) {
    for (const auto& r : marked)
      out.info("would erase " + r.value("name", std::string()) + "/" + r.value("test_name", std::string()));
    return;
  }
  const std::vector<std::string> erased = s.collect_garbage();
  for (const auto& t : erased) out.ok("erased " + t);
  out.summary("gc", static_cast<int>(erased.size()), 0);
}

}  // namespace

void add_gc_command(CLI::App& app, Context& /*ctx*/) {
  auto o = std::make_shared<GcOptions>();
  auto* cmd = app.add_subcommand("gc", "Erase for good the runs marked deleted by codedag rm");
  cmd->add_flag("--dry-run", o->dry_run, "List what would be erased");
  cmd->callback([o] { run_gc(*o); });
}

}  // namespace codedag::cli
