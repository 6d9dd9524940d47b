// What every route handler of the API shares (http_api.cpp and the agent
// routes): the reply, the authenticated caller and the error form.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "api/auth.h"
#include "common/result.h"

namespace allot::api {

inline int HttpStatusOf(const std::string& code) {
  static const std::map<std::string, int> statuses = {
      {"invalid", 400},   {"unknown_field", 400}, {"malformed_json", 400}, {"unauthenticated", 401},
      {"forbidden", 403}, {"not_found", 404},     {"already_exists", 409}, {"conflict", 409},
      {"gone", 410},      {"too_large", 413},     {"unavailable", 503},    {"bad_gateway", 502}};
  auto found = statuses.find(code);
  return found == statuses.end() ? 500 : found->second;
}

inline nlohmann::json ErrorBody(const Error& error) {
  return {{"error",
           {{"code", error.code.empty() ? "internal" : error.code},
            {"message", error.message},
            {"field", error.field}}}};
}

// What a handler returns: a status and a JSON body, or a body of another
// type (the audit export's JSON lines).
struct Reply {
  Reply() = default;
  Reply(int status_code, nlohmann::json json_body)
      : status(status_code), body(std::move(json_body)) {}
  static Reply Raw(std::string text, std::string type) {
    Reply reply;
    reply.raw = std::move(text);
    reply.content_type = std::move(type);
    return reply;
  }

  // A body streamed as it is produced (a followed log), of `content_type`.
  static Reply Stream(httplib::ContentProviderWithoutLength provider, std::string type) {
    Reply reply;
    reply.stream = std::move(provider);
    reply.content_type = std::move(type);
    return reply;
  }

  int status = 200;
  nlohmann::json body;
  std::string raw;
  std::string content_type;  // empty: the body is JSON
  httplib::ContentProviderWithoutLength stream;
  std::vector<std::pair<std::string, std::string>> headers;  // extra (Set-Cookie)
};

// The caller of a request, once authenticated.
struct Caller {
  User user;
  std::string source;
  std::string method;
  std::string path;
  // Set when the handler's commit carried the request's audit entry.
  mutable bool audited = false;
};

// The name in a route's path ("/api/v1/workloads/([^/]+)").
inline std::string PathName(const httplib::Request& req) {
  return req.matches.size() > 1 ? std::string(req.matches[1]) : std::string();
}

// `missing` when the store said not_found; otherwise the store's own
// error (unavailable, say: a 503 the client retries elsewhere), which is
// not a missing object.
inline Error MissingOr(const Error& got, Error missing) {
  return got.code == "not_found" ? std::move(missing) : got;
}

inline Error Forbidden(const std::string& what) {
  return Error::Coded("forbidden", "your roles do not allow " + what);
}

}  // namespace allot::api
