#include "tunnel/splice.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <memory>
#include <vector>

namespace allot::tunnel {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// A read starts with a small buffer (a request, a WebSocket frame: thousands
// of streams at once cost little) and grows to the large one when a read
// fills it (a bulk transfer moves GB/s in few system calls).
constexpr size_t kSmallChunk = 16 * 1024;
constexpr size_t kChunk = 256 * 1024;

struct Splice {
  Splice(Socket first, Socket second) : a(std::move(first)), b(std::move(second)) {}
  Socket a;
  Socket b;
  int open_ways = 2;
  uint64_t moved[2] = {0, 0};
  std::function<void(uint64_t, uint64_t)> done;

  void CloseBoth() {
    error_code ignored;
    a.close(ignored);
    b.close(ignored);
  }
};

asio::awaitable<void> Pump(std::shared_ptr<Splice> splice, int way, std::string first) {
  Socket& from = way == 0 ? splice->a : splice->b;
  Socket& to = way == 0 ? splice->b : splice->a;
  error_code ec;
  if (!first.empty()) {
    co_await asio::async_write(to, asio::buffer(first),
                               asio::redirect_error(asio::use_awaitable, ec));
    splice->moved[way] += first.size();
  }
  std::vector<char> buffer;
  while (!ec) {
    co_await from.async_wait(Socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    if (buffer.empty()) buffer.resize(kSmallChunk);
    size_t got = from.read_some(asio::buffer(buffer), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      std::vector<char>().swap(buffer);  // idle again: give the buffer back
      continue;
    }
    if (ec) break;
    co_await asio::async_write(to, asio::buffer(buffer.data(), got),
                               asio::redirect_error(asio::use_awaitable, ec));
    splice->moved[way] += got;
    if (got == buffer.size() && buffer.size() < kChunk) buffer.resize(kChunk);
  }
  if (ec == asio::error::eof) {
    error_code ignored;
    to.shutdown(Socket::shutdown_send, ignored);
  } else {
    splice->CloseBoth();
  }
  if (--splice->open_ways == 0) {
    splice->CloseBoth();
    if (splice->done) splice->done(splice->moved[0], splice->moved[1]);
  }
}

}  // namespace

void StartSplice(Socket a, Socket b, std::string a_first, std::string b_first,
                 std::function<void(uint64_t, uint64_t)> done) {
  auto strand = asio::make_strand(a.get_executor());
  error_code ignored;
  a.non_blocking(true, ignored);
  b.non_blocking(true, ignored);
  auto splice = std::make_shared<Splice>(std::move(a), std::move(b));
  splice->done = std::move(done);
  asio::co_spawn(strand, Pump(splice, 0, std::move(a_first)), asio::detached);
  asio::co_spawn(strand, Pump(splice, 1, std::move(b_first)), asio::detached);
}

void RaiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

Result<Socket> AdoptSocket(asio::io_context& io, int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    ::close(fd);
    return Error::Coded("internal", "not a socket");
  }
  Socket socket(io);
  error_code ec;
  socket.assign(address.ss_family == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    return Error::Coded("internal", "cannot adopt a socket: " + ec.message());
  }
  return socket;
}

}  // namespace allot::tunnel
