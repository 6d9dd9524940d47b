#include "server/events.h"

#include <atomic>
#include <cstdio>

namespace allot::server {

nlohmann::json MakeEvent(int64_t now_ms, const std::string& workload, const std::string& project,
                         const std::string& type, const std::string& message) {
  static std::atomic<int64_t> sequence{0};
  char name[48];
  std::snprintf(name, sizeof name, "%013lld-%06lld", static_cast<long long>(now_ms),
                static_cast<long long>(sequence.fetch_add(1) % 1000000));
  return {{"name", name},       {"time_ms", now_ms}, {"workload", workload},
          {"project", project}, {"type", type},      {"message", message}};
}

}  // namespace allot::server
