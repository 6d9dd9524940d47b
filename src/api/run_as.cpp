#include "api/run_as.h"

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace allot::api {

using nlohmann::json;
using Op = store::Write::Op;

namespace {

constexpr const char* kCounterKind = "settings";
constexpr const char* kCounterName = "next_uid";

Error RootRefused(const std::string& what, const std::string& project) {
  return Error::Coded("forbidden",
                      what + ": project " + project +
                          " does not allow tasks to run as root (uid 0): an admin grants it "
                          "with allot quota set " +
                          project + " --allow-root, which is audited",
                      "run_as_root");
}

}  // namespace

Result<std::vector<store::Write>> AssignIdentityWrites(store::Store& store, User& user,
                                                       bool create_user) {
  int64_t next = wire::kAutoUidFirst;
  std::vector<store::Write> writes;
  Result<store::Object> counter = store.Get(kCounterKind, kCounterName);
  if (counter) {
    next = json::parse(counter->body).value("uid", wire::kAutoUidFirst);
  } else if (counter.error().code != "not_found") {
    return counter.error();
  }
  if (next >= wire::kAutoUidFirst + wire::kAutoUidCount) {
    return Error::Coded("resource_exhausted",
                        "the server has handed out all " + std::to_string(wire::kAutoUidCount) +
                            " uids of its range: give users an identity (--uid, --gid)",
                        "identity");
  }
  json body = {{"uid", next + 1}};
  writes.push_back(counter ? store::Write{Op::kUpdate, kCounterKind, kCounterName, body.dump(),
                                          counter->revision}
                           : store::Write{Op::kCreate, kCounterKind, kCounterName, body.dump(), 0});
  user.assigned_identity = wire::UnixIdentity{next, next, {}};
  writes.push_back(
      {create_user ? Op::kCreate : Op::kUpdate, "users", user.name, EncodeUser(user).dump(), 0});
  return writes;
}

Result<wire::UnixIdentity> ResolveRunAs(const User& user, const wire::ProjectPolicy& policy,
                                        const std::string& project, bool run_as_root) {
  if (run_as_root) {
    if (!policy.allow_root) return RootRefused("run_as_root", project);
    return wire::UnixIdentity{0, 0, {}};
  }
  const wire::UnixIdentity& identity = user.identity.IsSet()             ? user.identity
                                       : policy.default_identity.IsSet() ? policy.default_identity
                                                                         : user.assigned_identity;
  if (!identity.IsSet()) {
    return Error::Coded("invalid", "user " + user.name + " has no Unix identity yet", "identity");
  }
  if (identity.IsRoot() && !policy.allow_root) {
    return RootRefused("user " + user.name + "'s identity is uid 0", project);
  }
  return identity;
}

}  // namespace allot::api
