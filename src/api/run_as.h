// Who a task runs as (docs/isolation.md §1). The server decides it when it
// accepts a workload, from the submitter and the project, and stores it in
// the workload (run_as): agents run the task as that identity and never
// choose one.
#pragma once

#include <vector>

#include "api/auth.h"
#include "store/store.h"
#include "wire/isolation.h"

namespace allot::api {

// The writes that give `user` the next free uid of the server's range
// (kAutoUidFirst on) as its assigned identity, uid and gid equal: the
// counter's update and the user's own write (create or update), to be
// committed together. A concurrent assignment makes the commit fail with
// "conflict" or "already_exists"; take the writes again then. A uid is
// never handed out twice, also after its user is deleted, so that a new
// user never inherits an old one's files.
Result<std::vector<store::Write>> AssignIdentityWrites(store::Store& store, User& user,
                                                       bool create_user);

// The identity a workload of `user` in `project` runs as: root only when
// asked (run_as_root) and the project allows it; otherwise the user's own
// identity, else the project's default, else the one assigned to the user.
// "forbidden" for root without the grant; "invalid" when the user has no
// identity at all (the caller assigns one first).
Result<wire::UnixIdentity> ResolveRunAs(const User& user, const wire::ProjectPolicy& policy,
                                        const std::string& project, bool run_as_root);

}  // namespace allot::api
