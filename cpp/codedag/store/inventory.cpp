#include "codedag/store/inventory.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "codedag/store/process_identity.hpp"

extern char** environ;

namespace codedag::store {
namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\n");
  const auto e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool is_secret(const std::string& name) {
  for (const char* word : {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL"})
    if (name.find(word) != std::string::npos) return true;
  return false;
}

}  // namespace

json machine_inventory() {
  json inv = json::object();
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) {
      model = trim(line.substr(line.find(':') + 1));
      break;
    }
  inv["cpu"] = json{{"model", model}, {"logical_cores", std::thread::hardware_concurrency()}};
  if (const long usable = sysconf(_SC_NPROCESSORS_ONLN); usable > 0) inv["cpu"]["online"] = usable;
  std::ifstream meminfo("/proc/meminfo");
  while (std::getline(meminfo, line))
    if (line.rfind("MemTotal:", 0) == 0) {
      inv["memory_bytes"] = std::stoull(trim(line.substr(9))) * 1024ULL;
      break;
    }
  json gpus = json::array();
  std::error_code ec;
  const std::filesystem::path nv("/proc/driver/nvidia/gpus");
  if (std::filesystem::is_directory(nv, ec)) {
    for (const auto& d : std::filesystem::directory_iterator(nv, ec)) {
      std::ifstream info(d.path() / "information");
      json g{{"bus", d.path().filename().string()}};
      while (std::getline(info, line))
        if (line.rfind("Model:", 0) == 0) g["model"] = trim(line.substr(6));
      gpus.push_back(g);
    }
  }
  inv["gpus"] = gpus;
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) inv["cuda_visible_devices"] = v;
  utsname u{};
  if (::uname(&u) == 0) inv["os"] = json{{"system", u.sysname}, {"release", u.release}, {"machine", u.machine}};
  return inv;
}

json environment_subset() {
  static const char* const prefixes[] = {"CUDA_",  "NCCL_",  "OMP_",   "MKL_",        "TORCH", "PYTORCH_", "CODEDAG_",
                                         "SLURM_", "PYTHON", "CONDA_", "VIRTUAL_ENV", "KMP_",  "OPENBLAS_"};
  static const char* const names[] = {"PATH",        "LD_LIBRARY_PATH", "RANK",     "LOCAL_RANK", "WORLD_SIZE",
                                      "MASTER_ADDR", "MASTER_PORT",     "HOSTNAME", "LANG"};
  json env = json::object();
  for (char** e = environ; e && *e; ++e) {
    const std::string entry(*e);
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = entry.substr(0, eq);
    if (is_secret(name)) continue;
    bool keep = false;
    for (const char* p : prefixes) keep = keep || name.rfind(p, 0) == 0;
    for (const char* n : names) keep = keep || name == n;
    if (keep) env[name] = entry.substr(eq + 1);
  }
  return env;
}

std::vector<std::string> process_argv() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> argv;
  size_t pos = 0;
  while (pos < all.size()) {
    const size_t z = all.find('\0', pos);
    argv.push_back(all.substr(pos, z == std::string::npos ? std::string::npos : z - pos));
    if (z == std::string::npos) break;
    pos = z + 1;
  }
  return argv;
}

std::string process_executable() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

std::string current_directory() {
  std::error_code ec;
  const auto p = std::filesystem::current_path(ec);
  return ec ? std::string() : p.string();
}

}  // namespace codedag::store
