#include "wire/isolation.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "common/quantity.h"

namespace allot::wire {

using nlohmann::json;

namespace {

constexpr int64_t kMaxId = 4294967294;  // (uid_t)-1 means "no change" to setuid

// "/a//b/" -> "/a/b"; an error for relative paths and "." or "..".
Result<std::string> NormalizePath(const std::string& path, const std::string& field) {
  if (path.empty() || path[0] != '/') {
    return Error::Coded("invalid", field + ": '" + path + "' is not an absolute path", field);
  }
  std::string out;
  std::stringstream parts(path);
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    if (part == "." || part == "..") {
      return Error::Coded("invalid",
                          field + ": '" + path + "' has '" + part +
                              "' in it: give the path without . and .. components",
                          field);
    }
    out += "/" + part;
  }
  return out.empty() ? "/" : out;
}

Result<int64_t> ReadId(JsonReader& reader, const char* key, int64_t fallback) {
  int64_t value = fallback;
  if (Status s = reader.Int(key, value, 0, kMaxId); !s) return s.error();
  return value;
}

}  // namespace

Result<UnixIdentity> ReadIdentity(const json& body, const std::string& field) {
  if (!body.is_object()) {
    return Error::Coded("invalid", field + ": expected {\"uid\": N, \"gid\": N, \"groups\": [N]}",
                        field);
  }
  JsonReader reader(body, field + ".");
  UnixIdentity identity;
  Result<int64_t> uid = ReadId(reader, "uid", -1);
  if (!uid) return uid.error();
  if (*uid < 0) {
    return Error::Coded("invalid", field + ".uid: give the numeric uid", field + ".uid");
  }
  identity.uid = *uid;
  Result<int64_t> gid = ReadId(reader, "gid", *uid);
  if (!gid) return gid.error();
  identity.gid = *gid;
  if (const json* groups = reader.Find("groups")) {
    if (!groups->is_array()) {
      return Error::Coded("invalid", field + ".groups: expected a list of numeric gids",
                          field + ".groups");
    }
    for (const json& group : *groups) {
      if (!group.is_number_integer() || group.get<int64_t>() < 0 || group.get<int64_t>() > kMaxId) {
        return Error::Coded("invalid", field + ".groups: expected a list of numeric gids",
                            field + ".groups");
      }
      identity.groups.push_back(group.get<int64_t>());
    }
  }
  if (Status s = reader.Finish(); !s) return s.error();
  return identity;
}

json EncodeIdentity(const UnixIdentity& identity) {
  return {{"uid", identity.uid}, {"gid", identity.gid}, {"groups", identity.groups}};
}

std::string DescribeIdentity(const UnixIdentity& identity) {
  if (!identity.IsSet()) return "none";
  std::string out = "uid " + std::to_string(identity.uid) + ", gid " + std::to_string(identity.gid);
  if (!identity.groups.empty()) {
    out += ", groups ";
    for (size_t i = 0; i < identity.groups.size(); ++i) {
      if (i > 0) out += ',';
      out += std::to_string(identity.groups[i]);
    }
  }
  return out;
}

Result<Volume> ParseVolume(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ':');) parts.push_back(part);
  Error malformed = Error::Coded(
      "invalid", "volumes: '" + text + "' is not HOST:TASK[:ro]: give two absolute paths",
      "volumes");
  if (parts.size() < 2 || parts.size() > 3) return malformed;
  Volume volume;
  if (parts.size() == 3) {
    if (parts[2] != "ro" && parts[2] != "rw") {
      return Error::Coded("invalid",
                          "volumes: '" + text + "' ends in '" + parts[2] +
                              "': the only options are ro (read-only) and rw",
                          "volumes");
    }
    volume.read_only = parts[2] == "ro";
  }
  Result<std::string> host = NormalizePath(parts[0], "volumes");
  if (!host) return host.error();
  Result<std::string> task = NormalizePath(parts[1], "volumes");
  if (!task) return task.error();
  if (*task == "/") {
    return Error::Coded("invalid", "volumes: '" + text + "' would cover the task's whole root",
                        "volumes");
  }
  volume.host = *host;
  volume.task = *task;
  return volume;
}

std::string FormatVolume(const Volume& volume) {
  return volume.host + ":" + volume.task + (volume.read_only ? ":ro" : "");
}

Status CheckImageName(const std::string& image) {
  auto bad = [&](const std::string& why) {
    return Error::Coded("invalid",
                        "image: '" + image + "' " + why +
                            ": give a reference like localhost/trainer:1 or "
                            "registry.example.com/team/model@sha256:<digest>",
                        "image");
  };
  if (image.empty() || image.size() > 255) return bad("is empty or longer than 255 characters");
  if (image.front() == '-' || image.front() == '/' || image.front() == ':') {
    return bad("does not start with a name");
  }
  for (char c : image) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
              c == '/' || c == ':' || c == '@';
    if (!ok) return bad(std::string("has the character '") + c + "'");
  }
  std::string name = image.substr(0, image.find('@'));
  size_t slash = name.rfind('/');
  std::string last = slash == std::string::npos ? name : name.substr(slash + 1);
  std::string repository = last.substr(0, last.find(':'));
  if (repository.empty() || std::any_of(repository.begin(), repository.end(), [](char c) {
        return std::isupper(static_cast<unsigned char>(c));
      })) {
    return bad("has no lowercase repository name");
  }
  return Status::Ok();
}

Status ReadTaskRuntime(JsonReader& reader, TaskRuntime& runtime, bool stored) {
  if (Status s = reader.String("image", runtime.image); !s) return s;
  if (!runtime.image.empty()) {
    if (Status s = CheckImageName(runtime.image); !s) return s;
  }
  std::vector<std::string> volumes;
  if (Status s = reader.StringList("volumes", volumes); !s) return s;
  for (const std::string& text : volumes) {
    Result<Volume> volume = ParseVolume(text);
    if (!volume) return volume.error();
    for (const Volume& other : runtime.volumes) {
      if (other.task == volume->task) {
        return Error::Coded("invalid", "volumes: two volumes bind " + volume->task, "volumes");
      }
    }
    runtime.volumes.push_back(*volume);
  }
  if (!runtime.volumes.empty() && runtime.image.empty()) {
    return Error::Coded("invalid",
                        "volumes: bind host paths into a container (give image); a host process "
                        "sees the host's paths with its owner's permissions",
                        "volumes");
  }
  if (Status s = reader.Quantity("shm_size", runtime.shm_mib, ParseMebibytes); !s) return s;
  if (runtime.shm_mib < 0 || runtime.shm_mib > 1024 * 1024) {
    return Error::Coded("invalid", "shm_size: give a size from 1Mi to 1Ti", "shm_size");
  }
  if (runtime.shm_mib > 0 && runtime.image.empty()) {
    return Error::Coded("invalid",
                        "shm_size: sizes a container's /dev/shm (give image); a host process "
                        "shares the host's",
                        "shm_size");
  }
  if (Status s = reader.Bool("run_as_root", runtime.run_as_root); !s) return s;
  if (stored) {
    if (const json* run_as = reader.Find("run_as")) {
      Result<UnixIdentity> identity = ReadIdentity(*run_as, "run_as");
      if (!identity) return identity.error();
      runtime.run_as = *identity;
    }
  }
  return Status::Ok();
}

void EncodeTaskRuntime(const TaskRuntime& runtime, json& out) {
  if (!runtime.image.empty()) out["image"] = runtime.image;
  if (!runtime.volumes.empty()) {
    json volumes = json::array();
    for (const Volume& volume : runtime.volumes) volumes.push_back(FormatVolume(volume));
    out["volumes"] = volumes;
  }
  if (runtime.shm_mib > 0) out["shm_size"] = FormatMebibytes(runtime.shm_mib);
  if (runtime.run_as_root) out["run_as_root"] = true;
  if (runtime.run_as.IsSet()) out["run_as"] = EncodeIdentity(runtime.run_as);
}

Status ReadProjectPolicy(JsonReader& reader, ProjectPolicy& policy) {
  std::vector<std::string> paths;
  if (Status s = reader.StringList("allowed_paths", paths); !s) return s;
  for (const std::string& path : paths) {
    Result<std::string> normalized = NormalizePath(path, "allowed_paths");
    if (!normalized) return normalized.error();
    if (*normalized == "/") {
      return Error::Coded("invalid",
                          "allowed_paths: '/' would grant the whole host, the server's and "
                          "agents' files included: grant the data directories themselves",
                          "allowed_paths");
    }
    if (std::find(policy.allowed_paths.begin(), policy.allowed_paths.end(), *normalized) ==
        policy.allowed_paths.end()) {
      policy.allowed_paths.push_back(*normalized);
    }
  }
  if (Status s = reader.Bool("allow_root", policy.allow_root); !s) return s;
  if (const json* identity = reader.Find("default_identity")) {
    Result<UnixIdentity> read = ReadIdentity(*identity, "default_identity");
    if (!read) return read.error();
    if (read->IsRoot()) {
      return Error::Coded("invalid",
                          "default_identity: uid 0 is root: give an unprivileged uid (root is "
                          "asked per workload with run_as_root, where allow_root grants it)",
                          "default_identity.uid");
    }
    policy.default_identity = *read;
  }
  return Status::Ok();
}

void EncodeProjectPolicy(const ProjectPolicy& policy, json& out) {
  if (!policy.allowed_paths.empty()) out["allowed_paths"] = policy.allowed_paths;
  if (policy.allow_root) out["allow_root"] = true;
  if (policy.default_identity.IsSet()) {
    out["default_identity"] = EncodeIdentity(policy.default_identity);
  }
}

bool PathWithin(const std::string& path, const std::string& prefix) {
  if (prefix == "/") return true;
  return path == prefix ||
         (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
          path[prefix.size()] == '/');
}

Status CheckVolumesAllowed(const std::vector<Volume>& volumes, const ProjectPolicy& policy,
                           const std::string& project) {
  for (const Volume& volume : volumes) {
    bool allowed =
        std::any_of(policy.allowed_paths.begin(), policy.allowed_paths.end(),
                    [&](const std::string& prefix) { return PathWithin(volume.host, prefix); });
    if (!allowed) {
      std::string granted;
      for (const auto& path : policy.allowed_paths) granted += (granted.empty() ? "" : ", ") + path;
      return Error::Coded("forbidden",
                          "volumes: " + volume.host +
                              " is not under a host path granted to project " + project + " (" +
                              (granted.empty() ? "none granted" : granted) +
                              "): an admin grants it with allot quota set " + project +
                              " --allow-path " + volume.host,
                          "volumes");
    }
  }
  return Status::Ok();
}

}  // namespace allot::wire
