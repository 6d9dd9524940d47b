// The server is killed with SIGKILL during a submission storm and started
// again on the same data directory: every submission it acknowledged (201)
// is there, and no GPU is bound past its capacity (nothing bound twice).
// The allot binary's path comes in ALLOT_BINARY.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

namespace {

using nlohmann::json;

// `allot up` as a child process on a free port of the given data directory.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& data_dir) {
    std::string log = data_dir + "/up.log";
    // The log is appended to: a restarted server's lines come after what
    // the previous one wrote, whose port is dead.
    std::error_code ec;
    auto start = std::filesystem::file_size(log, ec);
    if (ec) start = 0;
    pid_ = fork();
    if (pid_ == 0) {
      FILE* out = freopen(log.c_str(), "a", stdout);
      (void)out;
      execl(ALLOT_BINARY, ALLOT_BINARY, "up", "--data-dir", data_dir.c_str(), "--port", "0",
            "--simulate-gpus", "8xA100-80GB", static_cast<char*>(nullptr));
      _exit(127);
    }
    // The URL is the last "allot up: http://..." line this server wrote.
    for (int i = 0; i < 100 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::ifstream in(log);
      in.seekg(static_cast<std::streamoff>(start));
      for (std::string line; std::getline(in, line);) {
        auto at = line.find("http://127.0.0.1:");
        if (line.rfind("allot up:", 0) == 0 && at != std::string::npos) {
          port_ = std::stoi(line.substr(at + 17));
        }
      }
    }
  }
  ~ServerProcess() { Kill(SIGTERM); }
  void Kill(int signal) {
    if (pid_ <= 0) return;
    kill(pid_, signal);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST(CrashTest, AcknowledgedSubmissionsSurviveSigkill) {
  auto dir =
      std::filesystem::temp_directory_path() / ("allot_crash_test_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto server = std::make_unique<ServerProcess>(dir.string());
  ASSERT_GT(server->port(), 0) << "allot up did not start";
  std::string token;
  std::getline(std::ifstream(dir / "admin-token"), token);
  httplib::Headers auth{{"Authorization", "Bearer " + token}};

  // 20 more nodes: 168 GPUs, 336 half-GPU workloads bound at most.
  {
    httplib::Client client("127.0.0.1", server->port());
    for (int n = 0; n < 20; ++n) {
      json node = {{"name", "n" + std::to_string(n)},
                   {"cpu", 64},
                   {"memory", "512Gi"},
                   {"simulate_gpus", "8xA100-80GB"}};
      auto res = client.Post("/api/v1/nodes", auth, node.dump(), "application/json");
      ASSERT_TRUE(res && res->status == 201);
    }
  }

  std::mutex acked_mutex;
  std::set<std::string> acked;
  std::atomic<bool> server_gone{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", server->port());
      client.set_keep_alive(true);
      for (int i = 0; !server_gone; ++i) {
        std::string name = "c" + std::to_string(c) + "-" + std::to_string(i);
        json body = {{"name", name}, {"project", "default"}, {"gpu", "0.5"}};
        auto res = client.Post("/api/v1/workloads", auth, body.dump(), "application/json");
        if (!res) continue;  // the server is gone: nothing acknowledged
        if (res->status == 201) {
          std::lock_guard lock(acked_mutex);
          acked.insert(name);
        }
      }
    });
  }
  // Kill in the middle of the storm, once a good number is acknowledged.
  for (int i = 0; i < 400; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::lock_guard lock(acked_mutex);
    if (acked.size() >= 1500) break;
  }
  server->Kill(SIGKILL);
  server_gone = true;
  for (auto& thread : clients) thread.join();
  ASSERT_GE(acked.size(), 100u) << "the storm never got going";

  server = std::make_unique<ServerProcess>(dir.string());
  ASSERT_GT(server->port(), 0) << "allot up did not start again";
  httplib::Client client("127.0.0.1", server->port());
  // Under a loaded CI machine (the browser test beside it) a page of 1,000
  // can take longer than httplib's 5 s default.
  client.set_read_timeout(60, 0);
  // Give the scheduling loop a few cycles on the recovered state.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  std::set<std::string> stored;
  std::map<std::string, int64_t> gpu_milli;  // "node/gpu" -> milli-GPUs bound
  std::string after;
  for (;;) {
    auto res = client.Get("/api/v1/workloads?limit=1000&after=" + after, auth);
    ASSERT_TRUE(res) << "no answer: " << httplib::to_string(res.error());
    ASSERT_EQ(res->status, 200) << res->body;
    json page = json::parse(res->body);
    for (const auto& w : page["items"]) {
      stored.insert(w["name"].get<std::string>());
      if (w["status"] != "running") continue;
      for (const auto& task : w["assignments"]) {
        ASSERT_FALSE(task["node"].get<std::string>().empty());
        for (const auto& gpu : task["gpus"]) {
          gpu_milli[task["node"].get<std::string>() + "/" + gpu.dump()] += 500;
        }
      }
    }
    if (!page["next"].is_string()) break;
    after = page["next"];
  }
  for (const auto& name : acked) EXPECT_TRUE(stored.count(name)) << name << " was lost";
  for (const auto& [gpu, milli] : gpu_milli) EXPECT_LE(milli, 1000) << gpu << " bound twice";
  EXPECT_FALSE(gpu_milli.empty()) << "nothing was bound after the restart";
  server.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
