#include "codedag/lint/fixes.hpp"

#include <algorithm>

#include "codedag/lint/linter.hpp"

namespace codedag::lint {

bool fix_applies(const Finding& f, bool unsafe_fixes) {
  return f.fix && !f.fix->edits.empty() && (f.fix->applicability == Applicability::safe || unsafe_fixes);
}

std::string apply_fixes(const std::string& source, const std::vector<Finding>& findings, bool unsafe_fixes,
                        size_t& applied) {
  // Accept whole fixes in finding order; a fix touching a range an accepted one touches waits.
  std::vector<Edit> accepted;
  auto overlaps = [&](const Edit& e) {
    for (const Edit& a : accepted) {
      const bool insert_same_point = e.start == e.end && a.start == a.end && e.start == a.start;
      if (insert_same_point || (e.start < a.end && a.start < e.end) ||
          (e.start == e.end && a.start < e.start && e.start < a.end) ||
          (a.start == a.end && e.start < a.start && a.start < e.end))
        return true;
    }
    return false;
  };
  for (const Finding& f : findings) {
    if (!fix_applies(f, unsafe_fixes)) continue;
    bool ok = true;
    for (const Edit& e : f.fix->edits) ok = ok && e.start <= e.end && e.end <= source.size() && !overlaps(e);
    // Edits of one fix must not overlap each other either.
    for (size_t i = 0; ok && i < f.fix->edits.size(); ++i)
      for (size_t j = i + 1; j < f.fix->edits.size(); ++j) {
        const Edit &a = f.fix->edits[i], &b = f.fix->edits[j];
        if ((a.start < b.end && b.start < a.end) || (a.start == b.start && a.end == a.start && b.end == b.start))
          ok = false;
      }
    if (!ok) continue;
    accepted.insert(accepted.end(), f.fix->edits.begin(), f.fix->edits.end());
    ++applied;
  }
  std::sort(accepted.begin(), accepted.end(), [](const Edit& a, const Edit& b) { return a.start > b.start; });
  std::string out = source;
  for (const Edit& e : accepted) out.replace(e.start, e.end - e.start, e.text);
  return out;
}

FixOutcome fix_source(const std::string& path, const std::string& source, const LintSettings& settings,
                      bool unsafe_fixes, const ParseLimits& limits) {
  FixOutcome o;
  o.fixed = source;
  for (int pass = 0; pass < 8; ++pass) {
    std::vector<Finding> findings = lint_source(path, o.fixed, settings, limits);
    size_t applied = 0;
    std::string next = apply_fixes(o.fixed, findings, unsafe_fixes, applied);
    if (applied == 0 || next == o.fixed) {
      o.remaining = std::move(findings);
      return o;
    }
    // A fix that breaks the syntax is not kept: the text before this pass stays.
    const auto after = lint_source(path, next, settings, limits);
    bool broke = false;
    for (const auto& f : after)
      if (f.code == kFileProblemCode) broke = true;
    bool was_broken = false;
    for (const auto& f : findings)
      if (f.code == kFileProblemCode) was_broken = true;
    if (broke && !was_broken) {
      o.remaining = std::move(findings);
      return o;
    }
    o.applied += applied;
    o.fixed = std::move(next);
  }
  o.remaining = lint_source(path, o.fixed, settings, limits);
  return o;
}

namespace {

std::vector<std::string_view> split_lines(const std::string& s) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < s.size()) {
    const size_t nl = s.find('\n', start);
    const size_t end = nl == std::string::npos ? s.size() : nl + 1;
    lines.emplace_back(s.data() + start, end - start);
    start = end;
  }
  return lines;
}

}  // namespace

std::string unified_diff(const std::string& path, const std::string& before, const std::string& after) {
  if (before == after) return {};
  const auto a = split_lines(before), b = split_lines(after);
  // Fixes touch few lines: trim the common prefix and suffix, then an LCS table over what is left
  // (bounded; a larger middle falls back to one replace hunk).
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre && a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) ++suf;
  const size_t n = a.size() - pre - suf, m = b.size() - pre - suf;
  // ops: ' ' keep, '-' delete, '+' insert, over the middle part.
  std::vector<std::pair<char, std::string_view>> ops;
  if (n * m <= 4'000'000) {
    std::vector<std::vector<uint32_t>> L(n + 1, std::vector<uint32_t>(m + 1, 0));
    for (size_t i = n; i-- > 0;)
      for (size_t j = m; j-- > 0;)
        L[i][j] = a[pre + i] == b[pre + j] ? L[i + 1][j + 1] + 1 : std::max(L[i + 1][j], L[i][j + 1]);
    size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[pre + i] == b[pre + j]) {
        ops.emplace_back(' ', a[pre + i]);
        ++i, ++j;
      } else if (j < m && (i == n || L[i][j + 1] > L[i + 1][j])) {  // on a tie, delete first (as diff(1))
        ops.emplace_back('+', b[pre + j++]);
      } else {
        ops.emplace_back('-', a[pre + i++]);
      }
    }
  } else {
    for (size_t i = 0; i < n; ++i) ops.emplace_back('-', a[pre + i]);
    for (size_t j = 0; j < m; ++j) ops.emplace_back('+', b[pre + j]);
  }
  // Full op list with the context around: then cut into hunks.
  std::vector<std::pair<char, std::string_view>> all;
  for (size_t i = 0; i < pre; ++i) all.emplace_back(' ', a[i]);
  all.insert(all.end(), ops.begin(), ops.end());
  for (size_t i = a.size() - suf; i < a.size(); ++i) all.emplace_back(' ', a[i]);
  std::string out = "--- " + path + "\n+++ " + path + "\n";
  constexpr size_t ctx = 3;
  size_t k = 0;
  size_t line_a = 1, line_b = 1;  // line numbers at all[k]
  while (k < all.size()) {
    // Find the next change.
    size_t c = k;
    size_t la = line_a, lb = line_b;
    while (c < all.size() && all[c].first == ' ') {
      ++c;
      ++la;
      ++lb;
    }
    if (c == all.size()) break;
    const size_t start = c >= ctx ? std::max(k, c - ctx) : k;
    size_t sa = la - (c - start), sb = lb - (c - start);
    // Extend the hunk while changes are within 2*ctx of each other.
    size_t end = c, last_change = c;
    while (end < all.size() && end - last_change <= 2 * ctx) {
      if (all[end].first != ' ') last_change = end;
      ++end;
    }
    end = std::min(all.size(), last_change + ctx + 1);
    size_t count_a = 0, count_b = 0;
    std::string body;
    for (size_t i = start; i < end; ++i) {
      if (all[i].first != '+') ++count_a;
      if (all[i].first != '-') ++count_b;
      body += all[i].first;
      body += all[i].second;
      if (body.back() != '\n') body += "\n\\ No newline at end of file\n";
    }
    out += "@@ -" + std::to_string(count_a ? sa : sa - 1) + "," + std::to_string(count_a) + " +" +
           std::to_string(count_b ? sb : sb - 1) + "," + std::to_string(count_b) + " @@\n" + body;
    // Advance line counters to `end`.
    for (size_t i = k; i < end; ++i) {
      if (all[i].first != '+') ++line_a;
      if (all[i].first != '-') ++line_b;
    }
    k = end;
  }
  return out;
}

}  // namespace codedag::lint
