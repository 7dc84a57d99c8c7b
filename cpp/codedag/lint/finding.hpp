#pragma once
// What a lint run reports: findings with an optional fix made of byte-range edits.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace codedag::lint {

// Replace bytes [start, end) of the file with `text` (an insertion when start == end).
struct Edit {
  uint32_t start = 0;
  uint32_t end = 0;
  std::string text;
};

// Safe fixes keep the program's meaning (ruff's sense): --fix applies them. Unsafe ones may change
// behaviour or need a person's judgement: only with --unsafe-fixes.
enum class Applicability { safe, unsafe };

struct Fix {
  Applicability applicability = Applicability::safe;
  std::string message;      // what the fix does, in a few words
  std::vector<Edit> edits;  // non-overlapping, in any order
};

enum class Severity { info, warning, error };

const char* severity_name(Severity s);

struct Finding {
  std::string code;  // CDL001 ...
  std::string path;
  uint32_t line = 0, col = 0;          // 1-based
  uint32_t end_line = 0, end_col = 0;  // 1-based, exclusive column
  uint32_t start_byte = 0, end_byte = 0;
  std::string message;
  Severity severity = Severity::warning;
  std::optional<Fix> fix;
  // Filled by --with-run: what the recorded run says this finding costs.
  std::optional<double> ms_per_step;
  std::string evidence;  // "measured: ..." / "estimated: ..." / "not measurable: ..."
};

}  // namespace codedag::lint
