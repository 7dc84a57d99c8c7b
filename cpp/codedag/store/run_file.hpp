#pragma once
// run.json, the record of one run (schema codedag.run/1, see docs/experiments.md). The run's own
// process and the CLI (tag, rm, rerun links) both change it, so every change is a
// read-modify-write under an exclusive flock on run.lock, and the new content replaces the file
// atomically: a reader sees the old record or the new one, and no writer loses another's change.
#include <functional>
#include <string>

#include "codedag/common/json_file.hpp"

namespace codedag::store {

// Reads <info_dir>/run.json: NotFoundError when absent, FormatError (file:line:col) when it is not
// a JSON object.
json load_run(const std::string& info_dir);

// Applies `change` to the current record under the run's lock and writes it back atomically.
// Returns the record as written.
json update_run(const std::string& info_dir, const std::function<void(json&)>& change);

// Writes a brand-new record (the run's directory was just created exclusively by this process).
void create_run(const std::string& info_dir, const json& run);

}  // namespace codedag::store
