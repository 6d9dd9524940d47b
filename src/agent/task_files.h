// The files of one task's directory on its node, shared by the agent and
// the task shim (task_shim.h). The directory is created before the task
// starts and is the record that it did: a (workload, task, attempt) whose
// directory exists is never started again.
//
//   spec.json     what to run (written by the agent, then the shim starts)
//   shim.pid      the shim's pid and start time
//   process.json  the task's pid, start time and how its limits are applied
//   exit.json     how it ended: exited (code), killed (signal), failed_to_start
//   stop.json     the agent asked it to stop: SIGTERM time, grace, SIGKILL sent
//   reported      the last state the server acknowledged
//   output.log    stdout and stderr, rotated to output.log.1 ... .5
//   hostfile      the MPI hostfile, for work of several tasks
//   work/         the task's working directory (the task's own, 0700)
//   bundle/, layer/, container.pid
//                 a container task's OCI bundle, its root's upper layer
//                 and its first process (container_task.h)
// The directory is 0711 and its files 0600: the task passes through to
// work/ and reads nothing else (docs/isolation.md).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "common/process_start_time.h"
#include "common/result.h"

namespace allot::agent {

// Writes `text` to `path` through a temporary file and a rename, synced:
// a reader sees all of it or nothing, also after a crash.
Status WriteFileAtomically(const std::string& path, const std::string& text);
// The file's JSON, or nullopt when it is missing or not (yet) JSON.
std::optional<nlohmann::json> ReadJsonFile(const std::string& path);
std::optional<std::string> ReadTextFile(const std::string& path);

// Whether `pid` runs and is the process that started at `start_time`.
bool ProcessAlive(int pid, int64_t start_time);

int64_t WallMs();

constexpr int64_t kLogRotateBytes = 64LL * 1024 * 1024;
constexpr int kLogFilesKept = 5;

}  // namespace allot::agent
