// Events (kind "events"): what happened to a workload, for `allot describe`
// and the dashboard. Written by the scheduling loop (bound, evicted,
// pending) and by the API (agents' task reports).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace allot::server {

// An event object, named so that names sort by time and never collide
// within the process: "<13-digit ms>-<6-digit sequence>".
nlohmann::json MakeEvent(int64_t now_ms, const std::string& workload, const std::string& project,
                         const std::string& type, const std::string& message);

}  // namespace allot::server
