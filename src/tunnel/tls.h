// TLS on allot's connections (docs/high-availability.md, "TLS"). The
// server's two engines (httplib's workers and the gateway's Asio loop) and
// the blocking stream clients (the agent's tunnel, exec, port-forward) all
// read and write plain sockets. TLS stays out of them: a relay on a thread
// of its own decrypts each connection into one end of a socketpair and
// hands the other end on, so that every reader and writer keeps working on
// a plain descriptor. The relay costs one copy of each byte each way.
//
// A relay ends its side of the TLS connection with a TCP shutdown, not a
// close_notify, and takes a peer's missing close_notify for the end of the
// stream: allot's HTTP bodies carry their length, and its streams end by
// their own protocol.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/result.h"

namespace allot::tunnel {

// OpenSSL's settings for one side: a server's certificate and key, or the
// CAs a client trusts. Shared by every connection made with it.
class TlsContext;
using TlsContextPtr = std::shared_ptr<TlsContext>;

// The server's side from PEM files: `cert_file` holds the certificate and
// any intermediates, `key_file` its private key. Errors name the flags
// --tls-cert and --tls-key.
Result<TlsContextPtr> ServerTlsContext(const std::string& cert_file, const std::string& key_file);

// A client's side: servers' certificates must chain to `ca_file` (PEM), or
// to the system's store when it is empty. The error names --ca.
Result<TlsContextPtr> ClientTlsContext(const std::string& ca_file);

// A thread that runs TLS connections as relays to plain sockets.
class TlsRelay {
 public:
  // Called with the plain end of a relayed connection (the callee's to
  // close); on the relay's thread, so it must not block.
  using Deliver = std::function<void(int plain_fd)>;

  TlsRelay();
  // Stops the thread; connections still open are closed.
  ~TlsRelay();
  TlsRelay(const TlsRelay&) = delete;
  TlsRelay& operator=(const TlsRelay&) = delete;

  // Takes the accepted TCP socket `fd`, runs the server's handshake with
  // `context` and delivers the plain end. A handshake that fails or takes
  // longer than `timeout_ms` closes `fd`, and nothing is delivered.
  void Accept(int fd, TlsContextPtr context, Deliver deliver, int timeout_ms = 10000);

  // Takes the connected TCP socket `fd`, runs the client's handshake with
  // `context`, checking that the certificate names `host` (a DNS name or
  // an IP address), and returns the plain end. Blocks up to `timeout_ms`.
  Result<int> Connect(int fd, const std::string& host, TlsContextPtr context,
                      int timeout_ms = 10000);

  // The relay that the clients of this process share (started on first use).
  static TlsRelay& ForClients();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace allot::tunnel
