// The images container tasks run from (docs/isolation.md §2). Images live
// in podman's local store on each node: `podman build`, `podman load` and
// `podman pull` put them there, and the task shim mounts one read-only as
// the lower layer of the task's root file system. Podman runs no container
// here: the OCI runtime does (oci_bundle.h), with the shim as its parent.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace allot::agent {

// What an image brings: its mounted file system and its defaults.
struct ImageConfig {
  std::string rootfs;  // podman's read-only mount of the image
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
};

// Makes `image` available (pulling it when the node does not have it) and
// mounts it. The error says which image, from where it was pulled and why
// that failed.
Result<ImageConfig> MountImage(const std::string& image);

// Releases MountImage's mount (podman counts them).
void UnmountImage(const std::string& image);

// Where a pull of `image` goes: the registry in its name, or podman's
// search registries for a short name.
std::string RegistryOf(const std::string& image);

}  // namespace allot::agent
