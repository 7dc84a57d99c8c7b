#pragma once
// GPU leases: the pool is a list of device ids (what CUDA_VISIBLE_DEVICES accepts: indices, GPU
// or MIG UUIDs); a running cell holds its lease exclusively and returns it when it ends. Leases
// are bookkeeping — nothing here probes a device or its free memory (picking GPUs by free memory
// races: two cells see the same free GPU).
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace codedag::runner {

class GpuPool {
 public:
  explicit GpuPool(std::vector<std::string> devices);

  size_t size() const { return devices_.size(); }
  size_t free_count() const;
  // `n` free devices (lowest first), now leased; nullopt when fewer are free. n == 0: an empty lease.
  std::optional<std::vector<std::string>> acquire(int n);
  // Marks devices leased by someone else (a cell still running from before a resume). Unknown ids
  // are ignored: the pool may have changed between sweeps.
  void reserve(const std::vector<std::string>& devices);
  void release(const std::vector<std::string>& devices);

 private:
  std::vector<std::string> devices_;
  std::set<std::string> leased_;
};

// "0,1,3" -> {"0", "1", "3"}. InputError for empty entries or duplicates.
std::vector<std::string> parse_gpu_list(const std::string& text, const std::string& option);

// The devices this machine offers: CUDA_VISIBLE_DEVICES when set (empty when set to ""), else
// one index per device NVML reports, else none.
std::vector<std::string> detect_gpus();

// "0,1" for CUDA_VISIBLE_DEVICES.
std::string join_devices(const std::vector<std::string>& devices);

}  // namespace codedag::runner
