// What an agent tells the server of a node it registers
// (docs/agent-protocol.md §2): the machine's CPU, memory and GPUs (found
// through NVML, or simulated), its pool and labels, and where its tasks
// and logs are reached. The node's name is added per node.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"

namespace allot::agent {

struct RegistrationFacts {
  std::string pool;  // empty: the server's default (or the join token's)
  std::map<std::string, std::string> labels;
  std::string simulate_gpus;  // "8xH100-80GB"; empty: the GPUs NVML finds
  std::string address;        // where the node's tasks reach each other
  std::string logs_url;
  std::string logs_secret;
  std::string logs_cert;  // PEM: the log endpoint's self-signed certificate (https only)
  std::string boot_id;
  std::string agent_version;
};

// The registration body, or "unavailable" when NVML finds no GPUs and none
// are simulated.
Result<nlohmann::json> RegistrationBody(const RegistrationFacts& facts);

}  // namespace allot::agent
