// The client commands: they talk to the server's API (docs/api.md) with the
// server and token of common/client_config.h.
//
//   login                          save server and token
//   submit, list, describe, delete, logs  workloads
//   quota get|set, top, nodes      quotas and the cluster
//   nodes join-token               a token for `allot agent` (admins)
//   audit                          the audit log (admins)
//   user create|list|delete        users and their Unix identities (admins)
//   token create|list|revoke       API tokens
//   workspace ...                  notebooks and services through the gateway
//   serve ...                      inference services, autoscaled
//   exec, port-forward             into a running task, through the gateway
//   completion bash|zsh            shell completion
#pragma once

#include <CLI/CLI.hpp>

namespace allot::cli {

// Every client command above and `gpu-run`: what the quick `allot`
// executable holds (cli/core_exec.h). RunClientCommands() runs the one
// chosen and returns its exit status, or -1 when none of them was.
void AddClientCommands(CLI::App& app);
int RunClientCommands();
// The same, but it stops after the group that holds the command `first`
// (argv[1]): a process builds only the part of the tree it parses, which
// is most of what it does before it connects. Unknown or null: every group.
void AddClientCommandsFor(CLI::App& app, const char* first);

// Add the commands to `app`; after parsing, Run*() runs whichever was
// chosen and returns its exit status, or -1 when none of its commands was.
void AddWorkloadCommands(CLI::App& app);
int RunWorkloadCommands();

void AddClusterCommands(CLI::App& app);
int RunClusterCommands();

void AddQuotaCommands(CLI::App& app);
int RunQuotaCommands();

void AddIdentityCommands(CLI::App& app);
int RunIdentityCommands();

void AddWorkspaceCommands(CLI::App& app);  // workspace create|list|open|stop|start|delete
int RunWorkspaceCommands();
void AddServeCommands(CLI::App& app);  // serve create|list|describe|update|delete
int RunServeCommands();
void AddStreamCommands(CLI::App& app);  // exec, port-forward
int RunStreamCommands();
// `allot completion bash|zsh`: a script generated from `app`'s commands
// and options, so that it never falls behind them.
void AddCompletionCommand(CLI::App& app);
int RunCompletionCommand(const CLI::App& app);

}  // namespace allot::cli
