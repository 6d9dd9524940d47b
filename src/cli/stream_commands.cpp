// `allot exec` and `allot port-forward` (docs/gateway.md §4): a command in
// a running task, with a terminal when asked, and TCP ports of a task on
// this machine, both through the server's gateway and the node agent's
// tunnel (the node needs no inbound port).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <cstring>
#include <iostream>
#include <thread>

#include "cli/client_commands.h"
#include "cli/client_session.h"
#include "tunnel/dial.h"
#include "tunnel/protocol.h"
#include "tunnel/splice.h"

namespace allot::cli {
namespace {

using tunnel::EncodeFrame;
using tunnel::FrameType;

struct StreamOptions {
  std::string name;
  int task = 0;
  bool interactive = false;
  bool tty = false;
  std::vector<std::string> command;
  std::string ports;
  std::string address = "127.0.0.1";
};

StreamOptions options;
CLI::App* exec_command = nullptr;
CLI::App* forward_command = nullptr;
std::atomic<bool> window_changed{false};

void OnWindowChange(int) {
  window_changed = true;
}

// The terminal in raw mode while the command runs, restored after.
class RawTerminal {
 public:
  RawTerminal() {
    if (::tcgetattr(0, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

bool SendFrame(int fd, FrameType type, std::string_view payload) {
  std::string frame = EncodeFrame(type, payload);
  return tunnel::WriteAll(fd, frame.data(), frame.size());
}

std::string WindowSize() {
  winsize ws{};
  if (::ioctl(0, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0) return "";
  return std::to_string(ws.ws_row) + " " + std::to_string(ws.ws_col);
}

// What the command's exit frame says, as this process's exit status.
int ExitStatus(const std::string& text) {
  if (text.rfind("signal ", 0) == 0) return 128 + std::atoi(text.c_str() + 7);
  return std::atoi(text.c_str());
}

// Carries stdin, output and resizes until the exit frame; returns the status.
int ServeExec(int fd, std::string leftover, bool forward_stdin, bool tty) {
  tunnel::FrameReader reader;
  reader.Feed(leftover.data(), leftover.size());
  bool stdin_open = forward_stdin;
  if (!forward_stdin) SendFrame(fd, FrameType::kStdinClosed, "");
  char buffer[64 * 1024];
  for (;;) {
    Result<std::optional<tunnel::Frame>> frame = reader.Next();
    for (; frame && *frame; frame = reader.Next()) {
      const tunnel::Frame& f = **frame;
      if (f.type == FrameType::kStdout) tunnel::WriteFully(1, f.payload);
      if (f.type == FrameType::kStderr) tunnel::WriteFully(2, f.payload);
      if (f.type == FrameType::kExit) return ExitStatus(f.payload);
      if (f.type == FrameType::kError) {
        std::cerr << "allot exec: " << f.payload << (tty ? "\r\n" : "\n");
        return 126;
      }
    }
    if (!frame) {
      std::cerr << "allot exec: " << frame.error().message << "\n";
      return 1;
    }
    if (tty && window_changed.exchange(false)) {
      if (std::string size = WindowSize(); !size.empty()) SendFrame(fd, FrameType::kResize, size);
    }
    pollfd fds[2] = {{fd, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
    if (::poll(fds, 2, 250) < 0 && errno != EINTR) return 1;
    if (fds[0].revents) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        std::cerr << "allot exec: the stream ended before the command did\n";
        return 1;
      }
      reader.Feed(buffer, static_cast<size_t>(n));
    }
    if (stdin_open && fds[1].revents) {
      ssize_t n = ::read(0, buffer, sizeof buffer);
      if (n <= 0) {
        stdin_open = false;
        SendFrame(fd, FrameType::kStdinClosed, "");
      } else {
        SendFrame(fd, FrameType::kStdin, std::string_view(buffer, static_cast<size_t>(n)));
      }
    }
  }
}

int Exec(Session& session) {
  std::string target = "/api/v1/workloads/" + tunnel::QueryEscape(options.name) +
                       "/exec?task=" + std::to_string(options.task);
  for (const std::string& arg : options.command) target += "&command=" + tunnel::QueryEscape(arg);
  bool tty = options.tty;
  if (tty) {
    target += "&tty=1";
    std::string size = WindowSize();
    if (!size.empty()) {
      target +=
          "&rows=" + size.substr(0, size.find(' ')) + "&cols=" + size.substr(size.find(' ') + 1);
    }
  }
  Result<tunnel::UpgradedStream> stream =
      tunnel::DialUpgrade(session.config.server, target, session.config.token, session.config.ca);
  if (!stream) return ReportError("exec", stream.error());
  int status;
  {
    std::optional<RawTerminal> raw;
    if (tty && ::isatty(0)) {
      ::signal(SIGWINCH, OnWindowChange);
      raw.emplace();
    }
    status = ServeExec(stream->fd, std::move(stream->leftover), options.interactive || tty, tty);
  }
  ::close(stream->fd);
  return status;
}

// Copies both ways between `a` and `b` until both ways end.
void Pump(int a, int b, std::string b_first) {
  if (!b_first.empty()) tunnel::WriteAll(a, b_first.data(), b_first.size());
  bool open[2] = {true, true};
  char buffer[256 * 1024];
  while (open[0] || open[1]) {
    pollfd fds[2] = {{open[0] ? a : -1, POLLIN, 0}, {open[1] ? b : -1, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (!open[i] || fds[i].revents == 0) continue;
      int from = i == 0 ? a : b;
      int to = i == 0 ? b : a;
      ssize_t n = ::recv(from, buffer, sizeof buffer, 0);
      if (n <= 0) {
        open[i] = false;
        ::shutdown(to, SHUT_WR);
        if (n < 0) open[0] = open[1] = false;
        continue;
      }
      if (!tunnel::WriteAll(to, buffer, static_cast<size_t>(n))) open[0] = open[1] = false;
    }
  }
  ::close(a);
  ::close(b);
}

int PortForward(Session& session) {
  std::string spec = options.ports;
  size_t colon = spec.find(':');
  // "REMOTE" forwards the same local port; "LOCAL:REMOTE" and ":REMOTE" (any free one).
  int local = std::atoi(spec.c_str());
  int remote = colon == std::string::npos ? local : std::atoi(spec.c_str() + colon + 1);
  if (remote < 1 || remote > 65535 || local < 0 || local > 65535) {
    return ReportError("port-forward",
                       Error::Coded("invalid",
                                    "ports: give [LOCAL:]REMOTE, e.g. 8888 or 9000:22 "
                                    "(LOCAL 0 or empty: any free port)"));
  }
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(local));
  if (::inet_pton(AF_INET, options.address.c_str(), &address.sin_addr) != 1 ||
      ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 128) != 0) {
    return ReportError(
        "port-forward",
        Error::Coded("invalid", "cannot listen on " + options.address + ":" +
                                    std::to_string(local) + ": " + std::strerror(errno)));
  }
  socklen_t size = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size);
  std::cout << "Forwarding from " << options.address << ":" << ntohs(address.sin_port) << " -> "
            << remote << std::endl;
  std::string target = "/api/v1/workloads/" + tunnel::QueryEscape(options.name) +
                       "/port-forward?task=" + std::to_string(options.task) +
                       "&port=" + std::to_string(remote);
  ::signal(SIGPIPE, SIG_IGN);
  tunnel::RaiseOpenFileLimit();
  for (;;) {
    int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR) continue;
      return ReportError("port-forward", Error::Coded("internal", std::strerror(errno)));
    }
    std::thread([client, target, server = session.config.server, token = session.config.token,
                 ca = session.config.ca] {
      Result<tunnel::UpgradedStream> stream = tunnel::DialUpgrade(server, target, token, ca);
      if (!stream) {
        std::cerr << "allot port-forward: " << stream.error().message << std::endl;
        ::close(client);
        return;
      }
      Pump(client, stream->fd, std::move(stream->leftover));
    }).detach();
  }
}

}  // namespace

void AddStreamCommands(CLI::App& app) {
  StreamOptions& o = options;
  exec_command =
      app.add_subcommand("exec", "Run a command in a running task: allot exec [-it] NAME -- CMD");
  exec_command->add_option("name", o.name, "Workload name")->required();
  exec_command->add_option("--task", o.task, "Which task (default 0)")
      ->check(CLI::NonNegativeNumber);
  exec_command->add_flag("-i,--stdin", o.interactive, "Pass this terminal's input to the command");
  exec_command->add_flag("-t,--tty", o.tty, "Give the command a terminal");
  exec_command->add_option("command", o.command, "The command, after --")->required();

  forward_command = app.add_subcommand(
      "port-forward",
      "Forward a local port to a task's port: allot port-forward NAME [LOCAL:]REMOTE");
  forward_command->add_option("name", o.name, "Workload name")->required();
  forward_command->add_option("ports", o.ports, "[LOCAL:]REMOTE")->required();
  forward_command->add_option("--task", o.task, "Which task (default 0)")
      ->check(CLI::NonNegativeNumber);
  forward_command->add_option("--address", o.address,
                              "Local address to listen on (default 127.0.0.1)");
}

int RunStreamCommands() {
  bool exec = exec_command && *exec_command;
  bool forward = forward_command && *forward_command;
  if (!exec && !forward) return -1;
  Result<Session> session = Connect();
  if (!session) return ReportError(exec ? "exec" : "port-forward", session.error());
  return exec ? Exec(*session) : PortForward(*session);
}

}  // namespace allot::cli
