// The client side of a tunnel stream, blocking: connect to the server and
// ask for a raw stream with an HTTP Upgrade (docs/gateway.md §2). The
// agent dials its control connection and every stream this way; the CLI
// its port-forward and exec streams.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace allot::tunnel {

// A server's address, parsed from "https://host:port" or "http://host:port"
// (any path after it is ignored; the port defaults to 443 or 80).
struct HostPort {
  std::string host;
  int port = 0;
  bool tls = false;  // https://
};
// The error names the field `server` and the form to use.
Result<HostPort> ParseServerUrl(const std::string& url);

// A connection to `server` within `timeout_ms`, through TLS (the relay of
// tunnel/tls.h, `fd` being its plain end) when its address is https; the
// certificate must chain to `ca_file` (empty: the system's store).
Result<int> ConnectServer(const HostPort& server, const std::string& ca_file, int timeout_ms);

struct UpgradedStream {
  int fd = -1;           // the connected socket, the caller's to close
  std::string leftover;  // bytes that came after the server's 101 reply
};

// GET `target` (path and query) on `server_url` ("https://host:port",
// "http://host:port", or several of them separated by commas: the first
// that takes the connection) with the bearer `token`, asking to switch to
// the tunnel protocol. An https server's certificate must chain to
// `ca_file` (empty: the system's store) and name the host; the stream is
// then relayed through TLS (tunnel/tls.h) and `fd` is the plain end. Any
// reply but 101 is an error with the server's own message and a code from
// its status (unauthenticated, forbidden, not_found, conflict, unavailable).
Result<UpgradedStream> DialUpgrade(const std::string& server_url, const std::string& target,
                                   const std::string& token, const std::string& ca_file = "",
                                   int timeout_ms = 10000);

// A TCP connection to host:port within `timeout_ms`; the fd or why not.
Result<int> ConnectTcp(const std::string& host, int port, int timeout_ms);

// Whether `fd` is ready for `events` (or hung up) within `timeout_ms`.
bool WaitFor(int fd, short events, int timeout_ms);

// Writes all of `data` to the socket `fd` (blocking; never SIGPIPE). False on error.
bool WriteAll(int fd, const char* data, size_t size);
// The same for any descriptor (a pipe, a terminal): write(2), not send(2).
bool WriteFully(int fd, std::string_view data);

// Percent-encodes a query parameter's value.
std::string QueryEscape(const std::string& text);

}  // namespace allot::tunnel
