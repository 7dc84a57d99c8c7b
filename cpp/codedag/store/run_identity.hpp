#pragma once
// The one check for everything that names a run: experiment names, test_names, the git ref of a
// snapshot and the relative paths of archive members. The same rules apply whether the value comes
// from the user creating a run or from a file (run.json, an index row, a backup manifest, a tar
// header): a name read from disk builds directory paths and git command lines, so `../../x` or
// `refs/heads/main` must never get that far.
#include <string>
#include <string_view>

namespace codedag::store {

// Experiment names become directory names and git ref components: ASCII letters, digits, '_', '-'
// and '.', starting with a letter, digit or '_', not ending with '.' or ".lock", no "..", at most
// 100 characters. Throws InputError naming the offending character (the whole character when it is
// not ASCII) and its position.
void validate_experiment_name(std::string_view name);

// test_name: <yymmdd>.<nnn>.<rand> — six digits, 3 to 9 digits, 1 to 16 of [0-9a-z].
bool looks_like_test_name(std::string_view s);
void validate_test_name(std::string_view test_name);

// A run's identity, checked.
struct RunId {
  std::string name;
  std::string test_name;

  // The only git ref a run may own: refs/codedag/<name>/<test_name>.
  std::string ref() const { return "refs/codedag/" + name + "/" + test_name; }
  std::string str() const { return name + "/" + test_name; }
};

// Checks a name and test_name from `origin` (a file, "an index row", ...): FormatError
// "<origin>: ..." for values read from disk, InputError when `origin` is empty (user input).
RunId checked_run_id(std::string_view name, std::string_view test_name, const std::string& origin = "");

// A relative path inside a run as stored in an archive: '/'-separated, no empty, '.' or '..'
// components, no leading '/', no NUL or control characters, at most 4096 bytes and 255 per component.
bool is_safe_relative_path(std::string_view path);

}  // namespace codedag::store
