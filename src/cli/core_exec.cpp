#include "cli/core_exec.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string_view>

namespace allot::cli {
namespace {

constexpr const char* kCoreName = "allot-core";

// The commands allot-core holds and `allot` does not.
constexpr std::string_view kCoreCommands[] = {
    "up", "server", "store", "agent", "task-shim", "scenario", "bench", "sim", "completion"};

}  // namespace

bool IsCoreCommandLine(int argc, char** argv) {
  if (argc < 2) return true;  // the help of everything
  std::string_view first = argv[1];
  if (first == "--help" || first == "-h") return true;
  for (std::string_view name : kCoreCommands) {
    if (first == name) return true;
  }
  return false;
}

int ExecCore(char** argv) {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::string beside = ec ? std::string() : (self.parent_path() / kCoreName).string();
  if (!beside.empty()) {
    execv(beside.c_str(), argv);
    if (errno != ENOENT) {
      std::cerr << "allot: cannot run " << beside << ": " << std::strerror(errno) << "\n";
      return 127;
    }
  }
  execvp(kCoreName, argv);
  std::cerr << "allot: '" << argv[1] << "' is a command of " << kCoreName << ", which is not "
            << (beside.empty() ? std::string() : "next to this allot (" + beside + ") nor ")
            << "on PATH (" << std::strerror(errno) << "): install it beside allot\n";
  return 127;
}

}  // namespace allot::cli
