#include "codedag/store/process_identity.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace codedag::store {
namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

const std::string& boot_id() {
  static const std::string id = read_first_line("/proc/sys/kernel/random/boot_id");
  return id;
}

}  // namespace

json ProcessIdentity::to_json() const {
  return json{{"pid", pid}, {"start_ticks", start_ticks}, {"boot_id", boot_id}, {"host", host}};
}

ProcessIdentity ProcessIdentity::from_json(const json& j) {
  ProcessIdentity p;
  if (!j.is_object()) return p;
  p.pid = j.value("pid", 0L);
  p.start_ticks = j.value("start_ticks", 0ULL);
  p.boot_id = j.value("boot_id", std::string());
  p.host = j.value("host", std::string());
  return p;
}

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::string user_name() {
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) return pw->pw_name;
  if (const char* u = std::getenv("USER")) return u;
  return std::to_string(::geteuid());
}

ProcessIdentity identity_of(long pid) {
  ProcessIdentity p;
  p.pid = pid;
  p.boot_id = boot_id();
  p.host = host_name();
  // /proc/<pid>/stat: "pid (comm) state ppid ...": comm may hold spaces and ')' so parse after the
  // last ')'. starttime is field 22, i.e. the 20th after the comm.
  const std::string stat = read_first_line("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return p;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i)
    if (i == 22) p.start_ticks = std::strtoull(field.c_str(), nullptr, 10);
  return p;
}

ProcessIdentity self_identity() { return identity_of(::getpid()); }

Liveness liveness(const ProcessIdentity& who) {
  if (who.pid <= 0) return Liveness::gone;
  if (!who.host.empty() && who.host != host_name()) return Liveness::unknown;
  if (!who.boot_id.empty() && who.boot_id != boot_id()) return Liveness::gone;  // the machine rebooted since
  const ProcessIdentity now = identity_of(who.pid);
  if (now.start_ticks == 0) return Liveness::gone;
  if (who.start_ticks != 0 && now.start_ticks != who.start_ticks) return Liveness::gone;  // pid reused
  // A zombie (exited, not yet reaped) is gone too.
  const std::string stat = read_first_line("/proc/" + std::to_string(who.pid) + "/stat");
  const size_t close = stat.rfind(')');
  if (close != std::string::npos && close + 2 < stat.size() && (stat[close + 2] == 'Z' || stat[close + 2] == 'X'))
    return Liveness::gone;
  return Liveness::alive;
}

}  // namespace codedag::store
