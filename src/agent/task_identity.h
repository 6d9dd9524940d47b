// Who a task runs as on its node (docs/isolation.md §1), and the
// directories it owns there. The server puts the identity in the workload
// (run_as); the shim, which runs as the agent's user, switches to it just
// before it starts the task.
//
//   agent is root      the task runs as run_as; root only when the workload
//                      asked for it (run_as_root, which the server granted);
//                      a workload without run_as runs as nobody
//   agent is not root  the task runs as the agent's own user (a single-user
//                      machine: `allot up` started by that user)
//
// Either way no_new_privs is set: nothing the task executes gains
// privileges (setuid binaries, file capabilities).
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "common/result.h"

namespace allot::agent {

struct TaskIdentity {
  bool switch_user = false;  // false: the task keeps the agent's own user
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string description;  // "uid 200001, gid 200001" and why
};

// The identity for a task whose spec.json is `spec`, run by an agent whose
// effective uid is `agent_uid`. An error (the task does not start) when the
// spec asks for root that it was not granted, or for root from an agent
// that is not root.
Result<TaskIdentity> TaskIdentityFor(const nlohmann::json& spec, uid_t agent_uid);

// Makes `path` a directory owned by the identity with mode 0700 (its
// parents, when missing, root's 0711: passable, not listable). An existing
// directory owned by someone else is an error, never taken over: a uid
// that changed hands must not inherit another's files.
Status PrepareOwnedDirectory(const std::string& path, const TaskIdentity& identity);

// Makes `path` and every directory above it passable (o+x) for the tasks'
// users, or says which one is not. `chmod_own` sets `path` itself to 0711.
Status CheckPassable(const std::string& path, bool chmod_own);

// In a forked child before exec: supplementary groups, gid, uid (when the
// identity switches), then no_new_privs. Returns 0, or the errno of the
// step that failed. Async-signal-safe.
int EnterIdentity(const TaskIdentity& identity);

}  // namespace allot::agent
