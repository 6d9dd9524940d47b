// `allot exec` on the node (docs/gateway.md §4): a command in a running
// task, as the task runs (its identity, environment, working directory,
// cgroup and network; a container's through the OCI runtime's exec), with
// a terminal when asked, its input and output carried in exec frames
// (tunnel/protocol.h) over the stream the agent dialed back.
#pragma once

#include <atomic>
#include <string>

#include "tunnel/protocol.h"

namespace allot::agent {

// Runs `request.command` in the task of `dir` and serves it over `fd`
// until the command exits (an exit frame) or the stream ends (the command
// is killed). `leftover`: bytes already read from `fd`. Closes `fd`.
// Returns early, killing the command, once `stopping` is set.
void RunExec(const std::string& dir, const tunnel::StreamRequest& request, int fd,
             std::string leftover, const std::atomic<bool>& stopping);

}  // namespace allot::agent
