#include "cli/client_commands.h"

#include "cli/gpu_run_command.h"

namespace allot::cli {

namespace {

// The groups, the most used first.
constexpr void (*kGroups[])(CLI::App&) = {
    AddWorkloadCommands,  AddClusterCommands, AddQuotaCommands,  AddIdentityCommands,
    AddWorkspaceCommands, AddServeCommands,   AddStreamCommands, AddGpuRunCommand};

}  // namespace

void AddClientCommands(CLI::App& app) {
  for (auto add : kGroups) add(app);
}

void AddClientCommandsFor(CLI::App& app, const char* first) {
  for (auto add : kGroups) {
    add(app);
    if (first == nullptr) continue;
    for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; })) {
      if (command->check_name(first)) return;
    }
  }
}

int RunClientCommands() {
  for (int (*run)() :
       {RunGpuRunCommand, RunWorkloadCommands, RunClusterCommands, RunQuotaCommands,
        RunIdentityCommands, RunWorkspaceCommands, RunServeCommands, RunStreamCommands}) {
    if (int status = run(); status >= 0) return status;
  }
  return -1;
}

}  // namespace allot::cli
