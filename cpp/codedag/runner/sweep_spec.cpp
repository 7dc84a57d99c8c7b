#include "codedag/runner/sweep_spec.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "codedag/common/error.hpp"

namespace codedag::runner {
namespace {

// splitmix64: a tiny generator whose output is the same on every platform and standard library
// (std:: distributions are not), so a stored random seed reproduces the same draws anywhere.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

bool parse_number(const std::string& s, double& out, bool& is_integer) {
  // Decimal notation only, as Python's int()/float() read a flag: "0x10", "inf" and "nan" stay text.
  if (s.empty() || s.find_first_not_of("0123456789+-.eE") != std::string::npos) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0' || !std::isfinite(out)) return false;
  is_integer = s.find_first_of(".eE") == std::string::npos;  // "1e3" is not an integer
  return true;
}

std::string format_draw(double v, bool integer) {
  char buf[64];
  if (integer)
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  else
    std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

void validate_param_key(const std::string& key, const std::string& option) {
  if (key.empty()) throw InputError(option + ": the parameter name is empty; write " + option + " KEY=...");
  if (key.size() > 100) throw InputError(option + ": parameter name '" + key.substr(0, 40) + "...' is too long");
  if (key[0] == '-')
    throw InputError(option + ": write the parameter name without dashes ('" + key.substr(key.find_first_not_of('-')) +
                     "', not '" + key + "'); each cell gets --KEY=VALUE");
  for (const char c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      throw InputError(option + ": parameter name '" + key + "' may hold only letters, digits, '_', '-' and '.'");
}

json typed_value(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  double v = 0;
  bool integer = false;
  if (parse_number(text, v, integer)) {
    if (integer && std::fabs(v) < 9.0e15) return static_cast<long long>(v);
    return v;
  }
  return text;
}

std::pair<std::string, std::vector<std::string>> parse_grid_option(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos)
    throw InputError("-p '" + text + "': write -p KEY=V1,V2,... (for example -p lr=0.1,0.01)");
  const std::string key = text.substr(0, eq);
  validate_param_key(key, "-p");
  std::vector<std::string> values;
  const std::string list = text.substr(eq + 1);
  for (size_t pos = 0;;) {
    const size_t comma = list.find(',', pos);
    values.push_back(list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  std::set<std::string> seen;
  for (const auto& v : values) {
    if (v.empty()) throw InputError("-p " + text + ": an empty value; separate values with single commas");
    if (!seen.insert(v).second)
      throw InputError("-p " + text + ": the value '" + v + "' is given twice (each cell must differ)");
  }
  return {key, values};
}

RandomRange parse_random_option(const std::string& text) {
  const std::string form = " (write --random KEY=LOW:HIGH or KEY=LOW:HIGH:log, e.g. lr=1e-4:1e-1:log)";
  const size_t eq = text.find('=');
  if (eq == std::string::npos) throw InputError("--random '" + text + "' has no '='" + form);
  RandomRange r;
  r.key = text.substr(0, eq);
  validate_param_key(r.key, "--random");
  std::vector<std::string> parts;
  const std::string rest = text.substr(eq + 1);
  for (size_t pos = 0;;) {
    const size_t colon = rest.find(':', pos);
    parts.push_back(rest.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos));
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  if (parts.size() < 2 || parts.size() > 3) throw InputError("--random " + text + ": expected LOW:HIGH[:log]" + form);
  bool int_low = false, int_high = false;
  if (!parse_number(parts[0], r.low, int_low))
    throw InputError("--random " + text + ": LOW '" + parts[0] + "' is not a number");
  if (!parse_number(parts[1], r.high, int_high))
    throw InputError("--random " + text + ": HIGH '" + parts[1] + "' is not a number");
  if (parts.size() == 3) {
    if (parts[2] != "log")
      throw InputError("--random " + text + ": the third part must be 'log', not '" + parts[2] + "'");
    r.log = true;
  }
  r.integer = int_low && int_high;
  if (r.low > r.high) throw InputError("--random " + text + ": LOW is greater than HIGH");
  if (r.log && r.low <= 0) throw InputError("--random " + text + ": a log range needs LOW > 0");
  return r;
}

std::vector<CellParams> expand(const SweepSpec& spec) {
  std::set<std::string> keys;
  auto claim_key = [&](const std::string& key, const std::string& option) {
    if (!keys.insert(key).second) throw InputError(option + ": the parameter '" + key + "' is given twice");
  };
  size_t total = 1;
  auto grow = [&](size_t factor) {
    if (factor != 0 && total > kMaxCells / factor)
      throw InputError("the sweep would have more than " + std::to_string(kMaxCells) +
                       " cells; split it into several sweeps");
    total *= factor;
  };
  for (const auto& [key, values] : spec.grid) {
    claim_key(key, "-p");
    if (values.empty()) throw InputError("-p " + key + "=: give at least one value");
    grow(values.size());
  }
  for (const auto& r : spec.random) claim_key(r.key, "--random");
  if (spec.samples < 0) throw InputError("--samples must be 0 or more, not " + std::to_string(spec.samples));
  if (spec.samples > 0 && spec.random.empty())
    throw InputError("--samples " + std::to_string(spec.samples) + " needs at least one --random KEY=LOW:HIGH range");
  const int samples = spec.random.empty() ? 1 : std::max(spec.samples, 1);
  grow(static_cast<size_t>(samples));
  if (spec.repeat < 1) throw InputError("--repeat must be 1 or more, not " + std::to_string(spec.repeat));
  if (spec.repeat > 1) claim_key("seed", "--repeat (it adds the parameter 'seed')");
  grow(static_cast<size_t>(spec.repeat));

  SplitMix64 rng{spec.random_seed};
  std::vector<CellParams> cells;
  cells.reserve(total);
  const size_t grid_points = total / static_cast<size_t>(samples) / static_cast<size_t>(spec.repeat);
  for (size_t g = 0; g < grid_points; ++g) {
    CellParams base;
    size_t rest = g;
    // Mixed radix with the last key fastest, as nested loops written in -p order.
    std::vector<size_t> digit(spec.grid.size());
    for (size_t k = spec.grid.size(); k-- > 0;) {
      digit[k] = rest % spec.grid[k].second.size();
      rest /= spec.grid[k].second.size();
    }
    for (size_t k = 0; k < spec.grid.size(); ++k) {
      const std::string& text = spec.grid[k].second[digit[k]];
      base.params.push_back({spec.grid[k].first, text, typed_value(text)});
    }
    for (int s = 0; s < samples; ++s) {
      CellParams sampled = base;
      for (const RandomRange& r : spec.random) {
        const double u = rng.uniform();
        double v = 0;
        if (r.log)
          v = std::exp(std::log(r.low) + u * (std::log(r.high) - std::log(r.low)));
        else if (r.integer)
          v = std::floor(r.low + u * (r.high - r.low + 1));
        else
          v = r.low + u * (r.high - r.low);
        if (r.integer) v = std::clamp(std::round(v), r.low, r.high);
        const std::string text = format_draw(v, r.integer);
        sampled.params.push_back({r.key, text, typed_value(text)});
      }
      for (int k = 0; k < spec.repeat; ++k) {
        CellParams cell = sampled;
        if (spec.repeat > 1) cell.params.push_back({"seed", std::to_string(k), json(k)});
        cells.push_back(std::move(cell));
      }
    }
  }
  // Random draws can collide (integer ranges): a cell twice would run the same thing twice.
  std::set<std::string> seen;
  for (const CellParams& c : cells) {
    std::string key;
    for (const auto& p : c.params) key += p.key + "=" + p.text + "\n";
    if (!seen.insert(key).second)
      throw InputError("two cells have the same parameters (" + key.substr(0, key.size() - 1) +
                       "); widen the --random ranges or take fewer --samples");
  }
  return cells;
}

}  // namespace codedag::runner
