#pragma once
// The subcommands whose work is Python (trace, optimize-run) run `python -m codedag...` in a child
// process. One place decides which interpreter and how it is run, so every subcommand agrees.
#include <string>
#include <vector>

namespace codedag::cli {

// The interpreter with codedag installed, in this order: `explicit_choice` (a --python option),
// $CODEDAG_PYTHON, a python3/python beside this executable (the venv's bin/ the CLI was installed
// into), else python3 from PATH.
std::string find_python(const std::string& explicit_choice = "");

// Runs args[0] with args (no shell), waits, and returns its exit status (128+N when killed by
// signal N). `who` prefixes errors: "trace: cannot start the Python interpreter ...".
int run_python(const std::vector<std::string>& args, const std::string& who);

// Checks, without importing them, that `python` can import each of `modules` (codedag, torch); an
// InputError says which is missing and how to install it, instead of the child's traceback.
void require_python_modules(const std::string& python, const std::vector<std::string>& modules, const std::string& who);

}  // namespace codedag::cli
