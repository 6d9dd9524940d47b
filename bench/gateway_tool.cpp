// What bench/gateway.sh runs (docs/benchmarks.md, "Gateway"): the servers a
// workspace serves and the WebSocket load, on Boost.Beast.
//   allot_gateway_tool http PORT
//       keep-alive HTTP on 127.0.0.1:PORT: GET /bulk streams 1 GiB, any
//       other path a 64-byte reply (the gateway's cost, not the server's)
//   allot_gateway_tool ws-server PORT
//       accepts WebSockets on 127.0.0.1:PORT and holds them open
//   allot_gateway_tool ws-clients HOST PORT PATH TOKEN N
//       opens N WebSockets to ws://HOST:PORT/PATH with the bearer TOKEN,
//       prints "open K" once every one is open or failed, holds them until
//       stdin closes
#include <utility>  // before Boost 1.74's awaitable, which uses std::exchange

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <iostream>
#include <string>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using boost::system::error_code;

asio::awaitable<void> ServeHttp(tcp::socket socket) {
  beast::flat_buffer buffer;
  error_code ec;
  const std::string small(64, 'x');
  for (;;) {
    http::request<http::empty_body> request;
    co_await http::async_read(socket, buffer, request,
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    if (request.target() == "/bulk" || request.target().ends_with("/bulk")) {
      constexpr size_t kChunk = 1 << 20;
      constexpr int kChunks = 1024;  // 1 GiB
      std::string chunk(kChunk, 'b');
      std::string head =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kChunk * kChunks) + "\r\n\r\n";
      co_await asio::async_write(socket, asio::buffer(head),
                                 asio::redirect_error(asio::use_awaitable, ec));
      for (int i = 0; i < kChunks && !ec; ++i) {
        co_await asio::async_write(socket, asio::buffer(chunk),
                                   asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec) co_return;
      continue;
    }
    http::response<http::string_body> response{http::status::ok, request.version()};
    response.body() = small;
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    co_await http::async_write(socket, response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !request.keep_alive()) co_return;
  }
}

asio::awaitable<void> HoldWebSocket(tcp::socket socket) {
  websocket::stream<tcp::socket> ws(std::move(socket));
  error_code ec;
  co_await ws.async_accept(asio::redirect_error(asio::use_awaitable, ec));
  beast::flat_buffer buffer;
  while (!ec) {
    co_await ws.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) co_await ws.async_write(buffer.data(), asio::redirect_error(asio::use_awaitable, ec));
    buffer.clear();
  }
}

template <typename Serve>
int Listen(int port, Serve serve) {
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
  acceptor.listen(4096);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
          socket.set_option(tcp::no_delay(true));
          asio::co_spawn(io, serve(std::move(socket)), asio::detached);
        }
      },
      asio::detached);
  io.run();
  return 0;
}

int WebSocketClients(const std::string& host, const std::string& port, const std::string& path,
                     const std::string& token, int count) {
  asio::io_context io;
  std::vector<std::unique_ptr<websocket::stream<tcp::socket>>> open;
  int done = 0;
  int opened = 0;
  auto endpoints = tcp::resolver(io).resolve(host, port);
  for (int i = 0; i < count; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto ws = std::make_unique<websocket::stream<tcp::socket>>(io);
          error_code ec;
          co_await asio::async_connect(ws->next_layer(), endpoints,
                                       asio::redirect_error(asio::use_awaitable, ec));
          if (!ec) {
            ws->set_option(
                websocket::stream_base::decorator([&token](websocket::request_type& request) {
                  request.set(http::field::authorization, "Bearer " + token);
                }));
            co_await ws->async_handshake(host + ":" + port, path,
                                         asio::redirect_error(asio::use_awaitable, ec));
          }
          if (!ec) {
            ++opened;
            open.push_back(std::move(ws));
          } else if (done == 0 && opened == 0) {
            std::cerr << "ws-clients: " << ec.message() << "\n";
          }
          if (++done == count) std::cout << "open " << opened << std::endl;
        },
        asio::detached);
  }
  io.run();  // every connection attempt finished; the open ones stay open
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return opened == count ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "http" && argc == 3) return Listen(std::atoi(argv[2]), ServeHttp);
  if (mode == "ws-server" && argc == 3) return Listen(std::atoi(argv[2]), HoldWebSocket);
  if (mode == "ws-clients" && argc == 7) {
    return WebSocketClients(argv[2], argv[3], argv[4], argv[5], std::atoi(argv[6]));
  }
  std::cerr << "usage: allot_gateway_tool http PORT | ws-server PORT | "
               "ws-clients HOST PORT PATH TOKEN N\n";
  return 2;
}
