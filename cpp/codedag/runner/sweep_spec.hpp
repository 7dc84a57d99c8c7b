#pragma once
// What a sweep runs: a command, and the parameter sets it is run with. The grid is the product of
// the -p lists (in the order given, the last key changing fastest), each grid point is crossed with
// `samples` seeded random draws of the --random ranges, and each result is repeated `repeat` times
// with its own `seed` parameter. The expansion is deterministic: the same spec and random seed give
// the same cells, so the manifest written from it can be trusted on resume.
#include <cstdint>
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::runner {

// One parameter of one cell: the text that goes on the command line (--key=text) and the typed
// value recorded in the run (numbers and booleans as JSON numbers and booleans, so `codedag ls -p
// params.lr>0.01` compares numbers).
struct ParamValue {
  std::string key;
  std::string text;
  json value;
};

struct RandomRange {
  std::string key;
  double low = 0, high = 0;
  bool log = false;
  bool integer = false;  // both bounds written as integers: draws are integers in [low, high]
};

struct SweepSpec {
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;  // -p KEY=V1,V2 in order
  std::vector<RandomRange> random;                                     // --random KEY=LO:HI[:log]
  int samples = 0;  // random draws per grid point (0 with ranges given: 1)
  int repeat = 1;   // --repeat K: each set K times with seed=0..K-1
  uint64_t random_seed = 0;
};

struct CellParams {
  std::vector<ParamValue> params;  // in command-line order
};

// "lr=0.1,0.01" -> ("lr", {"0.1", "0.01"}). InputError names the option and says the form.
std::pair<std::string, std::vector<std::string>> parse_grid_option(const std::string& text);
// "lr=1e-4:1e-1:log" -> RandomRange. InputError for a bad bound, low > high, log with low <= 0.
RandomRange parse_random_option(const std::string& text);

// The typed value of a command-line text: integers and decimals as numbers, true/false as
// booleans, anything else as the string itself.
json typed_value(const std::string& text);

// All cells of the spec. Throws InputError for a key given twice, a key that is not a plain
// option name, more than kMaxCells cells, or duplicate cells (the same parameters twice).
std::vector<CellParams> expand(const SweepSpec& spec);

inline constexpr size_t kMaxCells = 100000;

// Option names become --key=value arguments and JSON keys: letters, digits, '_', '-', '.'.
void validate_param_key(const std::string& key, const std::string& option);

}  // namespace codedag::runner
