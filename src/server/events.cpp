#include "server/events.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "common/random_hex.h"

namespace allot::server {

nlohmann::json MakeEvent(int64_t now_ms, const std::string& workload, const std::string& project,
                         const std::string& type, const std::string& message) {
  static std::atomic<int64_t> sequence{0};
  // Several servers write events into one store: a suffix of this
  // process's own keeps their names apart.
  static const std::string process = RandomHex(3);
  char name[64];
  std::snprintf(name, sizeof name, "%013lld-%06lld-%s", static_cast<long long>(now_ms),
                static_cast<long long>(sequence.fetch_add(1) % 1000000), process.c_str());
  return {{"name", name},       {"time_ms", now_ms}, {"workload", workload},
          {"project", project}, {"type", type},      {"message", message}};
}

}  // namespace allot::server
