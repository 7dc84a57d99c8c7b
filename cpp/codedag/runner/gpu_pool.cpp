#include "codedag/runner/gpu_pool.hpp"

#include <cctype>
#include <cstdlib>

#include "codedag/common/error.hpp"
#include "codedag/monitor/nvml.hpp"

namespace codedag::runner {

GpuPool::GpuPool(std::vector<std::string> devices) : devices_(std::move(devices)) {}

size_t GpuPool::free_count() const { return devices_.size() - leased_.size(); }

std::optional<std::vector<std::string>> GpuPool::acquire(int n) {
  if (n <= 0) return std::vector<std::string>{};
  if (free_count() < static_cast<size_t>(n)) return std::nullopt;
  std::vector<std::string> lease;
  for (const auto& d : devices_) {
    if (leased_.count(d)) continue;
    lease.push_back(d);
    if (lease.size() == static_cast<size_t>(n)) break;
  }
  for (const auto& d : lease) leased_.insert(d);
  return lease;
}

void GpuPool::reserve(const std::vector<std::string>& devices) {
  for (const auto& d : devices)
    for (const auto& known : devices_)
      if (known == d) leased_.insert(d);
}

void GpuPool::release(const std::vector<std::string>& devices) {
  for (const auto& d : devices) leased_.erase(d);
}

std::vector<std::string> parse_gpu_list(const std::string& text, const std::string& option) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  std::set<std::string> seen;
  for (size_t pos = 0;;) {
    const size_t comma = text.find(',', pos);
    std::string id = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    while (!id.empty() && id.front() == ' ') id.erase(0, 1);
    while (!id.empty() && id.back() == ' ') id.pop_back();
    if (id.empty())
      throw InputError(option + " '" + text + "': an empty device id; write ids separated by commas, e.g. 0,1,2");
    for (const char c : id)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '/' || c == ':' || c == '_'))
        throw InputError(option + " '" + text + "': '" + id + "' is not a device index or UUID");
    if (!seen.insert(id).second) throw InputError(option + " '" + text + "': device " + id + " is listed twice");
    out.push_back(id);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::vector<std::string> detect_gpus() {
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) {
    try {
      return parse_gpu_list(visible, "CUDA_VISIBLE_DEVICES");
    } catch (const InputError&) {
      return {};  // CUDA itself treats a malformed list as "no device"
    }
  }
  monitor::Nvml nvml;
  std::vector<std::string> out;
  for (int i = 0; i < nvml.device_count(); ++i) out.push_back(std::to_string(i));
  return out;
}

std::string join_devices(const std::vector<std::string>& devices) {
  std::string out;
  for (const auto& d : devices) out += (out.empty() ? "" : ",") + d;
  return out;
}

}  // namespace codedag::runner
