// `allot agent` (a node joins the cluster) and the hidden `allot task-shim
// DIR` the agent runs each task under (src/agent).
#pragma once

#include <CLI/CLI.hpp>

namespace allot::cli {

void AddAgentCommand(CLI::App& app);
// The exit status of `allot agent`, or -1 when it was not chosen.
int RunAgentCommand();

// `allot task-shim DIR` is handled before the command line is parsed: it
// is not for people, and must start fast. -1 when argv is something else.
int RunTaskShimIfAsked(int argc, char** argv);

}  // namespace allot::cli
