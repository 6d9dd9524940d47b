// One worker of a distributed workload, for tests/agent/agent_test.sh: the
// workers meet over TCP using only the variables the agent injects
// (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK) and check each other's rank
// and world size. Rank 0 listens; the others connect, send "RANK WORLD",
// and wait for "ok". Exit 0 when every rank was seen exactly once.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>

namespace {

int Env(const char* name) {
  const char* value = std::getenv(name);
  if (!value) {
    std::fprintf(stderr, "worker: %s is not set\n", name);
    std::exit(2);
  }
  return std::atoi(value);
}

bool SendLine(int fd, const std::string& line) {
  return ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
}

std::string ReadLine(int fd) {
  std::string line;
  char c = 0;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

}  // namespace

int main() {
  const char* address = std::getenv("MASTER_ADDR");
  int port = Env("MASTER_PORT");
  int world = Env("WORLD_SIZE");
  int rank = Env("RANK");
  if (!address) return 2;
  std::printf("worker rank %d of %d, master %s:%d, local rank %s, node rank %s\n", rank, world,
              address, port, std::getenv("LOCAL_RANK"), std::getenv("NODE_RANK"));
  std::fflush(stdout);
  sockaddr_in master{};
  master.sin_family = AF_INET;
  master.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address, &master.sin_addr) != 1) return 2;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  if (rank == 0) {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&master), sizeof master) != 0 ||
        ::listen(listener, 64) != 0) {
      std::perror("worker: listen");
      return 1;
    }
    std::set<int> seen;
    std::set<int> peers;
    while (static_cast<int>(seen.size()) < world - 1) {
      int peer = ::accept(listener, nullptr, nullptr);
      if (peer < 0) return 1;
      int their_rank = -1;
      int their_world = -1;
      std::sscanf(ReadLine(peer).c_str(), "%d %d", &their_rank, &their_world);
      if (their_world != world || their_rank < 1 || their_rank >= world ||
          !seen.insert(their_rank).second) {
        std::printf("worker rank 0: bad peer: rank %d world %d\n", their_rank, their_world);
        return 1;
      }
      peers.insert(peer);
    }
    for (int peer : peers) SendLine(peer, "ok\n");
    std::printf("rank 0 met all %d ranks\n", world);
    return 0;
  }
  for (;;) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&master), sizeof master) == 0) {
      SendLine(fd, std::to_string(rank) + " " + std::to_string(world) + "\n");
      bool ok = ReadLine(fd) == "ok";
      std::printf("rank %d %s\n", rank, ok ? "met rank 0" : "was refused");
      return ok ? 0 : 1;
    }
    ::close(fd);
    if (std::chrono::steady_clock::now() > deadline) return 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}
