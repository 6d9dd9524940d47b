// `allot task-shim DIR`: the process that owns one task, as containerd's
// shim owns a container. The agent starts it detached (a session of its
// own), so that the task outlives an agent restart; the shim starts the
// task in a process group of its own with its limits (a cgroup v2 where one
// can be made, rlimits otherwise), copies its output to rotated log files,
// waits for it and writes how it ended to DIR/exit.json (task_files.h).
#pragma once

#include <string>

namespace allot::agent {

// Runs the task described by DIR/spec.json to its end; returns the shim's
// exit status (0 once exit.json is written).
int RunTaskShim(const std::string& dir);

}  // namespace allot::agent
