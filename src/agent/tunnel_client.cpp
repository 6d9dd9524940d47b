#include "agent/tunnel_client.h"

#include <utility>  // before Boost 1.74's awaitable, which uses std::exchange

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "agent/task_exec.h"
#include "agent/task_network.h"
#include "tunnel/dial.h"
#include "tunnel/protocol.h"
#include "tunnel/splice.h"

namespace allot::agent {
namespace {

// The server pings every 15 s: this long without a byte, the connection is
// taken for dead and dialed again.
constexpr int kControlSilenceMs = 45000;
constexpr int kRedialMs = 1000;

}  // namespace

struct TunnelClient::Impl {
  TunnelClientOptions options;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread io_thread;
  std::thread control_thread;
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::condition_variable idle;
  int running_streams = 0;  // threads opening a stream or serving an exec
  int control_fd = -1;
  bool connected_once = false;

  void Say(const std::string& line) {
    if (options.say) options.say(line);
  }

  void ControlLoop() {
    while (!stopping) {
      Result<tunnel::UpgradedStream> control = tunnel::DialUpgrade(
          options.server, "/api/v1/agents/tunnel", options.token, options.ca_file);
      if (!control) {
        Sleep(kRedialMs);
        continue;
      }
      {
        std::lock_guard lock(mutex);
        control_fd = control->fd;
      }
      if (!connected_once) Say("tunnel to the server open");
      connected_once = true;
      ReadRequests(control->fd, control->leftover);
      {
        std::lock_guard lock(mutex);
        control_fd = -1;
      }
      ::close(control->fd);
      if (!stopping) Sleep(kRedialMs / 4);
    }
  }

  void Sleep(int ms) {
    std::unique_lock lock(mutex);
    idle.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping.load(); });
  }

  // Reads stream requests, a line each, until the connection ends.
  void ReadRequests(int fd, std::string pending) {
    auto last = std::chrono::steady_clock::now();
    char buffer[8192];
    while (!stopping) {
      size_t newline;
      while ((newline = pending.find('\n')) != std::string::npos) {
        std::string line = pending.substr(0, newline);
        pending.erase(0, newline + 1);
        if (!line.empty()) Dispatch(line);
      }
      pollfd p{fd, POLLIN, 0};
      int got = ::poll(&p, 1, 500);
      if (got < 0 && errno != EINTR) return;
      if (got <= 0) {
        if (std::chrono::steady_clock::now() - last >
            std::chrono::milliseconds(kControlSilenceMs)) {
          return;
        }
        continue;
      }
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      last = std::chrono::steady_clock::now();
      pending.append(buffer, static_cast<size_t>(n));
    }
  }

  void Dispatch(const std::string& line) {
    Result<tunnel::StreamRequest> request = tunnel::DecodeStreamRequest(line);
    if (!request) {
      Say("a stream request the agent cannot read: " + request.error().message);
      return;
    }
    {
      std::lock_guard lock(mutex);
      ++running_streams;
    }
    std::thread([this, request = std::move(*request)] {
      Serve(request);
      std::lock_guard lock(mutex);
      --running_streams;
      idle.notify_all();
    }).detach();
  }

  // Refuses stream `id` to the server, saying why.
  void Refuse(const std::string& id, const std::string& why) {
    Result<tunnel::UpgradedStream> answer = tunnel::DialUpgrade(
        options.server,
        "/api/v1/agents/tunnel/streams/" + id + "?error=" + tunnel::QueryEscape(why), options.token,
        options.ca_file);
    if (answer) ::close(answer->fd);
  }

  void Serve(const tunnel::StreamRequest& request) {
    std::string key = request.workload + "." + std::to_string(request.task) + "." +
                      std::to_string(request.attempt);
    std::string dir = options.task_dir(key);
    if (dir.empty()) {
      Refuse(request.id, "task " + std::to_string(request.task) + " (attempt " +
                             std::to_string(request.attempt) + ") of '" + request.workload +
                             "' does not run on this node");
      return;
    }
    int task_fd = -1;
    if (request.kind == "connect") {
      Result<int> connected = ConnectToTask(dir, request.port);
      if (!connected) {
        Refuse(request.id, connected.error().message);
        return;
      }
      task_fd = *connected;
    }
    Result<tunnel::UpgradedStream> stream =
        tunnel::DialUpgrade(options.server, "/api/v1/agents/tunnel/streams/" + request.id,
                            options.token, options.ca_file);
    if (!stream) {
      if (task_fd >= 0) ::close(task_fd);
      return;
    }
    if (request.kind == "exec") {
      RunExec(dir, request, stream->fd, std::move(stream->leftover), stopping);
      return;
    }
    int server_fd = stream->fd;
    std::string leftover = std::move(stream->leftover);
    boost::asio::post(io, [this, task_fd, server_fd, leftover = std::move(leftover)]() mutable {
      Result<tunnel::Socket> task = tunnel::AdoptSocket(io, task_fd);
      Result<tunnel::Socket> server = tunnel::AdoptSocket(io, server_fd);
      if (!task || !server) return;
      tunnel::StartSplice(std::move(*server), std::move(*task), std::move(leftover));
    });
  }
};

TunnelClient::TunnelClient(TunnelClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

TunnelClient::~TunnelClient() {
  Stop();
}

void TunnelClient::Start() {
  tunnel::RaiseOpenFileLimit();
  impl_->io_thread = std::thread([this] { impl_->io.run(); });
  impl_->control_thread = std::thread([this] { impl_->ControlLoop(); });
}

void TunnelClient::Stop() {
  Impl& impl = *impl_;
  if (impl.stopping.exchange(true)) return;
  {
    std::lock_guard lock(impl.mutex);
    if (impl.control_fd >= 0) ::shutdown(impl.control_fd, SHUT_RDWR);
  }
  impl.idle.notify_all();
  if (impl.control_thread.joinable()) impl.control_thread.join();
  {
    // Streams being opened or exec sessions notice `stopping` within a poll.
    std::unique_lock lock(impl.mutex);
    impl.idle.wait_for(lock, std::chrono::seconds(5),
                       [&impl] { return impl.running_streams == 0; });
  }
  impl.io.stop();
  if (impl.io_thread.joinable()) impl.io_thread.join();
}

}  // namespace allot::agent
