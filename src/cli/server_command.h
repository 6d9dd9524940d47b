// `allot server` (the control plane) and `allot up` (standalone: the control
// plane plus, until the agent exists, one simulated local node).
#pragma once

#include <CLI/CLI.hpp>

namespace allot::cli {

// Adds `server` and `up` to `app`. After parsing, RunServerCommand() runs
// whichever was chosen.
void AddServerCommands(CLI::App& app);
// The exit status of the chosen command; -1 when neither was chosen.
int RunServerCommand();

}  // namespace allot::cli
