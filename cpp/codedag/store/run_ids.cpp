#include "codedag/store/run_ids.hpp"

#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/store/safe_fs.hpp"

namespace codedag::store {
namespace {

std::string random_suffix() {
  static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  unsigned char bytes[3];
  if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) {
    const auto t = std::chrono::steady_clock::now().time_since_epoch().count() ^ ::getpid();
    for (int i = 0; i < 3; ++i) bytes[i] = static_cast<unsigned char>(t >> (8 * i));
  }
  std::string s;
  for (unsigned char b : bytes) s += alphabet[b % 36];
  return s;
}

std::string number_text(long long n) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%03lld", n);
  return buf;
}

// The largest number among `dir`'s entries: "<nnn>" (claims) or "<day>.<nnn>.<rand>" (runs of `day`).
long long highest_number(int dir, const std::string& day) {
  long long best = 0;
  for (const DirEntry& e : directory_entries(dir)) {
    std::string n = e.name;
    if (!day.empty()) {
      if (n.rfind(day + ".", 0) != 0 || !looks_like_test_name(n)) continue;
      n = n.substr(7, n.find('.', 7) - 7);
    }
    if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos) continue;
    best = std::max(best, std::atoll(n.c_str()));
  }
  return best;
}

// mkdir that reports whether this process made it.
bool make_exclusive(int dir, const std::string& name, const std::string& shown) {
  if (::mkdirat(dir, name.c_str(), 0755) == 0) return true;
  if (errno == EEXIST) return false;
  throw_system_error("cannot create", shown);
}

}  // namespace

std::string day_stamp(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%y%m%d", &tm);
  return buf;
}

RunId claim_run_id(const Layout& layout, const std::string& name, double now) {
  validate_experiment_name(name);
  const std::string day = day_stamp(now);
  const std::string root = layout.info_root();
  make_directories(root);
  DirFd name_dir = open_dir_under(root, {name}, true);
  DirFd claims = open_dir_under(root, {name, ".claims"}, true);
  const std::string claims_shown = root + "/" + name + "/.claims/" + day;
  // The first claim of a day in this store also looks at the runs already there (made before claims
  // existed, or restored): numbers continue after them.
  const bool new_day = make_exclusive(claims.get(), day, claims_shown);
  DirFd day_claims = open_dir_under(root, {name, ".claims", day});
  if (!day_claims)
    throw SystemCallError("the claims directory '" + claims_shown + "' vanished while claiming a run id");
  long long number = highest_number(day_claims.get(), "");
  if (new_day) number = std::max(number, highest_number(name_dir.get(), day));
  for (int attempts = 0;; ++attempts) {
    if (attempts > 100000) throw Error("cannot allocate a run id for '" + name + "': every candidate is taken");
    ++number;
    if (!make_exclusive(day_claims.get(), number_text(number), claims_shown + "/" + number_text(number))) continue;
    // The number is ours; now a test_name no other experiment name holds.
    DirFd ids = open_dir_under(root, {".ids", day}, true);
    for (int draw = 0; draw < 1000; ++draw) {
      const std::string test_name = day + "." + number_text(number) + "." + random_suffix();
      const std::string id_claim = test_name.substr(7);
      if (!make_exclusive(ids.get(), id_claim, root + "/.ids/" + day + "/" + id_claim)) continue;
      if (make_exclusive(name_dir.get(), test_name, root + "/" + name + "/" + test_name)) return RunId{name, test_name};
    }
  }
}

}  // namespace codedag::store
