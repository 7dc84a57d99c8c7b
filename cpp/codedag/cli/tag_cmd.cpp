// codedag tag ID LABEL: add (or --remove) a label on a run.
#include <memory>

#include "codedag/cli/command.hpp"
#include "codedag/cli/store_cli.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/store/store.hpp"

namespace codedag::cli {
namespace {

struct TagOptions {
  std::string id, label;
  bool remove = false;
};

void run_tag(const TagOptions& o) {
  if (o.label.empty()) throw InputError("the label is empty: codedag tag ID \"a label\"");
  store::Store s = open_store();
  const store::RunRef ref = s.resolve(o.id);
  bool changed = false;
  s.update(ref, [&](json& r) {
    json& tags = r["tags"];
    if (!tags.is_array()) tags = json::array();
    json kept = json::array();
    bool present = false;
    for (const auto& t : tags) {
      if (t == o.label) present = true;
      if (!(o.remove && t == o.label)) kept.push_back(t);
    }
    if (!o.remove && !present) kept.push_back(o.label);
    changed = o.remove ? present : !present;
    tags = kept;
  });
  term::Printer out;
  const std::string label = term::printable(o.label);
  if (o.remove)
    changed ? out.ok("removed tag \"" + label + "\" from " + ref.test_name)
            : out.warn(ref.test_name + " has no tag \"" + label + "\"");
  else
    changed ? out.ok("tagged " + ref.test_name + " \"" + label + "\"")
            : out.info(ref.test_name + " already has tag \"" + label + "\"");
}

}  // namespace

void add_tag_command(CLI::App& app, Context& /*ctx*/) {
  auto o = std::make_shared<TagOptions>();
  auto* cmd = app.add_subcommand("tag", "Label a run (codedag ls --tag LABEL finds it)");
  cmd->add_option("id", o->id, "Run id")->required();
  cmd->add_option("label", o->label, "The label")->required();
  cmd->add_flag("--remove", o->remove, "Remove the label instead");
  cmd->callback([o] { run_tag(*o); });
}

}  // namespace codedag::cli
