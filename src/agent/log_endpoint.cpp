#include "agent/log_endpoint.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/task_files.h"
#include "tunnel/dial.h"
#include "tunnel/self_signed.h"

namespace allot::agent {
namespace {

namespace fs = std::filesystem;

// The bytes of `path` from `offset` (at most `limit`).
std::string ReadFrom(const std::string& path, int64_t offset, int64_t limit) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return {};
  file.seekg(offset);
  std::string out(static_cast<size_t>(limit), '\0');
  file.read(out.data(), limit);
  out.resize(static_cast<size_t>(file.gcount()));
  return out;
}

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  return ec ? -1 : static_cast<int64_t>(size);
}

}  // namespace

struct LogEndpoint::Impl {
  std::string state_dir;
  std::string secret;
  std::unique_ptr<httplib::Server> server;
};

LogEndpoint::LogEndpoint(std::string state_dir, std::string secret, const std::string& tls_cert,
                         const std::string& tls_key)
    : impl_(std::make_unique<Impl>()) {
  impl_->state_dir = std::move(state_dir);
  impl_->secret = std::move(secret);
  Impl& impl = *impl_;
  if (tls_cert.empty()) {
    impl.server = std::make_unique<httplib::Server>();
  } else {
    impl.server = std::make_unique<httplib::SSLServer>(tls_cert.c_str(), tls_key.c_str());
  }
  impl.server->Get("/v1/logs/([^/]+)/([0-9]+)", [&impl](const httplib::Request& req,
                                                        httplib::Response& res) {
    if (req.get_header_value("X-Allot-Logs-Secret") != impl.secret) {
      res.status = 401;
      res.set_content("the logs secret does not match this agent's", "text/plain");
      return;
    }
    std::string node = req.get_param_value("node");
    if (node.empty() || node.find('/') != std::string::npos || node.find("..") == 0) {
      res.status = 400;
      res.set_content("node: give the task's node", "text/plain");
      return;
    }
    int attempt = 0;
    try {
      if (req.has_param("attempt")) attempt = std::stoi(req.get_param_value("attempt"));
    } catch (const std::exception&) {
      attempt = 0;
    }
    std::string dir =
        FindAttempt(impl.state_dir + "/nodes/" + node + "/tasks", std::string(req.matches[1]),
                    std::stoi(std::string(req.matches[2])), attempt);
    if (dir.empty()) {
      res.status = 404;
      res.set_content("no such task on node " + node, "text/plain");
      return;
    }
    std::string log = dir + "/output.log";
    if (req.method == "HEAD") return;
    if (req.get_param_value("follow") != "1") {
      std::string text;
      for (int i = kLogFilesKept; i >= 1; --i) {
        std::string rotated = log + "." + std::to_string(i);
        if (FileSize(rotated) > 0) text += ReadFrom(rotated, 0, FileSize(rotated));
      }
      int64_t size = FileSize(log);
      if (size > 0) text += ReadFrom(log, 0, size);
      res.set_content(text, "text/plain; charset=utf-8");
      return;
    }
    res.set_chunked_content_provider(
        "text/plain; charset=utf-8",
        [log, dir, offset = int64_t{0}](size_t, httplib::DataSink& sink) mutable {
          for (;;) {
            // The end is known before reading, so that nothing written
            // before the task ended is missed.
            bool ended = fs::exists(dir + "/exit.json");
            int64_t size = FileSize(log);
            if (size >= 0 && size < offset) offset = 0;  // rotated meanwhile
            if (size > offset) {
              std::string chunk = ReadFrom(log, offset, std::min<int64_t>(size - offset, 1 << 20));
              offset += static_cast<int64_t>(chunk.size());
              if (!sink.write(chunk.data(), chunk.size())) return false;
              continue;
            }
            if (ended) {
              sink.done();
              return true;
            }
            if (!sink.is_writable()) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
          }
        });
  });
}

LogEndpoint::~LogEndpoint() = default;

Result<int> LogEndpoint::Bind(const std::string& host, int port) {
  if (!impl_->server->is_valid()) {
    return Error::Coded("internal", "the log endpoint's TLS certificate cannot be loaded");
  }
  int bound = port == 0 ? impl_->server->bind_to_any_port(host)
                        : (impl_->server->bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    return Error::Coded("invalid",
                        "cannot listen for log requests on " + host + ":" + std::to_string(port) +
                            ": pick another with --logs-port",
                        "logs-port");
  }
  return bound;
}

void LogEndpoint::Serve() {
  impl_->server->listen_after_bind();
}

void LogEndpoint::Stop() {
  impl_->server->stop();
}

std::string LogEndpoint::FindAttempt(const std::string& tasks_dir, const std::string& workload,
                                     int task, int attempt) {
  if (workload.find('/') != std::string::npos || workload.find("..") != std::string::npos) {
    return "";
  }
  std::string prefix = workload + "." + std::to_string(task) + ".";
  if (attempt > 0) {
    std::string dir = tasks_dir + "/" + prefix + std::to_string(attempt);
    return fs::is_directory(dir) ? dir : "";
  }
  std::string best;
  int best_attempt = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tasks_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    int number = std::atoi(name.c_str() + prefix.size());
    if (number > best_attempt) {
      best_attempt = number;
      best = entry.path().string();
    }
  }
  return best;
}

Result<std::string> PrepareLogsTls(const std::string& state_dir, const std::string& address,
                                   bool tls) {
  if (!tls) return std::string();
  Result<tunnel::SelfSigned> made = tunnel::MakeSelfSigned(address);
  if (!made) return made.error();
  for (const auto& [name, text] :
       {std::pair{"/logs-tls.key", &made->key_pem}, std::pair{"/logs-tls.pem", &made->cert_pem}}) {
    // Created owner-only, never readable by others for a moment.
    std::string path = state_dir + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool written = fd >= 0 && ::fchmod(fd, 0600) == 0 && tunnel::WriteFully(fd, *text);
    if (fd >= 0) ::close(fd);
    if (!written) return Error::Coded("internal", "cannot write " + path);
  }
  return made->cert_pem;
}

}  // namespace allot::agent
