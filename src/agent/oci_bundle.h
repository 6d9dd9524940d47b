// The OCI runtime configuration (config.json) of a container task
// (docs/isolation.md §2): what the shim hands runc or crun. Pure: the
// caller finds the devices, libraries and directories; this decides how
// the container sees them.
//
// The container has its own mount, PID, IPC and UTS namespaces and shares
// the node's network (tasks of a distributed workload reach each other at
// their nodes' addresses, as host tasks do). It runs as the task's identity
// with no capabilities (root, when granted, keeps the runtime's default
// set), no_new_privs, only the assigned GPUs' device nodes, and its CPU and
// memory request as cgroup limits.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/container_image.h"
#include "agent/task_identity.h"
#include "wire/isolation.h"

namespace allot::agent {

// A host file or directory bound into the container.
struct BindMount {
  std::string host;
  std::string container;
  bool read_only = true;
};

// A character device the container may use (a GPU's /dev/nvidiaN).
struct DeviceNode {
  std::string path;
  int64_t major = 0;
  int64_t minor = 0;
};

struct ContainerInputs {
  ImageConfig image;
  std::vector<std::string> command;  // empty: the image's entrypoint and cmd
  std::vector<std::string> env;      // KEY=VALUE, the task's over the image's
  TaskIdentity identity;
  std::string hostname;
  std::string rootfs;        // the bundle's writable root (an overlay on the image)
  std::string home;          // the owner's working directory inside the container
  std::string cgroups_path;  // "" leaves cgroups to the runtime's default
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int64_t shm_mib = 0;  // 0: 64 MiB
  // The node's name files, the owner's directory, volumes, libraries, ledgers.
  std::vector<BindMount> binds;
  std::vector<DeviceNode> devices;
};

// The config.json for `inputs`.
nlohmann::json OciConfig(const ContainerInputs& inputs);

// The environment the container starts with: the image's, then `task`'s
// over it (same keys replaced).
std::vector<std::string> MergeEnvironment(const std::vector<std::string>& image,
                                          const std::vector<std::string>& task);

}  // namespace allot::agent
