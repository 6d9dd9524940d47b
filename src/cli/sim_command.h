// `allot sim pack | replay | make-trace`: the trace simulator's command line.
#pragma once

#include <CLI/CLI.hpp>

namespace allot::cli {

// Adds the `sim` command and its subcommands to `app`. After parsing,
// RunSimCommand() runs whichever was chosen.
void AddSimCommand(CLI::App& app);
// The exit status of the chosen `sim` subcommand; -1 when `sim` was not chosen.
int RunSimCommand();

}  // namespace allot::cli
