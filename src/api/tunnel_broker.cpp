#include "api/tunnel_broker.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/random_hex.h"

namespace allot::api {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// A blank line on the control connection: the agent knows the server is
// there (it reconnects after kControlSilenceS without one).
constexpr auto kPingEvery = std::chrono::seconds(15);

}  // namespace

TunnelBroker::TunnelBroker(asio::io_context& io) : io_(io) {}

void TunnelBroker::AttachAgent(const std::string& agent, tunnel::Socket control_socket) {
  auto control = std::make_shared<Control>(std::move(control_socket));
  if (auto old = agents_.find(agent); old != agents_.end()) {
    error_code ignored;
    old->second->socket.close(ignored);
  }
  agents_[agent] = control;
  asio::co_spawn(io_, Watch(agent, control), asio::detached);
}

bool TunnelBroker::Connected(const std::string& agent) const {
  return agents_.count(agent) > 0;
}

void TunnelBroker::Send(const std::shared_ptr<Control>& control, std::string line) {
  control->outbox.push_back(std::move(line));
  if (!control->writing) {
    control->writing = true;
    asio::co_spawn(io_, Write(control), asio::detached);
  }
}

asio::awaitable<void> TunnelBroker::Write(std::shared_ptr<Control> control) {
  while (!control->outbox.empty()) {
    std::string line = std::move(control->outbox.front());
    control->outbox.pop_front();
    error_code ec;
    co_await asio::async_write(control->socket, asio::buffer(line),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      control->outbox.clear();
      control->socket.close(ec);
    }
  }
  control->writing = false;
}

// Reads (and drops) what the agent sends, pings it, and forgets the
// connection once it ends.
asio::awaitable<void> TunnelBroker::Watch(std::string agent, std::shared_ptr<Control> control) {
  auto pinger = std::make_shared<asio::steady_timer>(io_);
  auto ping = [this, pinger, control]() -> asio::awaitable<void> {
    while (control->socket.is_open()) {
      pinger->expires_after(kPingEvery);
      error_code ec;
      co_await pinger->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !control->socket.is_open()) break;
      Send(control, "\n");
    }
  };
  asio::co_spawn(io_, ping, asio::detached);
  char buffer[512];
  error_code ec;
  while (!ec) {
    co_await control->socket.async_read_some(asio::buffer(buffer),
                                             asio::redirect_error(asio::use_awaitable, ec));
  }
  pinger->cancel();
  control->socket.close(ec);
  auto current = agents_.find(agent);
  if (current != agents_.end() && current->second == control) agents_.erase(current);
}

asio::awaitable<Result<AgentStream>> TunnelBroker::Open(const std::string& agent,
                                                        tunnel::StreamRequest request,
                                                        std::chrono::milliseconds timeout) {
  auto control = agents_.find(agent);
  if (control == agents_.end()) {
    co_return Error::Coded("unavailable",
                           "the node's agent has no tunnel to the server now (it is not running, "
                           "or it is reconnecting): try again shortly");
  }
  request.id = RandomHex(16);
  auto pending = std::make_shared<Pending>(io_);
  pending->agent = agent;
  pending->timer.expires_after(timeout);
  pending_[request.id] = pending;
  Send(control->second, tunnel::EncodeStreamRequest(request) + "\n");
  error_code ec;
  co_await pending->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  pending_.erase(request.id);
  if (pending->stream) co_return std::move(*pending->stream);
  if (!pending->refusal.empty()) co_return Error::Coded("unavailable", pending->refusal);
  co_return Error::Coded("unavailable", "the node's agent did not open the stream within " +
                                            std::to_string(timeout.count() / 1000) + " s");
}

bool TunnelBroker::Deliver(const std::string& agent, const std::string& id,
                           std::optional<AgentStream>& stream, const std::string& refusal) {
  auto found = pending_.find(id);
  if (found == pending_.end() || found->second->agent != agent) return false;
  if (refusal.empty()) {
    found->second->stream = std::move(stream);
    stream.reset();
  } else {
    found->second->refusal = refusal;
  }
  found->second->timer.cancel();
  return true;
}

void TunnelBroker::CloseAll() {
  for (auto& [agent, control] : agents_) {
    error_code ignored;
    control->socket.close(ignored);
  }
  for (auto& [id, pending] : pending_) pending->timer.cancel();
}

}  // namespace allot::api
