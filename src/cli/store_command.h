// `allot store copy`: a whole store into a new one, checked (store_copy.h).
#pragma once

#include <CLI/CLI.hpp>

namespace allot::cli {

// Adds `store` to `app`; after parsing, RunStoreCommand() runs it.
void AddStoreCommands(CLI::App& app);
// The exit status of the chosen command; -1 when it was not chosen.
int RunStoreCommand();

}  // namespace allot::cli
