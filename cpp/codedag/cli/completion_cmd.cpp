// codedag completion bash|zsh|fish: a shell completion script written from the subcommand table
// itself (the CLI::App tree main.cpp builds), so a new subcommand or option completes with no edit
// here. Install: `source <(codedag completion bash)` (~/.bashrc), the same for zsh, and
// `codedag completion fish | source` (config.fish).
#include <iostream>
#include <memory>
#include <sstream>

#include "codedag/cli/command.hpp"
#include "codedag/cli/usage.hpp"

namespace codedag::cli {
namespace {

// One command of the tree: its words after "codedag" ("dag svg"), subcommands and option names.
struct CommandEntry {
  std::string path;  // "" for codedag itself
  std::vector<std::string> subcommands;
  std::vector<std::pair<std::string, std::string>> options;  // "--status" -> description
  std::string description;
};

void collect(const CLI::App& app, const std::string& path, std::vector<CommandEntry>& out) {
  CommandEntry e{path, {}, {}, app.get_description()};
  for (const CLI::App* s : visible_subcommands(app)) e.subcommands.push_back(s->get_name());
  for (const CLI::Option* o : app.get_options()) {
    for (const std::string& l : o->get_lnames()) e.options.emplace_back("--" + l, o->get_description());
    for (const std::string& s : o->get_snames()) e.options.emplace_back("-" + s, o->get_description());
  }
  out.push_back(e);
  for (const CLI::App* s : visible_subcommands(app))
    collect(*s, path.empty() ? s->get_name() : path + " " + s->get_name(), out);
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// Option and command names are ours ([A-Za-z0-9_-]); descriptions are quoted for fish.
std::string fish_quote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// bash (and zsh through bashcompinit): the words typed so far are walked down the tree; at a group
// the subcommands complete, at a command its options, and other words fall back to file names.
std::string bash_script(const std::vector<CommandEntry>& table) {
  std::ostringstream s;
  s << "# codedag shell completion (bash), written by `codedag completion bash`.\n"
       "_codedag() {\n"
       "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" path=\"\" i w\n"
       "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
       "    w=\"${COMP_WORDS[i]}\"\n"
       "    case \"$path|$w\" in\n";
  for (const CommandEntry& e : table)
    for (const std::string& sub : e.subcommands)
      s << "      \"" << e.path << "|" << sub << "\") path=\"" << (e.path.empty() ? sub : e.path + " " + sub)
        << "\" ;;\n";
  s << "    esac\n"
       "  done\n"
       "  local subs=\"\" opts=\"\"\n"
       "  case \"$path\" in\n";
  for (const CommandEntry& e : table) {
    std::vector<std::string> opts;
    for (const auto& [name, desc] : e.options) opts.push_back(name);
    s << "    \"" << e.path << "\") subs=\"" << joined(e.subcommands) << "\"; opts=\"" << joined(opts) << "\" ;;\n";
  }
  s << "  esac\n"
       "  if [[ \"$cur\" == -* ]]; then\n"
       "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
       "  elif [[ -n \"$subs\" ]]; then\n"
       "    COMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
       "  else\n"
       "    COMPREPLY=()  # files, through -o default\n"
       "  fi\n"
       "}\n"
       "complete -o default -F _codedag codedag\n";
  return s.str();
}

std::string zsh_script(const std::vector<CommandEntry>& table) {
  return "# codedag shell completion (zsh), written by `codedag completion zsh`: the bash completion\n"
         "# through zsh's bashcompinit.\n"
         "autoload -U +X compinit && { (( $+functions[compdef] )) || compinit; }\n"
         "autoload -U +X bashcompinit && bashcompinit\n" +
         bash_script(table);
}

std::string fish_script(const std::vector<CommandEntry>& table) {
  std::ostringstream s;
  s << "# codedag shell completion (fish), written by `codedag completion fish`.\n"
       "complete -c codedag -f\n";
  for (const CommandEntry& e : table) {
    // The condition: every word of the path seen (subcommand names of one level are distinct).
    std::string seen;
    if (!e.path.empty()) {
      std::istringstream words(e.path);
      for (std::string w; words >> w;)
        seen += std::string(seen.empty() ? "" : "; and ") + "__fish_seen_subcommand_from " + w;
    }
    const std::string level = e.subcommands.empty() ? "" : "not __fish_seen_subcommand_from " + joined(e.subcommands);
    const std::string sub_condition = seen.empty() ? level : seen + "; and " + level;
    for (const std::string& sub : e.subcommands) {
      std::string desc;
      for (const CommandEntry& child : table)
        if (child.path == (e.path.empty() ? sub : e.path + " " + sub)) desc = child.description;
      s << "complete -c codedag -n " << fish_quote(sub_condition) << " -a " << sub << " -d " << fish_quote(desc)
        << "\n";
    }
    for (const auto& [name, desc] : e.options) {
      const bool long_name = name.rfind("--", 0) == 0;
      s << "complete -c codedag" << (seen.empty() ? "" : " -n " + fish_quote(seen)) << (long_name ? " -l " : " -s ")
        << name.substr(long_name ? 2 : 1) << " -d " << fish_quote(desc) << "\n";
    }
    if (e.subcommands.empty() && !e.path.empty()) s << "complete -c codedag -n " << fish_quote(seen) << " -F\n";
  }
  return s.str();
}

}  // namespace

void add_completion_command(CLI::App& app, Context& /*ctx*/) {
  auto shell = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("completion",
                                 "Print a shell completion script: source <(codedag completion bash), "
                                 "the same for zsh, or codedag completion fish | source");
  cmd->add_option("shell", *shell, "bash, zsh or fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
  CLI::App* root = &app;
  cmd->callback([shell, root] {
    std::vector<CommandEntry> table;
    collect(*root, "", table);
    std::cout << (*shell == "bash" ? bash_script(table) : *shell == "zsh" ? zsh_script(table) : fish_script(table));
  });
}

}  // namespace codedag::cli
