// The HTTP client's exchange (common/http_exchange.h) against httplib's
// server: streamed and chunked bodies, kept-alive connections that the
// server closed, a call canceled from another thread; and the quick CLI's
// command tree (cli/core_exec.h, cli/client_commands.h).
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cli/client_commands.h"
#include "cli/core_exec.h"
#include "common/http_client.h"

namespace allot {
namespace {

// An httplib server on loopback for one test, stopped at the end.
class TestServer {
 public:
  explicit TestServer(const std::function<void(httplib::Server&)>& routes) {
    routes(server_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~TestServer() {
    server_.stop();
    thread_.join();
  }
  httplib::Server& server() { return server_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

TEST(HttpExchange, StreamsAChunkedBodyAsItArrivesAndStopsWhenAsked) {
  TestServer server([](httplib::Server& s) {
    s.Get("/logs", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("text/plain", [](size_t, httplib::DataSink& sink) {
        for (const char* part : {"one ", "two ", "three"}) sink.write(part, std::strlen(part));
        sink.done();
        return true;
      });
    });
    s.Get("/forever", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("text/plain", [](size_t, httplib::DataSink& sink) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return sink.write("tick\n", 5);
      });
    });
  });
  auto client = HttpClient::Create(server.url(), "t");
  ASSERT_TRUE(client);
  std::string got;
  auto status = (*client)->Stream("/logs", [&](const char* data, size_t size) {
    got.append(data, size);
    return true;
  });
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(*status, 200);
  EXPECT_EQ(got, "one two three");

  int ticks = 0;
  status = (*client)->Stream("/forever", [&](const char*, size_t) { return ++ticks < 3; });
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(ticks, 3);
  auto raw = (*client)->GetRaw("/logs");  // the stopped stream's connection is not reused
  ASSERT_TRUE(raw) << raw.error().message;
  EXPECT_EQ(raw->body, "one two three");
  EXPECT_EQ(raw->content_type, "text/plain");
}

TEST(HttpExchange, AKeptConnectionThatTheServerClosedIsReplacedEvenForAPost) {
  std::atomic<int> posts{0};
  TestServer server([&](httplib::Server& s) {
    s.set_keep_alive_timeout(1);
    s.Post("/x", [&](const httplib::Request& req, httplib::Response& res) {
      ++posts;
      EXPECT_EQ(req.get_header_value("Authorization"), "Bearer t");
      res.set_content(req.body, "application/json");
    });
  });
  auto client = HttpClient::Create(server.url(), "t");
  ASSERT_TRUE(client);
  nlohmann::json body = {{"n", 1}};
  for (int i = 0; i < 2; ++i) {
    auto reply = (*client)->Call("POST", "/x", &body);
    ASSERT_TRUE(reply) << reply.error().message;
    EXPECT_EQ((*reply)["n"], 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the server's keep-alive
  }
  EXPECT_EQ(posts, 2);  // each sent once
}

TEST(HttpExchange, AnErrorReplyComesBackAsTheApiErrorAndCancelEndsAWait) {
  TestServer server([](httplib::Server& s) {
    s.Get("/missing", [](const httplib::Request&, httplib::Response& res) {
      res.status = 404;
      res.set_content(
          R"({"error":{"code":"not_found","message":"no such workload","field":"name"}})",
          "application/json");
    });
    s.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::seconds(3));
      res.set_content("{}", "application/json");
    });
  });
  auto client = HttpClient::Create(server.url(), "t");
  ASSERT_TRUE(client);
  auto missing = (*client)->Call("GET", "/missing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "not_found");
  EXPECT_EQ(missing.error().field, "name");

  auto began = std::chrono::steady_clock::now();
  std::thread canceler([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    (*client)->Cancel();
  });
  auto slow = (*client)->Call("GET", "/slow");
  canceler.join();
  EXPECT_FALSE(slow);
  EXPECT_EQ(slow.error().code, "unreachable");
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(2));
}

// `allot` builds the tree only up to the group of its first word: every
// client command must be found that way, and the others handed to allot-core.
TEST(QuickCli, EveryClientCommandIsFoundByItsFirstWordAndTheRestGoToTheCore) {
  CLI::App all;
  cli::AddClientCommands(all);
  auto commands = all.get_subcommands([](const CLI::App*) { return true; });
  ASSERT_GT(commands.size(), 15u);
  for (const CLI::App* command : commands) {
    CLI::App partial;
    std::string name = command->get_name();
    cli::AddClientCommandsFor(partial, name.c_str());
    EXPECT_NO_THROW(partial.get_subcommand(name)) << name;
    char arg0[] = "allot";
    char* argv[] = {arg0, name.data(), nullptr};
    EXPECT_FALSE(cli::IsCoreCommandLine(2, argv)) << name;
  }
  for (std::string name : {"up", "server", "agent", "store", "sim", "scenario", "bench",
                           "completion", "task-shim", "--help"}) {
    char arg0[] = "allot";
    char* argv[] = {arg0, name.data(), nullptr};
    EXPECT_TRUE(cli::IsCoreCommandLine(2, argv)) << name;
    EXPECT_THROW(all.get_subcommand(name), CLI::OptionNotFound) << name;
  }
  char arg0[] = "allot";
  char* bare[] = {arg0, nullptr};
  EXPECT_TRUE(cli::IsCoreCommandLine(1, bare));
}

}  // namespace
}  // namespace allot
