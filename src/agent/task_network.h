// A workspace's network (docs/gateway.md §2): its task runs in a network
// namespace of its own, with only a loopback device, so that nothing on
// the node or the network reaches its port but the agent, which connects
// from inside that namespace and carries the stream through the tunnel.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.h"

namespace allot::agent {

// In the shim, before it starts the task: a new network namespace for the
// shim (and so for the task and its container) with loopback up. Needs
// root (CAP_SYS_ADMIN).
Status EnterPrivateNetwork();

// A TCP connection to 127.0.0.1:`port` in the network of the task whose
// directory is `dir` (its shim's namespace: the task's own when it has
// one). In the node's own network, the port's listener must belong to the
// user the task runs as: a port-forward never reaches another user's
// service on the node, or the node's own. An error when the task has
// ended or nothing of its user listens there.
Result<int> ConnectToTask(const std::string& dir, int port);

// Whether a socket of `uid` listens on TCP `port` (loopback or any
// address) in this thread's network: /proc/net/tcp and tcp6.
bool ListensAs(int port, uid_t uid);

// An open descriptor of the network namespace of the task whose shim is
// `shim_pid` when it has one of its own (not the agent's), else -1. The
// caller closes it.
int OpenTaskNetwork(int shim_pid);

// The pid of the live shim of the task in `dir`, or 0.
int LiveShimPid(const std::string& dir);

}  // namespace allot::agent
