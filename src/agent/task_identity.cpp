#include "agent/task_identity.h"

#include <grp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace allot::agent {

using nlohmann::json;

namespace {

constexpr uid_t kNobody = 65534;

std::string Describe(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) {
  std::string out = "uid " + std::to_string(uid) + ", gid " + std::to_string(gid);
  for (size_t i = 0; i < groups.size(); ++i) {
    out += (i == 0 ? ", groups " : ",") + std::to_string(groups[i]);
  }
  return out;
}

}  // namespace

Result<TaskIdentity> TaskIdentityFor(const json& spec, uid_t agent_uid) {
  TaskIdentity identity;
  bool root_asked = spec.value("run_as_root", false);
  if (agent_uid != 0) {
    if (root_asked) {
      return Error::Coded("failed_precondition",
                          "the workload runs as root (run_as_root), which needs an agent "
                          "running as root; this agent runs as uid " +
                              std::to_string(agent_uid));
    }
    identity.uid = agent_uid;
    identity.gid = ::getegid();
    identity.description = Describe(identity.uid, identity.gid, {}) +
                           " (the agent's own user: an agent that is not root runs every task "
                           "as itself)";
    return identity;
  }
  identity.switch_user = true;
  const json* run_as = spec.contains("run_as") ? &spec["run_as"] : nullptr;
  if (run_as == nullptr || !run_as->is_object()) {
    identity.uid = kNobody;
    identity.gid = kNobody;
    identity.description = Describe(kNobody, kNobody, {}) +
                           " (nobody: the workload names no identity; it was submitted to an "
                           "older server)";
    return identity;
  }
  int64_t uid = run_as->value("uid", int64_t{-1});
  int64_t gid = run_as->value("gid", uid);
  if (uid < 0 || gid < 0) {
    return Error::Coded("invalid", "the workload's run_as has no valid uid and gid");
  }
  if (uid == 0 && !root_asked) {
    return Error::Coded("permission_denied",
                        "the workload's identity is root but it did not ask for run_as_root: "
                        "refused");
  }
  identity.uid = static_cast<uid_t>(uid);
  identity.gid = static_cast<gid_t>(gid);
  for (const json& group : run_as->value("groups", json::array())) {
    if (group.is_number_integer() && group.get<int64_t>() >= 0) {
      identity.groups.push_back(static_cast<gid_t>(group.get<int64_t>()));
    }
  }
  identity.description = Describe(identity.uid, identity.gid, identity.groups);
  return identity;
}

Status PrepareOwnedDirectory(const std::string& path, const TaskIdentity& identity) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path parent = fs::path(path).parent_path();
  if (!fs::exists(parent, ec)) {
    fs::create_directories(parent, ec);
    if (ec) {
      return Error::Coded("internal", "cannot create " + parent.string() + ": " + ec.message());
    }
    ::chmod(parent.c_str(), 0711);
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error::Coded("internal", "cannot create " + path + ": " + std::strerror(errno));
  }
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return Error::Coded("internal", path + " is not a directory");
  }
  // Root (where granted) reaches every directory as it is: it takes none over.
  if (identity.switch_user && identity.uid != 0) {
    bool fresh = info.st_uid == 0 && info.st_nlink <= 2;
    if (info.st_uid != identity.uid && !fresh) {
      return Error::Coded("permission_denied", path + " belongs to uid " +
                                                   std::to_string(info.st_uid) + ", not to " +
                                                   identity.description + ": refused");
    }
    if (::chown(path.c_str(), identity.uid, identity.gid) != 0) {
      return Error::Coded("internal", "cannot give " + path + " to " + identity.description + ": " +
                                          std::strerror(errno));
    }
  }
  ::chmod(path.c_str(), 0700);
  return Status::Ok();
}

Status CheckPassable(const std::string& path, bool chmod_own) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path at = fs::absolute(path, ec);
  if (chmod_own && ::chmod(at.c_str(), 0711) != 0) {
    return Error::Coded("internal", "cannot chmod " + at.string() + ": " + std::strerror(errno));
  }
  for (fs::path dir = at; !dir.empty(); dir = dir.parent_path()) {
    struct stat info {};
    if (::stat(dir.c_str(), &info) == 0 && (info.st_mode & S_IXOTH) == 0) {
      return Error::Coded(
          "failed_precondition",
          "tasks run as their owners and could not reach their directories under " + path + ": " +
              dir.string() +
              " is not passable by other users (chmod o+x it, or choose a state directory "
              "elsewhere, such as /var/lib/allot)",
          "state-dir");
    }
    if (dir == dir.parent_path()) break;
  }
  return Status::Ok();
}

int EnterIdentity(const TaskIdentity& identity) {
  if (identity.switch_user) {
    if (::setgroups(identity.groups.size(), identity.groups.data()) != 0) return errno;
    if (::setresgid(identity.gid, identity.gid, identity.gid) != 0) return errno;
    if (::setresuid(identity.uid, identity.uid, identity.uid) != 0) return errno;
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  return 0;
}

}  // namespace allot::agent
