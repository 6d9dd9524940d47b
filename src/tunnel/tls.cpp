#include "tunnel/tls.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>  // before Boost 1.74's awaitable, which uses std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace allot::tunnel {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;
using Tcp = asio::ip::tcp;
using Local = asio::local::stream_protocol;

class TlsContext {
 public:
  explicit TlsContext(ssl::context::method method) : ssl(method) {
    SSL_CTX* native = ssl.native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    // See the header: a peer's TCP end is the end of the stream.
    SSL_CTX_set_options(native, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  }
  ssl::context ssl;
};

namespace {

// What OpenSSL queued about the last failure, as one line.
std::string OpenSslErrors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "unknown error" : out;
}

// One relayed connection: the TLS side and the plain socket it is relayed to.
struct Relay {
  Relay(asio::io_context& io, TlsContextPtr settings)
      : context(std::move(settings)), tls(io, context->ssl), plain(io) {}
  TlsContextPtr context;
  ssl::stream<Tcp::socket> tls;
  Local::socket plain;
  int open_ways = 2;
  bool timed_out = false;  // the handshake outlasted its deadline

  void CloseBoth() {
    error_code ignored;
    tls.lowest_layer().close(ignored);
    plain.close(ignored);
  }
  // One way ended: a clean end shuts the other side's sending down (a
  // half-closed stream keeps working), anything else closes both.
  template <typename Socket>
  void EndWay(Socket& to, const error_code& ec) {
    error_code ignored;
    if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
      to.shutdown(asio::socket_base::shutdown_send, ignored);
    } else {
      CloseBoth();
    }
    if (--open_ways == 0) CloseBoth();
  }
};

constexpr size_t kChunk = 16 * 1024;

asio::awaitable<void> TlsToPlain(std::shared_ptr<Relay> relay) {
  std::vector<char> buffer(kChunk);
  error_code ec;
  for (;;) {
    size_t got = co_await relay->tls.async_read_some(asio::buffer(buffer),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    co_await asio::async_write(relay->plain, asio::buffer(buffer.data(), got),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
  relay->EndWay(relay->plain, ec);
}

asio::awaitable<void> PlainToTls(std::shared_ptr<Relay> relay) {
  std::vector<char> buffer(kChunk);
  error_code ec;
  for (;;) {
    size_t got = co_await relay->plain.async_read_some(
        asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    co_await asio::async_write(relay->tls, asio::buffer(buffer.data(), got),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
  relay->EndWay(relay->tls.lowest_layer(), ec);
}

// Adopts the TCP socket `fd` into `relay` (closing `fd` on failure).
bool AssignTcp(Relay& relay, int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  error_code ec;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    relay.tls.lowest_layer().assign(address.ss_family == AF_INET6 ? Tcp::v6() : Tcp::v4(), fd, ec);
    if (!ec) return true;
  }
  ::close(fd);
  return false;
}

// Joins the handshaken `relay` to a new socketpair and starts relaying;
// returns the pair's other end (-1 when none could be made).
int StartRelaying(asio::io_context& io, const std::shared_ptr<Relay>& relay) {
  Local::socket theirs(io);
  error_code ec;
  asio::local::connect_pair(relay->plain, theirs, ec);
  if (ec) {
    relay->CloseBoth();
    return -1;
  }
  // Tasks that the process starts must not inherit either end.
  ::fcntl(relay->plain.native_handle(), F_SETFD, FD_CLOEXEC);
  ::fcntl(theirs.native_handle(), F_SETFD, FD_CLOEXEC);
  asio::co_spawn(io, TlsToPlain(relay), asio::detached);
  asio::co_spawn(io, PlainToTls(relay), asio::detached);
  return theirs.release(ec);
}

// Closes the relay's TCP socket when the handshake outlasts `timeout_ms`.
std::shared_ptr<asio::steady_timer> HandshakeDeadline(asio::io_context& io,
                                                      const std::shared_ptr<Relay>& relay,
                                                      int timeout_ms) {
  auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(timeout_ms));
  timer->async_wait([relay](const error_code& ec) {
    if (ec) return;
    relay->timed_out = true;
    relay->CloseBoth();
  });
  return timer;
}

// Makes the client's handshake check that the certificate names `host`.
void ExpectHost(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    SSL_set_tlsext_host_name(ssl, host.c_str());
  }
}

}  // namespace

Result<TlsContextPtr> ServerTlsContext(const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() || key_file.empty()) {
    return Error::Coded("invalid", "--tls-cert and --tls-key go together: give both",
                        cert_file.empty() ? "tls-cert" : "tls-key");
  }
  auto context = std::make_shared<TlsContext>(ssl::context::tls_server);
  SSL_CTX* native = context->ssl.native_handle();
  if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1) {
    return Error::Coded("invalid",
                        "--tls-cert: cannot read a PEM certificate (chain) from '" + cert_file +
                            "': " + OpenSslErrors(),
                        "tls-cert");
  }
  if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Error::Coded(
        "invalid",
        "--tls-key: cannot read a PEM private key from '" + key_file + "': " + OpenSslErrors(),
        "tls-key");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return Error::Coded(
        "invalid",
        "--tls-key: the key in '" + key_file + "' is not the certificate's in '" + cert_file + "'",
        "tls-key");
  }
  return context;
}

Result<TlsContextPtr> ClientTlsContext(const std::string& ca_file) {
  // One context per CA file: loading the system's store costs milliseconds.
  static std::mutex mutex;
  static std::map<std::string, TlsContextPtr> made;
  std::lock_guard lock(mutex);
  if (auto found = made.find(ca_file); found != made.end()) return found->second;
  auto context = std::make_shared<TlsContext>(ssl::context::tls_client);
  SSL_CTX* native = context->ssl.native_handle();
  int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(native)
                               : SSL_CTX_load_verify_locations(native, ca_file.c_str(), nullptr);
  if (loaded != 1) {
    return Error::Coded(
        "invalid",
        "--ca: cannot read PEM CA certificates from '" + ca_file + "': " + OpenSslErrors(), "ca");
  }
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  made.emplace(ca_file, context);
  return context;
}

struct TlsRelay::Impl {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread{[this] { io.run(); }};

  ~Impl() {
    work.reset();
    io.stop();
    thread.join();
  }
};

TlsRelay::TlsRelay() : impl_(std::make_unique<Impl>()) {}
TlsRelay::~TlsRelay() = default;

TlsRelay& TlsRelay::ForClients() {
  static TlsRelay* relay = new TlsRelay();  // never destroyed: clients may dial until exit
  return *relay;
}

void TlsRelay::Accept(int fd, TlsContextPtr context, Deliver deliver, int timeout_ms) {
  asio::io_context& io = impl_->io;
  asio::post(io, [&io, fd, context = std::move(context), deliver = std::move(deliver),
                  timeout_ms]() mutable {
    auto relay = std::make_shared<Relay>(io, std::move(context));
    if (!AssignTcp(*relay, fd)) return;
    auto deadline = HandshakeDeadline(io, relay, timeout_ms);
    relay->tls.async_handshake(
        ssl::stream_base::server,
        [&io, relay, deadline, deliver = std::move(deliver)](const error_code& ec) {
          deadline->cancel();
          if (ec) {
            relay->CloseBoth();
            return;
          }
          if (int plain = StartRelaying(io, relay); plain >= 0) deliver(plain);
        });
  });
}

Result<int> TlsRelay::Connect(int fd, const std::string& host, TlsContextPtr context,
                              int timeout_ms) {
  asio::io_context& io = impl_->io;
  std::promise<Result<int>> promise;
  std::future<Result<int>> future = promise.get_future();
  asio::post(io, [&] {
    auto relay = std::make_shared<Relay>(io, std::move(context));
    if (!AssignTcp(*relay, fd)) {
      promise.set_value(Error::Coded("internal", "not a TCP socket"));
      return;
    }
    relay->tls.set_verify_mode(ssl::verify_peer);
    ExpectHost(relay->tls.native_handle(), host);
    auto deadline = HandshakeDeadline(io, relay, timeout_ms);
    relay->tls.async_handshake(
        ssl::stream_base::client, [&, relay, deadline](const error_code& ec) {
          deadline->cancel();
          if (ec) {
            long verified = SSL_get_verify_result(relay->tls.native_handle());
            std::string why = verified != X509_V_OK ? X509_verify_cert_error_string(verified)
                              : relay->timed_out
                                  ? "no handshake within " + std::to_string(timeout_ms) + " ms"
                                  : ec.message();
            relay->CloseBoth();
            promise.set_value(Error::Coded(
                "unavailable",
                "TLS with " + host + " failed: " + why +
                    (verified != X509_V_OK ? " (give the CA that signed the server's certificate "
                                             "with --ca or ALLOT_CA)"
                                           : "")));
            return;
          }
          int plain = StartRelaying(io, relay);
          if (plain < 0) {
            promise.set_value(Error::Coded("internal", "cannot make a socket pair"));
          } else {
            promise.set_value(plain);
          }
        });
  });
  return future.get();
}

}  // namespace allot::tunnel
