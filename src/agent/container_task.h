// A container task's bundle (docs/isolation.md §2): the shim prepares it in
// the task's directory, runs the OCI runtime in the foreground as its own
// child (so the task's output, exit code and stop reach the shim as for a
// host process, and the container outlives an agent restart with its
// shim), and takes it apart when the runtime returns.
//
//   DIR/bundle/config.json   the runtime's configuration (oci_bundle.h)
//   DIR/bundle/rootfs        an overlay: the image read-only, DIR/layer/upper on top
//   DIR/container.pid        the container's first process, written by the runtime
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "agent/task_identity.h"
#include "common/result.h"

namespace allot::agent {

struct PreparedContainer {
  std::vector<std::string> command;  // the runtime's command line
  std::string id;                    // the container's id with the runtime
  std::string image;
  std::string rootfs;  // to unmount at the end
};

// Prepares the bundle of the task in `dir` (spec.json's image, volumes,
// GPUs, limits) to run as `identity` with the task environment `env`.
// An error says why the container cannot start (image, paths, runtime).
Result<PreparedContainer> PrepareContainer(const std::string& dir, const nlohmann::json& spec,
                                           const TaskIdentity& identity,
                                           const std::vector<std::string>& env);

// Unmounts and removes what PrepareContainer made.
void CleanUpContainer(const std::string& dir, const PreparedContainer& container);

// Unmounts the root of an ended container task in `dir` when it is still
// mounted (its shim died before it took the container apart): the agent's
// safety net, so that no ended task holds a mount. Harmless otherwise.
void ReleaseContainerRoot(const std::string& dir);

// The GPU interposer a fractional task (host or container) runs under: the
// copy the agent keeps where tasks can read it (spec.json's
// interposer_library), else the one beside the allot executable.
Result<std::string> InterposerLibraryFor(const nlohmann::json& spec);

// The OCI runtime tasks run with: $ALLOT_OCI_RUNTIME, else runc, else crun.
std::string OciRuntime();

}  // namespace allot::agent
