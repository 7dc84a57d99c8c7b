#pragma once
// What the machine is, recorded with each run: CPU model and count, memory, GPUs (from the NVIDIA
// driver's /proc entries and CUDA_VISIBLE_DEVICES; nothing when there is none), OS, and the
// environment variables that change what a training run does.
#include <string>
#include <vector>

#include "codedag/common/json_file.hpp"

namespace codedag::store {

json machine_inventory();

// The environment subset: variables whose names start with one of these prefixes or equal one
// of these names. Secrets are never recorded (names containing TOKEN, SECRET, PASSWORD, KEY).
json environment_subset();

// argv of this process exactly as the kernel has it (/proc/self/cmdline), and its executable.
std::vector<std::string> process_argv();
std::string process_executable();
std::string current_directory();

}  // namespace codedag::store
