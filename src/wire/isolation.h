// What a task runs in and as (docs/isolation.md): the Unix identity it runs
// under, an optional OCI image, host paths bound into it, and the policy a
// project sets for them (which host paths its tasks may bind, whether they
// may run as root, the identity its members' tasks run as by default).
//
// The submitter names an image, volumes and whether it asks for root; the
// server resolves the identity (run_as) when it accepts the workload, so an
// agent never decides who a task runs as.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "wire/json_reader.h"

namespace allot::wire {

// A Unix identity: uid, primary gid and supplementary groups. uid < 0 means
// "not set".
struct UnixIdentity {
  int64_t uid = -1;
  int64_t gid = -1;
  std::vector<int64_t> groups;
  bool IsSet() const { return uid >= 0; }
  bool IsRoot() const { return uid == 0; }
  friend bool operator==(const UnixIdentity&, const UnixIdentity&) = default;
};
// Reads {"uid": N, "gid": N, "groups": [N...]} at `key` (gid defaults to
// uid). `field` names it in errors.
Result<UnixIdentity> ReadIdentity(const nlohmann::json& body, const std::string& field);
nlohmann::json EncodeIdentity(const UnixIdentity& identity);
// "uid 2001, gid 2001, groups 44,107".
std::string DescribeIdentity(const UnixIdentity& identity);

// The first uid the server hands to users an admin gave no identity, and
// how many it may hand out; above the range Debian gives to local users.
constexpr int64_t kAutoUidFirst = 200000;
constexpr int64_t kAutoUidCount = 100000;

// A host path bound into the task: "HOST:TASK[:ro]".
struct Volume {
  std::string host;
  std::string task;
  bool read_only = false;
  friend bool operator==(const Volume&, const Volume&) = default;
};
// Parses "HOST:TASK[:ro|rw]"; both paths absolute, without "." or "..".
Result<Volume> ParseVolume(const std::string& text);
std::string FormatVolume(const Volume& volume);

// What a workload runs in and as.
struct TaskRuntime {
  std::string image;  // empty: a host process
  std::vector<Volume> volumes;
  int64_t shm_mib = 0;       // /dev/shm of a container; 0: the runtime's default (64 MiB)
  bool run_as_root = false;  // asked by the submitter; needs the project's allow_root
  UnixIdentity run_as;       // set by the server
  friend bool operator==(const TaskRuntime&, const TaskRuntime&) = default;
};
// The submitter's fields: image, volumes, shm_size, run_as_root; with
// `stored`, also run_as. Checks each on its own (not against a project).
Status ReadTaskRuntime(JsonReader& reader, TaskRuntime& runtime, bool stored);
void EncodeTaskRuntime(const TaskRuntime& runtime, nlohmann::json& out);

// Whether `image` is a well-formed image reference
// ([registry/]name[:tag][@digest]).
Status CheckImageName(const std::string& image);

// What a project allows its tasks (set by those who set its quota).
struct ProjectPolicy {
  std::vector<std::string> allowed_paths;  // host paths volumes may come from
  bool allow_root = false;                 // tasks may run as uid 0
  UnixIdentity default_identity;           // members without one of their own run as this
  friend bool operator==(const ProjectPolicy&, const ProjectPolicy&) = default;
};
Status ReadProjectPolicy(JsonReader& reader, ProjectPolicy& policy);
void EncodeProjectPolicy(const ProjectPolicy& policy, nlohmann::json& out);

// Whether every volume's host path lies under one of `allowed` (an error
// naming the first that does not, and the grant that would allow it).
Status CheckVolumesAllowed(const std::vector<Volume>& volumes, const ProjectPolicy& policy,
                           const std::string& project);

// Whether `path` is `prefix` or lies below it (both normalized absolute paths).
bool PathWithin(const std::string& path, const std::string& prefix);

}  // namespace allot::wire
