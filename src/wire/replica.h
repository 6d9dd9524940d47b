// A replica of an inference service (docs/serving.md): a workload of one
// task that the serving controller made from a service, with what the agent
// needs to serve it: the port the gateway asks for and the path that says
// the replica is ready. Only the server sets it; a submission cannot.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "common/result.h"
#include "wire/json_reader.h"

namespace allot::wire {

struct ReplicaSpec {
  std::string service;     // empty: not a replica
  int64_t generation = 0;  // the service's generation it was made from
  int32_t port = 0;        // the service's port (a host task listens on PORT)
  std::string ready_path;  // "": ready once the port accepts connections
  bool IsSet() const { return !service.empty(); }
  friend bool operator==(const ReplicaSpec&, const ReplicaSpec&) = default;
};

// The stored "replica" object: {"service", "generation", "port", "ready_path"}.
Status ReadReplica(JsonReader& reader, ReplicaSpec& replica);
void EncodeReplica(const ReplicaSpec& replica, nlohmann::json& out);

}  // namespace allot::wire
