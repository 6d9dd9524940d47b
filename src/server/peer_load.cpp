#include "server/peer_load.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace allot::server {

std::string EncodeServiceLoad(const LoadSample& sample, int64_t in_flight,
                              int64_t last_request_ms) {
  return nlohmann::json{{"concurrency", sample.concurrency},
                        {"rps", sample.rps},
                        {"in_flight", in_flight},
                        {"last_request_ms", last_request_ms}}
      .dump();
}

std::map<std::string, PeerLoad> PeerLoads(const std::vector<store::ServiceLoad>& loads,
                                          const std::string& self, int64_t fresh_after_ms) {
  std::map<std::string, PeerLoad> out;
  for (const store::ServiceLoad& load : loads) {
    if (load.server == self || load.at_ms < fresh_after_ms) continue;
    nlohmann::json body = nlohmann::json::parse(load.body, nullptr, false);
    if (!body.is_object()) continue;
    PeerLoad& sum = out[load.service];
    sum.concurrency += body.value("concurrency", 0.0);
    sum.rps += body.value("rps", 0.0);
    sum.in_flight += body.value("in_flight", int64_t{0});
    sum.last_request_ms = std::max(sum.last_request_ms, body.value("last_request_ms", int64_t{0}));
  }
  return out;
}

void AddPeerLoad(const PeerLoad& peers, LoadSample& sample, int64_t& in_flight,
                 int64_t& last_request_ms) {
  sample.concurrency += peers.concurrency;
  sample.rps += peers.rps;
  in_flight += peers.in_flight;
  last_request_ms = std::max(last_request_ms, peers.last_request_ms);
}

}  // namespace allot::server
