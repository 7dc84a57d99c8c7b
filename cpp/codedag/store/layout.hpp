#pragma once
// Where a store keeps things. One home (CODEDAG_HOME, default ~/.codedag) holds three roots laid
// out <root>/<experiment name>/<test_name>:
//   info/   small JSON files (run.json, metrics.jsonl, heartbeat.json, attachments): the source of truth
//   blob/   models and artifacts the run saves
//   cache/  temporary files, safe to delete
// plus index.sqlite, a cache of info/ that `codedag index rebuild` recreates from the files.
#include <string>

#include "codedag/store/run_identity.hpp"

namespace codedag::store {

class Layout {
 public:
  // `home` empty: $CODEDAG_HOME, else ~/.codedag.
  explicit Layout(std::string home = "");

  const std::string& home() const { return home_; }
  std::string info_root() const { return home_ + "/info"; }
  std::string blob_root() const { return home_ + "/blob"; }
  std::string cache_root() const { return home_ + "/cache"; }
  std::string index_path() const { return home_ + "/index.sqlite"; }

  std::string info_dir(const std::string& name, const std::string& test_name) const;
  std::string blob_dir(const std::string& name, const std::string& test_name) const;
  std::string cache_dir(const std::string& name, const std::string& test_name) const;

 private:
  std::string home_;
};

// The home a store uses when none is given: $CODEDAG_HOME, else $HOME/.codedag.
std::string default_home();

// Names of the files inside a run's info directory.
inline constexpr const char* kRunFile = "run.json";
inline constexpr const char* kMetricsFile = "metrics.jsonl";
inline constexpr const char* kHeartbeatFile = "heartbeat.json";
inline constexpr const char* kLockFile = "run.lock";
inline constexpr const char* kRunSchema = "codedag.run/1";

}  // namespace codedag::store
