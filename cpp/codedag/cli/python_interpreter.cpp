#include "codedag/cli/python_interpreter.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/common/version.hpp"

extern char** environ;

namespace codedag::cli {

std::string find_python(const std::string& explicit_choice) {
  if (!explicit_choice.empty()) return explicit_choice;
  if (const char* env = std::getenv("CODEDAG_PYTHON"); env && *env) return env;
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec)
    for (const char* name : {"python3", "python"}) {
      const std::filesystem::path beside = self.parent_path() / name;
      if (::access(beside.c_str(), X_OK) == 0) return beside.string();
    }
  return "python3";
}

int run_python(const std::vector<std::string>& args, const std::string& who) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (const int rc = ::posix_spawnp(&pid, args[0].c_str(), nullptr, nullptr, argv.data(), environ); rc != 0) {
    errno = rc;
    throw_system_error(who + ": cannot start the Python interpreter (install codedag in it, or set CODEDAG_PYTHON)",
                       args[0]);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw_system_error(who + ": waiting for the interpreter failed", args[0]);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

void require_python_modules(const std::string& python, const std::vector<std::string>& modules,
                            const std::string& who) {
  // find_spec looks the module up without running it: milliseconds, where importing torch takes seconds.
  static const char* const kProbe =
      "import importlib.util, sys\n"
      "sys.exit(0 if importlib.util.find_spec(sys.argv[1]) is not None else 3)";
  for (const std::string& m : modules) {
    const int rc = run_python({python, "-c", kProbe, m}, who);
    if (rc == 0) continue;
    const std::string py = term::printable(python);
    if (rc != 3)
      throw InputError(who + ": the interpreter " + py + " failed to start (exit " + std::to_string(rc) +
                       "); give a working one with --python or CODEDAG_PYTHON");
    if (m == "codedag")
      throw InputError(who + ": codedag is not installed for " + py +
                       ": install it there (pip install codedag), or give the interpreter that has it "
                       "(--python or CODEDAG_PYTHON)");
    if (m == "torch")
      throw InputError(who + " needs torch, which is not installed for " + py +
                       ": pip install 'codedag[torch]' "
                       "(or torch==" +
                       kTestedTorchVersion +
                       ") into it, or give another interpreter (--python or "
                       "CODEDAG_PYTHON)");
    throw InputError(who + " needs the Python package " + m + ", which is not installed for " + py);
  }
}

}  // namespace codedag::cli
