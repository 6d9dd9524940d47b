// allot, the quick executable: the client commands and gpu-run. Every other
// command runs in allot-core (cli/core_exec.h).
#include <CLI/CLI.hpp>

#include <algorithm>

#include "cli/client_commands.h"
#include "cli/core_exec.h"

int main(int argc, char** argv) {
  if (allot::cli::IsCoreCommandLine(argc, argv)) return allot::cli::ExecCore(argv);
  CLI::App app{"allot: a GPU cluster orchestrator (`allot --help` lists every command)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("allot ") + ALLOT_VERSION);
  allot::cli::AddClientCommandsFor(app, argc > 1 ? argv[1] : nullptr);
  CLI11_PARSE(app, argc, argv);
  return std::max(allot::cli::RunClientCommands(), 0);
}
