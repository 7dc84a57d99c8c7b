#include "codedag/lint/linter.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/lint/module_model.hpp"
#include "codedag/lint/noqa.hpp"
#include "codedag/lint/rules.hpp"

namespace codedag::lint {
namespace fs = std::filesystem;

namespace {

Finding file_problem(const std::string& path, std::string message, uint32_t line = 1, uint32_t col = 1) {
  Finding f;
  f.code = kFileProblemCode;
  f.path = path;
  f.line = f.end_line = line;
  f.col = f.end_col = col;
  f.message = std::move(message);
  f.severity = Severity::error;
  return f;
}

bool finding_order(const Finding& a, const Finding& b) {
  return std::tie(a.path, a.line, a.col, a.code) < std::tie(b.path, b.line, b.col, b.code);
}

// Every ERROR and MISSING node (at most 50), found by descending only where the tree says an
// error is: what the parser could not read, and so what the rules did not check.
void syntax_problems(const Tree& tree, const std::string& path, std::vector<Finding>& out) {
  if (!tree.root().has_error()) return;
  const SourceText& src = tree.source();
  std::vector<Node> stack{tree.root()};
  size_t reported = 0;
  while (!stack.empty() && reported < 50) {
    const Node n = stack.back();
    stack.pop_back();
    if (n.is_error() || n.is_missing()) {
      Finding f = file_problem(path, "", src.line_of(n.start()), src.column_of(n.start()));
      f.end_line = src.line_of(n.end());
      f.end_col = src.column_of(n.end());
      f.start_byte = n.start();
      f.end_byte = n.end();
      if (n.is_missing()) {
        f.message = "syntax error: missing '" + std::string(n.kind()) + "'; the statement around it is not checked";
      } else {
        f.message = "syntax error (or syntax newer than the bundled tree-sitter-python 0.23.6 grammar)" +
                    (f.end_line > f.line ? " (lines " + std::to_string(f.line) + "-" + std::to_string(f.end_line) + ")"
                                         : std::string()) +
                    ": this region is not checked; the rest of the file is";
      }
      out.push_back(std::move(f));
      ++reported;
      continue;
    }
    // Children in reverse, so errors come out in file order.
    for (uint32_t i = n.child_count(); i-- > 0;) {
      const Node c = n.child(i);
      if (c.has_error() || c.is_missing()) stack.push_back(c);
    }
  }
}

}  // namespace

bool read_source(const std::string& path, std::string& bytes, Finding& problem) {
  try {
    bytes = read_file(path);
  } catch (const Error& e) {
    problem = file_problem(path, std::string("cannot read the file: ") + e.what());
    return false;
  }
  return true;
}

std::vector<Finding> lint_source(const std::string& path, const std::string& bytes, const LintSettings& settings,
                                 const ParseLimits& limits) {
  std::vector<Finding> out;
  const size_t bad = first_invalid_utf8(bytes);
  if (bad != std::string::npos) {
    SourceText probe(path, bytes.substr(0, bad));
    out.push_back(file_problem(
        path,
        "not UTF-8 (byte " + std::to_string(bad) + "): Python source must be UTF-8 (PEP 3120); the file is not checked",
        probe.line_of(static_cast<uint32_t>(bad)), probe.column_of(static_cast<uint32_t>(bad))));
    return out;
  }
  std::unique_ptr<Tree> tree;
  try {
    tree = Tree::parse(SourceText(path, bytes), limits);
  } catch (const Error& e) {
    out.push_back(file_problem(path, std::string(e.what()).substr(path.size() + 2)));
    return out;
  }
  const ModuleModel model(*tree, settings);
  Reporter reporter(model, out);
  for (const Rule& rule : rules()) {
    if (!reporter.wants(rule.code)) continue;
    rule.check(model, reporter);
  }
  const auto noqa = read_suppressions(*tree);
  std::erase_if(out, [&](const Finding& f) {
    return suppressed(noqa, f.line, f.code) || (f.end_line != f.line && suppressed(noqa, f.end_line, f.code));
  });
  // Regions the analysis stepped over: said once each, so nobody takes silence for a clean file.
  syntax_problems(*tree, path, out);
  const SourceText& src = tree->source();
  for (const auto& s : model.skipped()) {
    Finding f = file_problem(path, "", src.line_of(s.start), src.column_of(s.start));
    f.end_line = src.line_of(s.end);
    f.end_col = src.column_of(s.end);
    f.start_byte = s.start;
    f.end_byte = s.end;
    f.message =
        s.why +
        (f.end_line > f.line ? " (lines " + std::to_string(f.line) + "-" + std::to_string(f.end_line) + ")" : "") +
        ": this region is not checked; the rest of the file is";
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), finding_order);
  // Two rules (or two passes) may describe the same span with the same code: keep one.
  out.erase(std::unique(out.begin(), out.end(),
                        [](const Finding& a, const Finding& b) {
                          return a.code == b.code && a.start_byte == b.start_byte && a.end_byte == b.end_byte &&
                                 a.path == b.path;
                        }),
            out.end());
  return out;
}

DiscoveredFiles discover_files(const std::vector<std::string>& paths, const LintSettings& settings, size_t max_files) {
  DiscoveredFiles d;
  std::set<std::string> found;
  auto add = [&](const std::string& p) {
    if (found.size() >= max_files) {
      d.truncated = true;
      return;
    }
    found.insert(p);
  };
  for (const auto& root : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(root, ec);
    if (ec || !fs::exists(st)) {
      d.missing.push_back(root);
      continue;
    }
    if (fs::is_regular_file(st)) {
      add(fs::path(root).lexically_normal().string());
      continue;
    }
    // Directories: iterative walk; symlinked directories are not followed (no cycles).
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
    if (ec) {
      d.missing.push_back(root);
      continue;
    }
    for (; it != end; it.increment(ec)) {
      if (ec) break;
      const fs::directory_entry& e = *it;
      const std::string p = e.path().lexically_normal().string();
      std::error_code ec2;
      if (e.is_directory(ec2)) {
        if (e.is_symlink(ec2) || settings.excluded(p)) {
          if (settings.excluded(p)) ++d.excluded;
          it.disable_recursion_pending();
        }
        continue;
      }
      const std::string ext = e.path().extension().string();
      if ((ext != ".py" && ext != ".pyi") || !e.is_regular_file(ec2)) continue;
      if (settings.excluded(p)) {
        ++d.excluded;
        continue;
      }
      add(p);
      if (d.truncated) break;
    }
  }
  d.files.assign(found.begin(), found.end());
  return d;
}

LintRun lint_files(const std::vector<std::string>& files, const LintSettings& settings, int jobs,
                   const ParseLimits& limits, void (*progress)(size_t, size_t, void*), void* progress_arg) {
  const auto t0 = std::chrono::steady_clock::now();
  LintRun run;
  std::vector<std::vector<Finding>> per_file(files.size());
  std::atomic<size_t> next{0}, done{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < files.size();) {
      std::string bytes;
      Finding problem;
      try {
        if (read_source(files[i], bytes, problem))
          per_file[i] = lint_source(files[i], bytes, settings, limits);
        else
          per_file[i].push_back(std::move(problem));
      } catch (const std::exception& e) {
        // One file must not take the run down: say which, and go on.
        per_file[i].push_back(file_problem(files[i], std::string("internal error while checking: ") + e.what() +
                                                         " (please report it with this file)"));
      }
      done.fetch_add(1);
    }
  };
  const int n = std::max(1, std::min<int>(jobs, static_cast<int>(files.size())));
  std::vector<std::thread> threads;
  for (int t = 1; t < n; ++t) threads.emplace_back(work);
  if (progress && n > 1) {
    // The calling thread reports progress while the workers run; it joins the work at the end.
    while (done.load() < files.size() && next.load() < files.size()) {
      progress(done.load(), files.size(), progress_arg);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  work();
  for (auto& t : threads) t.join();
  if (progress) progress(files.size(), files.size(), progress_arg);
  for (auto& v : per_file) {
    bool problem = false;
    for (auto& f : v) {
      problem = problem || f.code == kFileProblemCode;
      run.findings.push_back(std::move(f));
    }
    if (problem) ++run.files_with_problems;
  }
  run.files_checked = files.size();
  std::stable_sort(run.findings.begin(), run.findings.end(), finding_order);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run;
}

}  // namespace codedag::lint
