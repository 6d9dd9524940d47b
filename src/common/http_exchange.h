// One HTTP/1.1 request and its reply on a connected, blocking socket: the
// exchange under common/http_client.h. The request is written by hand (a
// request line and a few headers); the reply is read with Boost.Beast's
// parser, so that lengths, chunked bodies and keep-alive follow the RFC.
#pragma once

#include <functional>
#include <string>

#include "common/result.h"

namespace allot::http {

// The request's bytes: `method` `path` to `host` ("name:port"), with the
// Authorization header when `authorization` is not empty, and a JSON body
// when `body` is given.
std::string Request(const std::string& method, const std::string& path, const std::string& host,
                    const std::string& authorization, const std::string* body);

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;         // all of it, unless a sink took it
  bool keep_alive = false;  // the connection may carry the next request
};

// Takes a 2xx reply's body as it arrives; returns false to stop reading
// (the connection is then not kept). Other replies' bodies are kept whole.
using BodySink = std::function<bool(const char* data, size_t size)>;

// How an exchange that returned an error failed, which tells the caller
// what it may retry.
enum class Failure {
  kNone,
  kNotSent,      // the request was not written whole: the server did nothing
  kNoReply,      // written, and the connection closed before a byte came back
  kTimeout,      // written, and no reply within the timeout
  kBrokenReply,  // part of a reply came, then the connection broke
};

// Writes `request` to `fd` and reads the reply, waiting at most
// `timeout_ms` for each read. A 2xx body goes to `sink` when there is one.
Result<Reply> Exchange(int fd, const std::string& request, int timeout_ms, const BodySink* sink,
                       Failure& failure);

}  // namespace allot::http
