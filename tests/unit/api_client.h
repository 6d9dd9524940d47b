// A request to an API under test on 127.0.0.1, for the tests that drive the
// server over HTTP.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

namespace allot {

struct ApiResponse {
  int status = 0;  // 0: no reply
  nlohmann::json body;
};

// `method` on `path` with a bearer token (none when empty) and a JSON body.
inline ApiResponse CallApi(int port, const std::string& method, const std::string& path,
                           const std::string& token, const std::string& body = "") {
  httplib::Client client("127.0.0.1", port);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  httplib::Result res = method == "GET"     ? client.Get(path, headers)
                        : method == "POST"  ? client.Post(path, headers, body, "application/json")
                        : method == "PUT"   ? client.Put(path, headers, body, "application/json")
                        : method == "PATCH" ? client.Patch(path, headers, body, "application/json")
                                            : client.Delete(path, headers);
  if (!res) return {};
  return {res->status, nlohmann::json::parse(res->body, nullptr, false)};
}

}  // namespace allot
