// Serving load across servers (docs/high-availability.md §4): every
// server's gateway takes requests, but only the leader's autoscaler
// decides. Each server records its gateway's sample of a service in the
// store (Store::RecordServiceLoad, outside the change log) and the leader
// adds the other servers' fresh samples to its own before it decides, so
// that a request through a follower counts, and wakes a service at zero.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "server/autoscaler.h"
#include "store/store.h"

namespace allot::server {

// What the other servers see of one service, summed.
struct PeerLoad {
  double concurrency = 0;
  double rps = 0;
  int64_t in_flight = 0;
  int64_t last_request_ms = 0;
};

// One server's sample as the store keeps it (JSON).
std::string EncodeServiceLoad(const LoadSample& sample, int64_t in_flight, int64_t last_request_ms);

// The other servers' loads per service: `self`'s records and those taken
// before `fresh_after_ms` (a server that stopped recording) are left out.
std::map<std::string, PeerLoad> PeerLoads(const std::vector<store::ServiceLoad>& loads,
                                          const std::string& self, int64_t fresh_after_ms);

// Adds `peers` to this server's sample of the same tick.
void AddPeerLoad(const PeerLoad& peers, LoadSample& sample, int64_t& in_flight,
                 int64_t& last_request_ms);

}  // namespace allot::server
