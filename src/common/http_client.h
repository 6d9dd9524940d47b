// A small JSON-over-HTTP client for allot's API (the CLI, and later the
// agent). One place holds the HTTP library; callers see JSON and errors as
// values: an API error {"error": {"code", "message", "field"}} comes back as
// that Error, a connection failure as code "unreachable".
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/server_list.h"

namespace allot {

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

class HttpClient {
 public:
  // `server`: "http://host:port" or "https://host:port" (a trailing '/' is
  // allowed), or several such addresses separated by commas: the servers of
  // one control plane. A call that cannot connect to one tries the next
  // (reads also when the connection broke mid-call), and later calls stay
  // with the one that answered. `token`: the bearer token, sent when not
  // empty. `ca_file`: the CA that https servers' certificates must chain to
  // (PEM); empty: the system's store.
  static Result<std::unique_ptr<HttpClient>> Create(const std::string& server,
                                                    const std::string& token,
                                                    const std::string& ca_file = "");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // How long to wait for a reply (watches wait longer than the default 30 s).
  void SetReadTimeout(std::chrono::seconds timeout);

  // method: GET, POST, PUT, PATCH or DELETE. A 2xx JSON reply is returned
  // parsed; anything else becomes an Error.
  Result<nlohmann::json> Call(const std::string& method, const std::string& path,
                              const nlohmann::json* body = nullptr);
  // The raw reply of a GET (for bodies that are not one JSON document).
  Result<HttpReply> GetRaw(const std::string& path);
  // A GET whose body is handed to `receive` as it arrives (a followed log);
  // `receive` returns false to stop. Returns the HTTP status; an error
  // reply's body is returned as an Error, as Call() does.
  Result<int> Stream(const std::string& path,
                     const std::function<bool(const char*, size_t)>& receive);
  // Ends a call in progress on another thread (it fails "unreachable").
  void Cancel();

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Every item of an API list, page after page (at most `max`); `revision`,
// when given, receives the first page's revision (where a watch starts).
Result<std::vector<nlohmann::json>> ListAll(HttpClient& http, const std::string& path,
                                            int64_t max = INT64_MAX, int64_t* revision = nullptr);

// "a b/c" -> "a%20b%2Fc": a value for a query string or a path segment.
std::string UrlEncode(const std::string& text);

}  // namespace allot
