#include "codedag/monitor/nvml.hpp"

#include <dlfcn.h>

namespace codedag::monitor {

// The few NVML entry points used, with the ABI of nvml.h (declared here so no CUDA headers are
// needed to build). Versioned names (_v2) are what nvml.h maps the plain names to.
namespace {
using nvmlReturn_t = int;
using nvmlDevice_t = void*;
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr nvmlReturn_t NVML_SUCCESS = 0;
}  // namespace

struct Nvml::Api {
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*device_count)(unsigned int*) = nullptr;
  nvmlReturn_t (*handle_by_index)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned int) = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;
};

namespace {
template <class F>
bool load(void* handle, const char* symbol, F& out) {
  out = reinterpret_cast<F>(::dlsym(handle, symbol));
  return out != nullptr;
}
}  // namespace

Nvml::Nvml(const std::string& library) {
  handle_ = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) {
    reason_ = library + " not found (no NVIDIA driver): GPU series stay empty";
    return;
  }
  api_ = new Api;
  const bool complete = load(handle_, "nvmlInit_v2", api_->init) && load(handle_, "nvmlShutdown", api_->shutdown) &&
                        load(handle_, "nvmlDeviceGetCount_v2", api_->device_count) &&
                        load(handle_, "nvmlDeviceGetHandleByIndex_v2", api_->handle_by_index) &&
                        load(handle_, "nvmlDeviceGetUtilizationRates", api_->utilization) &&
                        load(handle_, "nvmlDeviceGetMemoryInfo", api_->memory);
  load(handle_, "nvmlDeviceGetName", api_->name);
  load(handle_, "nvmlErrorString", api_->error_string);
  if (!complete) {
    reason_ = library + " lacks the NVML functions CodeDAG needs (driver too old?): GPU series stay empty";
    return;
  }
  const nvmlReturn_t rc = api_->init();
  if (rc != NVML_SUCCESS) {
    reason_ = std::string("nvmlInit failed: ") + (api_->error_string ? api_->error_string(rc) : std::to_string(rc)) +
              ": GPU series stay empty";
    return;
  }
  initialised_ = true;
  unsigned int count = 0;
  if (api_->device_count(&count) != NVML_SUCCESS || count == 0) {
    reason_ = "no NVIDIA device: GPU series stay empty";
    return;
  }
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice_t device = nullptr;
    if (api_->handle_by_index(i, &device) != NVML_SUCCESS) device = nullptr;
    devices_.push_back(device);
    char name[96] = {0};
    if (device && api_->name && api_->name(device, name, sizeof name) == NVML_SUCCESS)
      names_.emplace_back(name);
    else
      names_.emplace_back("GPU " + std::to_string(i));
  }
  device_count_ = static_cast<int>(count);
}

Nvml::~Nvml() {
  if (initialised_ && api_ && api_->shutdown) api_->shutdown();
  delete api_;
  if (handle_) ::dlclose(handle_);
}

std::vector<GpuReading> Nvml::read() {
  std::vector<GpuReading> out;
  if (!available()) return out;
  out.reserve(devices_.size());
  for (size_t i = 0; i < devices_.size(); ++i) {
    if (!devices_[i]) continue;
    nvmlUtilization_t util{};
    nvmlMemory_t mem{};
    if (api_->utilization(devices_[i], &util) != NVML_SUCCESS) continue;
    if (api_->memory(devices_[i], &mem) != NVML_SUCCESS) continue;
    out.push_back(GpuReading{static_cast<int>(i), static_cast<double>(util.gpu),
                             static_cast<double>(mem.used) / (1024.0 * 1024.0),
                             static_cast<double>(mem.total) / (1024.0 * 1024.0)});
  }
  return out;
}

}  // namespace codedag::monitor
