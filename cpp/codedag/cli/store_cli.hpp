#pragma once
// What the store commands share: the store as the CLI opens it (notices about its index — moved
// aside and rebuilt, kept in the user cache — print as warnings on stderr as they happen) and the
// printing of warnings, escaped: they quote file names and contents read from runs.
#include <string>
#include <vector>

#include "codedag/store/store.hpp"

namespace codedag::cli {

store::Store open_store();
void print_warnings(const std::vector<std::string>& warnings);

}  // namespace codedag::cli
