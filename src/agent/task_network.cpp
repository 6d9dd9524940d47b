#include "agent/task_network.h"

#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include "agent/task_files.h"
#include "agent/task_identity.h"

namespace allot::agent {
namespace {

Result<int> ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::Coded("internal", std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return Error::Coded("unavailable", "nothing accepts connections on port " +
                                           std::to_string(port) + " of the task (" + why + ")");
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

Status EnterPrivateNetwork() {
  if (::unshare(CLONE_NEWNET) != 0) {
    return Error::Coded("internal",
                        std::string("a network of its own (unshare): ") + std::strerror(errno));
  }
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::Coded("internal", std::string("socket: ") + std::strerror(errno));
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  bool up = ::ioctl(fd, SIOCGIFFLAGS, &request) == 0;
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP | IFF_RUNNING);
  up = up && ::ioctl(fd, SIOCSIFFLAGS, &request) == 0;
  std::string why = std::strerror(errno);
  ::close(fd);
  if (!up) return Error::Coded("internal", "cannot bring up the loopback device: " + why);
  return Status::Ok();
}

int LiveShimPid(const std::string& dir) {
  std::ifstream in(dir + "/shim.pid");
  int pid = 0;
  int64_t start_time = 0;
  if (!(in >> pid >> start_time) || pid <= 0) return 0;
  return ProcessAlive(pid, start_time) ? pid : 0;
}

int OpenTaskNetwork(int shim_pid) {
  std::string task_path = "/proc/" + std::to_string(shim_pid) + "/ns/net";
  struct stat own {};
  struct stat task {};
  if (::stat("/proc/self/ns/net", &own) != 0 || ::stat(task_path.c_str(), &task) != 0 ||
      own.st_ino == task.st_ino) {
    return -1;
  }
  return ::open(task_path.c_str(), O_RDONLY | O_CLOEXEC);
}

bool ListensAs(int port, uid_t uid) {
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      // "  0: 0100007F:1F90 00000000:0000 0A ... uid ..."
      char local[64] = {};
      char remote[64] = {};
      unsigned state = 0;
      unsigned long owner = 0;
      if (std::sscanf(line.c_str(), " %*d: %63s %63s %x %*s %*s %*s %lu", local, remote, &state,
                      &owner) != 4) {
        continue;
      }
      const char* colon = std::strrchr(local, ':');
      if (state != 0x0A || colon == nullptr) continue;  // 0A: LISTEN
      if (std::strtol(colon + 1, nullptr, 16) == port && owner == uid) return true;
    }
  }
  return false;
}

Result<int> ConnectToTask(const std::string& dir, int port) {
  struct stat info {};
  if (::stat((dir + "/exit.json").c_str(), &info) == 0) {
    return Error::Coded("conflict", "the task has ended");
  }
  int shim = LiveShimPid(dir);
  if (shim == 0) return Error::Coded("conflict", "the task is not running on this node");
  std::optional<nlohmann::json> spec = ReadJsonFile(dir + "/spec.json");
  if (spec && spec->value("serve_port", 0) == port && spec->value("listen_port", 0) > 0) {
    port = spec->value("listen_port", 0);  // a replica listens where PORT said
  }
  int ns = OpenTaskNetwork(shim);
  if (ns < 0) {
    Result<TaskIdentity> identity = spec
                                        ? TaskIdentityFor(*spec, ::geteuid())
                                        : Result<TaskIdentity>(Error::Coded("internal", "no spec"));
    if (!identity) return identity.error();
    uid_t task_uid = identity->switch_user ? identity->uid : ::geteuid();
    if (!ListensAs(port, task_uid)) {
      return Error::Coded("forbidden", "nothing of the task's user (uid " +
                                           std::to_string(task_uid) + ") listens on port " +
                                           std::to_string(port) + " of the node");
    }
    return ConnectLoopback(port);
  }
  // The socket is made in the task's namespace by a thread that enters it
  // (setns changes only the calling thread's), and stays there.
  Result<int> connected = Error::Coded("internal", "not tried");
  std::thread inside([&] {
    if (::setns(ns, CLONE_NEWNET) != 0) {
      connected = Error::Coded(
          "internal", std::string("cannot enter the task's network: ") + std::strerror(errno));
      return;
    }
    connected = ConnectLoopback(port);
  });
  inside.join();
  ::close(ns);
  return connected;
}

}  // namespace allot::agent
