// codedag lint PATH...: training-code anti-patterns (seed 003), found with loop context, fixed where
// safe, and ranked by what they cost in a recorded run (--with-run).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include "codedag/cli/command.hpp"
#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/json_file.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/lint/fixes.hpp"
#include "codedag/lint/linter.hpp"
#include "codedag/lint/output.hpp"
#include "codedag/lint/rules.hpp"
#include "codedag/lint/run_evidence.hpp"

namespace codedag::cli {
namespace {

namespace fs = std::filesystem;
using namespace codedag::lint;

struct LintOptions {
  std::vector<std::string> paths;
  std::vector<std::string> select, extend_select, ignore;
  std::string output_format = "concise";
  std::string config;
  std::string with_run;
  bool statistics = false;
  bool fix = false;
  bool unsafe_fixes = false;
  bool diff = false;
  bool exit_zero = false;
  int jobs = 0;
};

// "CDL001,CDL002" and repeated flags, as one list.
std::vector<std::string> split_codes(const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  for (const auto& r : raw) {
    size_t start = 0;
    while (start <= r.size()) {
      size_t comma = r.find(',', start);
      if (comma == std::string::npos) comma = r.size();
      std::string code = r.substr(start, comma - start);
      code.erase(0, code.find_first_not_of(" \t"));
      code.erase(code.find_last_not_of(" \t") + 1);
      if (!code.empty()) out.push_back(code);
      start = comma + 1;
    }
  }
  return out;
}

// A selector must name at least one rule: CDL001, a prefix such as CDL00, or ALL.
void check_selectors(const std::vector<std::string>& codes, const std::string& where) {
  for (const auto& c : codes) {
    if (c == "ALL" || c == kFileProblemCode) continue;
    bool any = false;
    for (const Rule& r : rules()) any = any || std::string(r.code).rfind(c, 0) == 0;
    if (!any)
      throw InputError(where + ": unknown rule code '" + c +
                       "' (codes are CDL001 to CDL015, a prefix such as CDL00, "
                       "or ALL; `codedag lint --help` lists the rules)");
  }
}

size_t rules_enabled(const LintSettings& s) {
  size_t n = 0;
  for (const Rule& r : rules()) n += s.enabled(r.code, "") ? 1 : 0;
  return n;
}

// Replaces a file only if nobody changed it since it was read; keeps its permission bits.
bool write_fixed(const std::string& path, const std::string& original, const std::string& fixed, std::string& why) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    why = "it disappeared";
    return false;
  }
  std::string now;
  try {
    now = read_file(path);
  } catch (const Error& e) {
    why = e.what();
    return false;
  }
  if (now != original) {
    why = "it changed while being checked; run again";
    return false;
  }
  write_file_atomic(path, fixed);
  ::chmod(path.c_str(), st.st_mode & 07777);
  return true;
}

void progress_bar(size_t done, size_t total, void* arg) {
  static_cast<term::ProgressBar*>(arg)->update(done);
  (void)total;
}

void run_lint(const LintOptions& o, Context& ctx) {
  const OutputFormat format = parse_output_format(o.output_format);
  const bool human = format == OutputFormat::concise || format == OutputFormat::full;
  if (o.unsafe_fixes && !o.fix && !o.diff)
    throw InputError("--unsafe-fixes needs --fix or --diff (it says which fixes they may apply)");
  const std::vector<std::string> paths = o.paths.empty() ? std::vector<std::string>{"."} : o.paths;

  LintSettings settings = load_settings(
      fs::is_directory(paths.front()) ? paths.front() : fs::path(paths.front()).parent_path().string(), o.config);
  const std::string config_where = settings.config_path.empty() ? "" : settings.config_path;
  check_selectors(settings.select, config_where + " [tool.codedag.lint] select");
  check_selectors(settings.extend_select, config_where + " [tool.codedag.lint] extend-select");
  check_selectors(settings.ignore, config_where + " [tool.codedag.lint] ignore");
  const auto sel = split_codes(o.select), ext = split_codes(o.extend_select), ign = split_codes(o.ignore);
  check_selectors(sel, "--select");
  check_selectors(ext, "--extend-select");
  check_selectors(ign, "--ignore");
  if (!sel.empty()) settings.select = sel;
  settings.extend_select.insert(settings.extend_select.end(), ext.begin(), ext.end());
  settings.ignore.insert(settings.ignore.end(), ign.begin(), ign.end());

  const DiscoveredFiles found = discover_files(paths, settings);
  if (!found.missing.empty())
    throw NotFoundError("codedag lint: no such file or directory '" + found.missing.front() + "'");

  // Evidence first: an unknown run id is a usage error before any work.
  std::optional<RunEvidence> evidence;
  if (!o.with_run.empty()) evidence = load_run_evidence(o.with_run);

  // --diff keeps stdout for the diff alone (it can go to `patch`); the rest goes to stderr.
  term::Printer out(o.diff ? stderr : stdout);
  term::Printer err(stderr);
  const size_t n_rules = rules_enabled(settings);
  if (human) {
    std::vector<std::pair<std::string, std::string>> fields = {
        {"paths", printable([&] {
           std::string s;
           for (const auto& p : paths) s += (s.empty() ? "" : " ") + p;
           return s;
         }())},
        {"config",
         settings.config_path.empty() ? "defaults (no [tool.codedag.lint] found)" : printable(settings.config_path)},
        {"rules", std::to_string(n_rules) + " of " + std::to_string(rules().size())},
        {"files", std::to_string(found.files.size()) +
                      (found.excluded ? " (" + std::to_string(found.excluded) + " excluded)" : "")},
        {"mode", o.diff  ? "diff (nothing written)"
                 : o.fix ? (o.unsafe_fixes ? "fix (safe and unsafe)" : "fix (safe)")
                         : "check"}};
    if (evidence) fields.emplace_back("run", evidence->run_id);
    out.header("codedag lint", fields);
  }
  term::Printer& notes = human ? out : err;
  if (evidence)
    for (const auto& n : evidence->notes) notes.warn(printable(n));
  if (found.truncated)
    notes.warn("more than " + std::to_string(found.files.size()) + " files: only the first are checked");
  if (found.files.empty()) {
    notes.warn("no Python files found under the given paths" +
               (found.excluded ? " (" + std::to_string(found.excluded) + " excluded by exclude/extend-exclude)"
                               : std::string()) +
               ": nothing was checked");
    if (format == OutputFormat::json || format == OutputFormat::sarif)
      std::cout << render_findings({}, format, OutputOptions{});
    return;
  }
  if (n_rules == 0) notes.warn("no rule is selected (select/ignore leave none): only file problems are reported");

  const int jobs = o.jobs > 0 ? o.jobs : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
  std::vector<Finding> findings;
  std::vector<std::pair<std::string, std::string>> sources;
  size_t fixed_count = 0, files_fixed = 0;
  bool diff_printed = false;
  if (o.fix || o.diff) {
    for (const auto& path : found.files) {
      std::string bytes;
      Finding problem;
      if (!read_source(path, bytes, problem)) {
        findings.push_back(problem);
        continue;
      }
      FixOutcome outcome = fix_source(path, bytes, settings, o.unsafe_fixes);
      if (outcome.applied > 0 && outcome.fixed != bytes) {
        if (o.diff) {
          // Escaped only for a terminal: piped, the diff stays byte-exact for `patch`.
          const std::string diff = unified_diff(path, bytes, outcome.fixed);
          std::cout << (::isatty(fileno(stdout)) ? printable(diff, true) : diff) << std::flush;
          diff_printed = true;
          // --diff shows what --fix would do; the findings reported are those of the file as it is.
          outcome.remaining = lint_source(path, bytes, settings);
        } else {
          std::string why;
          if (write_fixed(path, bytes, outcome.fixed, why)) {
            fixed_count += outcome.applied;
            ++files_fixed;
            bytes = outcome.fixed;
          } else {
            notes.fail(printable(path) + ": not fixed: " + why);
            outcome.remaining = lint_source(path, bytes, settings);
          }
        }
      }
      for (auto& f : outcome.remaining) findings.push_back(std::move(f));
      if (format == OutputFormat::full) sources.emplace_back(path, bytes);
    }
  } else {
    std::unique_ptr<term::ProgressBar> bar;
    if (human && ::isatty(fileno(stderr)) && found.files.size() > 200)
      bar = std::make_unique<term::ProgressBar>(err, "linting", found.files.size());
    LintRun run = lint_files(found.files, settings, jobs, {}, bar ? progress_bar : nullptr, bar.get());
    if (bar) bar->finish();
    findings = std::move(run.findings);
    if (format == OutputFormat::full)
      for (const auto& f : findings)
        if (sources.empty() || sources.back().first != f.path) {
          std::string text;
          Finding ignored;
          if (read_source(f.path, text, ignored)) sources.emplace_back(f.path, std::move(text));
        }
  }
  if (evidence) apply_run_evidence(findings, *evidence);

  OutputOptions opts;
  opts.colour = out.style().colour;
  opts.unsafe_fixes = o.unsafe_fixes;
  opts.sources = &sources;
  if (!o.diff) std::cout << render_findings(findings, format, opts) << std::flush;

  // Counts for the statistics and the summary.
  std::map<std::string, std::pair<size_t, size_t>> per_code;  // code -> (count, fixable)
  size_t fixable_safe = 0, fixable_unsafe = 0, failing = 0;
  std::map<std::string, bool> files_with;
  for (const auto& f : findings) {
    auto& [count, fixable] = per_code[f.code];
    ++count;
    if (f.fix && !f.fix->edits.empty()) {
      ++fixable;
      (f.fix->applicability == Applicability::safe ? fixable_safe : fixable_unsafe)++;
    }
    if (f.severity != Severity::info) ++failing;
    files_with[f.path] = true;
  }
  if (o.statistics) {
    if (format == OutputFormat::json) {
      json stats = json::array();
      for (const auto& [code, c] : per_code) {
        const Rule* r = find_rule(code);
        stats.push_back(
            {{"code", code}, {"name", r ? r->name : "file-not-checked"}, {"count", c.first}, {"fixable", c.second}});
      }
      std::cerr << stats.dump(2) << "\n";
    } else {
      std::vector<std::vector<std::string>> rows;
      for (const auto& [code, c] : per_code) {
        const Rule* r = find_rule(code);
        rows.push_back({std::to_string(c.first), code, c.second ? "[*]" : "", r ? r->name : "file-not-checked"});
      }
      (human ? out : err).table({"count", "code", "fix", "rule"}, rows);
    }
  }
  if (human) {
    if (fixed_count)
      out.ok("fixed " + std::to_string(fixed_count) + " finding(s) in " + std::to_string(files_fixed) + " file(s)");
    if (findings.empty()) {
      out.ok(std::to_string(found.files.size()) + " file(s) checked with " + std::to_string(n_rules) +
             " rule(s): no findings");
    } else {
      std::string tail;
      if (!o.fix && !o.diff && fixable_safe) tail += "; " + std::to_string(fixable_safe) + " fixable with --fix";
      if (!o.unsafe_fixes && fixable_unsafe)
        tail += "; " + std::to_string(fixable_unsafe) + " more with --fix --unsafe-fixes";
      const std::string msg = std::to_string(findings.size()) + " finding(s) in " + std::to_string(files_with.size()) +
                              " of " + std::to_string(found.files.size()) + " file(s)" +
                              (failing < findings.size() ? " (" + std::to_string(findings.size() - failing) +
                                                               " informational after --with-run)"
                                                         : "") +
                              tail;
      if (failing)
        out.fail(msg);
      else
        out.info(msg);
    }
  }
  if (o.exit_zero) return;
  if (failing > 0 || (o.diff && diff_printed)) ctx.exit_code = 1;
}

std::string rules_help() {
  std::string s = "Rules:\n";
  for (const Rule& r : rules()) s += std::string("  ") + r.code + "  " + r.summary + " (fix: " + r.fix + ")\n";
  s += "  CDL000  a file or region that could not be checked (unreadable, not UTF-8, syntax error)\n";
  s += "Exit status: 0 no findings, 1 findings remain, 2 bad usage. Docs: docs/cli/lint.md, docs/lint.md";
  return s;
}

}  // namespace

void add_lint_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<LintOptions>();
  auto* cmd = app.add_subcommand("lint",
                                 "Find training-code anti-patterns (host syncs per step, leaked graphs, "
                                 "missing zero_grad, DataLoader without workers, ...)");
  cmd->footer(rules_help());
  cmd->add_option("paths", o->paths, "Files or directories to check (default: .)");
  cmd->add_option("--select", o->select, "Only these codes or prefixes (comma-separated; replaces the config's)")
      ->expected(1)
      ->take_all()
      ->allow_extra_args(false);
  cmd->add_option("--extend-select", o->extend_select, "Codes to add to the selection")
      ->expected(1)
      ->take_all()
      ->allow_extra_args(false);
  cmd->add_option("--ignore", o->ignore, "Codes or prefixes to leave out")
      ->expected(1)
      ->take_all()
      ->allow_extra_args(false);
  cmd->add_option("--output-format", o->output_format,
                  "concise (default), full, json, json-lines, sarif, github or pylint");
  cmd->add_flag("--statistics", o->statistics, "Also count the findings per rule");
  cmd->add_flag("--fix", o->fix, "Apply safe fixes to the files (atomically)");
  cmd->add_flag("--unsafe-fixes", o->unsafe_fixes, "With --fix/--diff: apply unsafe fixes too");
  cmd->add_flag("--diff", o->diff, "Print the fixes as a unified diff instead of writing them");
  cmd->add_option("--config", o->config, "pyproject.toml to read [tool.codedag.lint] from (default: the nearest)");
  cmd->add_option("--with-run", o->with_run,
                  "Join the findings with what this recorded run measured (loader wait, step time, DAG, plan) "
                  "and rank them by ms per step");
  cmd->add_flag("--exit-zero", o->exit_zero, "Exit 0 even when findings remain");
  cmd->add_option("-j,--jobs", o->jobs, "Threads (default: the CPUs, at most 8)")->check(CLI::Range(1, 256));
  cmd->callback([o, &ctx] { run_lint(*o, ctx); });
}

}  // namespace codedag::cli
