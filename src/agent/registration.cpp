#include "agent/registration.h"

#include "agent/inventory.h"

namespace allot::agent {

Result<nlohmann::json> RegistrationBody(const RegistrationFacts& facts) {
  nlohmann::json body = {{"cpu", std::to_string(CpuMilli()) + "m"},
                         {"memory", std::to_string(MemoryMib()) + "Mi"},
                         {"labels", facts.labels},
                         {"address", facts.address},
                         {"logs_url", facts.logs_url},
                         {"logs_secret", facts.logs_secret},
                         {"boot_id", facts.boot_id},
                         {"agent_version", facts.agent_version}};
  if (!facts.pool.empty()) body["pool"] = facts.pool;
  if (!facts.logs_cert.empty()) body["logs_cert"] = facts.logs_cert;
  if (!facts.simulate_gpus.empty()) {
    body["simulate_gpus"] = facts.simulate_gpus;
    return body;
  }
  Result<std::vector<core::GpuSpec>> gpus = DiscoverGpus();
  if (!gpus) {
    return Error::Coded("unavailable", gpus.error().message +
                                           ": give --simulate-gpus (for example 8xH100-80GB) to "
                                           "run without GPUs");
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& gpu : *gpus) {
    list.push_back({{"index", gpu.index},
                    {"uuid", gpu.uuid},
                    {"model", gpu.model},
                    {"memory", std::to_string(gpu.memory_mib) + "Mi"}});
  }
  body["gpus"] = list;
  return body;
}

}  // namespace allot::agent
