// A control plane of several servers is reached through a list of their
// addresses, separated by commas (--server, ALLOT_SERVER): clients try them
// in turn (docs/high-availability.md).
#pragma once

#include <string>
#include <vector>

namespace allot {

// The addresses of a comma-separated server list, in order, without blanks
// or trailing '/'.
inline std::vector<std::string> SplitServers(const std::string& servers) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= servers.size()) {
    size_t comma = servers.find(',', start);
    if (comma == std::string::npos) comma = servers.size();
    std::string one = servers.substr(start, comma - start);
    while (!one.empty() && one.front() == ' ') one.erase(0, 1);
    while (!one.empty() && (one.back() == ' ' || one.back() == '/')) one.pop_back();
    if (!one.empty()) out.push_back(one);
    start = comma + 1;
  }
  return out;
}

// The first address of a server list ("" for none): where links point.
inline std::string FirstServer(const std::string& servers) {
  std::vector<std::string> all = SplitServers(servers);
  return all.empty() ? std::string() : all.front();
}

}  // namespace allot
