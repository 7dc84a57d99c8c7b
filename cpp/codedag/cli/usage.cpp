#include "codedag/cli/usage.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace codedag::cli {
namespace {

// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
// neighbours ("shwo" -> "show") each cost 1. Words here are command and option names: short.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

bool is_help_or_version(const char* arg) {
  return std::strcmp(arg, "-h") == 0 || std::strcmp(arg, "--help") == 0 || std::strcmp(arg, "--version") == 0;
}

bool has_positionals(const CLI::App& app) {
  return !app.get_options([](const CLI::Option* o) { return o->get_positional(); }).empty();
}

std::string usage_line(const CLI::App& app, const std::string& words) {
  // CLI11's own usage line (the formatter every command uses unless it sets another).
  std::string u = CLI::Formatter().make_usage(&app, words);
  while (!u.empty() && (u.back() == '\n' || u.back() == '\r')) u.pop_back();
  const std::string label = "Usage: ";
  return u.rfind(label, 0) == 0 ? u.substr(label.size()) : u;
}

void print_command_list(const CLI::App& app, const std::string& words, term::Printer& err) {
  const std::vector<const CLI::App*> subs = visible_subcommands(app);
  size_t width = 0;
  for (const CLI::App* s : subs) width = std::max(width, s->get_name().size());
  err.line();
  err.line("commands of " + words + ":");
  for (const CLI::App* s : subs)
    err.line("  " + s->get_name() + std::string(width - s->get_name().size() + 2, ' ') + s->get_description());
  err.line();
  err.info("`" + words + " COMMAND --help` shows a command's options");
}

// Long option names of `app` as typed (--limit), for "did you mean" on a mistyped option.
std::vector<std::string> option_words(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* o : app.get_options()) {
    for (const std::string& l : o->get_lnames()) out.push_back("--" + l);
    for (const std::string& s : o->get_snames()) out.push_back("-" + s);
  }
  return out;
}

// The word after "not expected:" in CLI11's ExtrasError message (the first extra argument).
std::string first_extra(const std::string& message) {
  const size_t colon = message.find(": ");
  if (colon == std::string::npos) return {};
  std::string rest = message.substr(colon + 2);
  const size_t space = rest.find(' ');
  return space == std::string::npos ? rest : rest.substr(0, space);
}

}  // namespace

std::vector<const CLI::App*> visible_subcommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* s) { return !s->get_disabled() && !s->get_name().empty(); });
}

std::vector<std::string> nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::vector<std::pair<size_t, std::string>> scored;
  const size_t allowed = word.size() <= 3 ? 1 : 2;
  for (const std::string& c : candidates) {
    const size_t d = edit_distance(word, c);
    const bool prefix = word.size() >= 2 && c.rfind(word, 0) == 0;
    if ((d <= allowed && d < c.size()) || prefix) scored.emplace_back(prefix ? std::min<size_t>(d, 1) : d, c);
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& [d, c] : scored)
    if (out.size() < 3) out.push_back(std::move(c));
  return out;
}

CLI::Validator whole_number(long long minimum, long long maximum) {
  const std::string range = "a whole number from " + std::to_string(minimum) + " to " + std::to_string(maximum);
  return CLI::Validator(
      [minimum, maximum, range](std::string& input) {
        errno = 0;
        char* end = nullptr;
        const long long v = std::strtoll(input.c_str(), &end, 10);
        if (input.empty() || *end != '\0' || errno == ERANGE || v < minimum || v > maximum)
          return range + ", got '" + term::printable(input) + "'";
        return std::string();
      },
      "INT " + std::to_string(minimum) + ".." + std::to_string(maximum));
}

CLI::Validator whole_number_or(const std::string& keyword, long long minimum, long long maximum) {
  const CLI::Validator number = whole_number(minimum, maximum);
  return CLI::Validator(
      [number, keyword](std::string& input) {
        if (input == keyword) return std::string();
        const std::string why = number(input);
        return why.empty() ? why : "'" + keyword + "' or " + why;
      },
      keyword + "|INT " + std::to_string(minimum) + ".." + std::to_string(maximum));
}

CLI::Validator positive_number(const std::string& unit) {
  return CLI::Validator(
      [unit](std::string& input) {
        errno = 0;
        char* end = nullptr;
        const double v = std::strtod(input.c_str(), &end);
        if (input.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v <= 0)
          return "a positive number of " + unit + " (e.g. 60 or 2.5), got '" + term::printable(input) + "'";
        return std::string();
      },
      "NUMBER > 0");
}

CommandPath command_path(CLI::App& root, int argc, const char* const* argv) {
  CommandPath p;
  p.app = &root;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (visible_subcommands(*p.app).empty()) break;  // a leaf: the rest is its own
    if (word == "--") break;
    if (!word.empty() && word[0] == '-') continue;  // groups take only flags (--help)
    CLI::App* sub = nullptr;
    for (const CLI::App* s : visible_subcommands(*p.app))
      if (s->check_name(word)) sub = p.app->get_subcommand(s->get_name());
    if (!sub) {
      if (!has_positionals(*p.app)) p.unknown = word;
      break;
    }
    p.app = sub;
    p.words += " " + sub->get_name();
    p.next = i + 1;
  }
  return p;
}

bool reject_missing_subcommand(CLI::App& root, int argc, const char* const* argv, term::Printer& err) {
  for (int i = 1; i < argc; ++i)
    if (is_help_or_version(argv[i])) return false;  // CLI11 answers those
  const CommandPath p = command_path(root, argc, argv);
  const std::vector<const CLI::App*> subs = visible_subcommands(*p.app);
  if (subs.empty() || p.app->get_require_subcommand_min() == 0) return false;
  if (!p.unknown.empty()) {
    std::vector<std::string> names;
    for (const CLI::App* s : subs) names.push_back(s->get_name());
    const std::vector<std::string> near = nearest(p.unknown, names);
    err.fail(p.words + ": unknown command '" + term::printable(p.unknown) + "'");
    if (!near.empty()) {
      std::string list;
      for (const auto& n : near) list += (list.empty() ? "`" : " or `") + p.words + " " + n + "`";
      err.line("  did you mean " + list + "?");
    }
    print_command_list(*p.app, p.words, err);
    return true;
  }
  bool rest_has_word = false;
  for (int i = p.next; i < argc; ++i) rest_has_word = rest_has_word || (argv[i][0] != '-');
  if (rest_has_word) return false;  // an option before the command: CLI11's error says which
  err.fail(p.words + ": give a command: " + usage_line(*p.app, p.words));
  print_command_list(*p.app, p.words, err);
  return true;
}

void print_usage_error(CLI::App& root, const CLI::ParseError& e, int argc, const char* const* argv,
                       term::Printer& err) {
  const CommandPath p = command_path(root, argc, argv);
  const std::string message = term::printable(e.what());
  err.fail(p.words + ": " + message);
  err.line("  usage: " + term::printable(usage_line(*p.app, p.words)));
  std::string fix;
  if (dynamic_cast<const CLI::RequiredError*>(&e)) {
    fix = "give what is missing, in the order the usage shows";
  } else if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    const std::string extra = first_extra(e.what());
    const std::vector<std::string> near = !extra.empty() && extra[0] == '-'
                                              ? nearest(extra.substr(0, extra.find('=')), option_words(*p.app))
                                              : std::vector<std::string>{};
    fix = near.empty() ? "leave out what was not expected" : "did you mean " + near.front() + "?";
  } else if (dynamic_cast<const CLI::ConversionError*>(&e) || dynamic_cast<const CLI::ValidationError*>(&e)) {
    fix = "give a value of the kind the option takes";
  } else if (dynamic_cast<const CLI::ArgumentMismatch*>(&e)) {
    fix = "give the option as many values as it takes";
  } else {
    fix = "correct the command line";
  }
  err.line("  fix: " + fix + "; `" + p.words + " --help` lists every option");
}

}  // namespace codedag::cli
