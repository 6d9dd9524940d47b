// allot is two executables. `allot` holds the client commands (login,
// submit, list, ...) and gpu-run, and links only what they need, so that it
// starts in a millisecond or two. `allot-core`, installed next to it, holds
// everything: the control plane (`up`, `server`, `store`), the node agent
// (`agent` and the task shim), the simulator and benchmarks (`sim`,
// `scenario`, `bench`), and `completion`, which needs the whole tree.
// `allot` hands those commands (and a bare `allot` or `allot --help`) to
// allot-core by exec, with the same arguments and the same pid, so `allot
// up` and `allot server` behave as they always did.
#pragma once

namespace allot::cli {

// Whether `allot` hands this command line to allot-core.
bool IsCoreCommandLine(int argc, char** argv);

// Replaces the process with allot-core (next to this executable, else on
// PATH), given the same argv. Returns only on failure, with exit status 127
// after saying where it looked.
int ExecCore(char** argv);

}  // namespace allot::cli
