#pragma once
// What the CLI says when it is used wrongly: the command list for a bare `codedag`, the nearest
// command for a mistyped one, and for every parser error a ✗ line, the usage and the fix. All of it
// read from the subcommand table itself (the CLI::App tree), so a new subcommand is covered with no
// edit here.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "codedag/common/terminal.hpp"

namespace codedag::cli {

// The deepest subcommand that argv names ("codedag dag svg" -> the svg App) and where its own
// arguments start. `unknown` is the first word that stood where a subcommand was expected and is
// none (empty when there is no such word).
struct CommandPath {
  CLI::App* app = nullptr;
  std::string words = "codedag";  // "codedag dag svg"
  int next = 1;                   // index in argv after the last subcommand word
  std::string unknown;
};
CommandPath command_path(CLI::App& root, int argc, const char* const* argv);

// The named, enabled subcommands of `app`, in the order they were added.
std::vector<const CLI::App*> visible_subcommands(const CLI::App& app);

// Candidates within a small edit distance of `word` (or starting with it), nearest first.
std::vector<std::string> nearest(const std::string& word, const std::vector<std::string>& candidates);

// A check for an option that counts something: a whole number in [minimum, maximum], else the
// error names the option's value and the range ("a whole number from 1 to 1024, got '-1'").
CLI::Validator whole_number(long long minimum, long long maximum);

// The same, or one keyword ("auto"): "'auto' or a whole number from 0 to 4096, got '-5'".
CLI::Validator whole_number_or(const std::string& keyword, long long minimum, long long maximum);

// A positive, finite decimal number ("seconds" names the unit in the message): "1.5", "30".
CLI::Validator positive_number(const std::string& unit);

// Before parsing: a missing or mistyped subcommand. Prints the ✗ line, the suggestion and the list
// to `err` and returns true when argv has such a problem (the caller exits 2).
bool reject_missing_subcommand(CLI::App& root, int argc, const char* const* argv, term::Printer& err);

// A parser error (not --help/--version) as ✗ message, usage and fix.
void print_usage_error(CLI::App& root, const CLI::ParseError& e, int argc, const char* const* argv, term::Printer& err);

}  // namespace codedag::cli
