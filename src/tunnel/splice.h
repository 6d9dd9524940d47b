// Two connected sockets joined into one stream (docs/gateway.md §2): what
// arrives on one is written to the other, both ways, until both ways end.
// The gateway joins a browser's connection to the agent's stream this way,
// the agent joins that stream to the task's port, `allot port-forward` a
// local connection to its stream.
#pragma once

#include <utility>  // before Boost 1.74's awaitable, which uses std::exchange

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <string>

#include "common/result.h"

namespace allot::tunnel {

using Socket = boost::asio::ip::tcp::socket;

// Starts joining `a` and `b` on a strand of their executor and returns.
// `a_first` is sent to `b` before anything read from `a` (bytes the caller
// already read from `a`), `b_first` to `a`. An end of stream from one side
// shuts down the other's sending side (half-closed protocols keep
// working); an error on either closes both. `done`, when given, is called
// once both ways ended, with the bytes that went each way. A side holds a
// read buffer only while bytes flow, a small one until a read fills it, so
// idle streams (open WebSockets) cost little memory.
void StartSplice(Socket a, Socket b, std::string a_first = {}, std::string b_first = {},
                 std::function<void(uint64_t a_to_b, uint64_t b_to_a)> done = {});

// Raises this process's soft limit on open descriptors to its hard limit:
// every stream holds two (thousands of open notebooks), and the default
// soft limit is 1024.
void RaiseOpenFileLimit();

// A socket of `io` that owns the connected TCP socket `fd` (closed on error).
Result<Socket> AdoptSocket(boost::asio::io_context& io, int fd);

}  // namespace allot::tunnel
