#pragma once
// Per-GPU utilisation and memory through NVIDIA's management library, loaded at run time with
// dlopen so CodeDAG neither links against nor requires the driver. Without the library, or
// without a device, `available()` is false and readings are empty: a machine with no GPU is a
// normal case, not an error.
#include <string>
#include <vector>

namespace codedag::monitor {

struct GpuReading {
  int index = 0;
  double utilization_pct = 0;  // nvmlDeviceGetUtilizationRates().gpu
  double memory_used_mb = 0;   // nvmlDeviceGetMemoryInfo().used / 2^20
  double memory_total_mb = 0;
};

class Nvml {
 public:
  // `library`: the shared object to load (default "libnvidia-ml.so.1"; tests pass a missing name).
  explicit Nvml(const std::string& library = "libnvidia-ml.so.1");
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  bool available() const { return device_count_ > 0; }
  int device_count() const { return device_count_; }
  // Why there is no GPU series ("libnvidia-ml.so.1 not found", "no NVIDIA device", ...); empty when available.
  const std::string& unavailable_reason() const { return reason_; }
  const std::vector<std::string>& device_names() const { return names_; }
  // One reading per device; a device that fails to answer is left out of this reading only.
  std::vector<GpuReading> read();

 private:
  struct Api;
  void* handle_ = nullptr;
  Api* api_ = nullptr;
  bool initialised_ = false;
  int device_count_ = 0;
  std::vector<void*> devices_;
  std::vector<std::string> names_;
  std::string reason_;
};

}  // namespace codedag::monitor
