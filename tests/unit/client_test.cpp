// The client side: config precedence and errors, output formats, the HTTP
// client's error mapping.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/output.h"
#include "common/client_config.h"
#include "common/http_client.h"

namespace allot {
namespace {

// A private HOME with no ALLOT_* variables, restored afterwards.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One per process: ctest runs each test in its own process, in parallel.
    home_ = std::filesystem::temp_directory_path() /
            ("allot_client_test_home_" + std::to_string(getpid()));
    std::filesystem::remove_all(home_);
    std::filesystem::create_directories(home_);
    for (const char* name : {"HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "ALLOT_SERVER",
                             "ALLOT_TOKEN", "ALLOT_PROJECT", "ALLOT_CA"}) {
      const char* value = std::getenv(name);
      saved_.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
      unsetenv(name);
    }
    setenv("HOME", home_.c_str(), 1);
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
    std::filesystem::remove_all(home_);
  }
  void WriteFile(const std::filesystem::path& path, const std::string& text) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }

  std::filesystem::path home_;
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(ConfigTest, DefaultsThenFileThenEnvironment) {
  auto config = LoadClientConfig();
  ASSERT_TRUE(config);
  EXPECT_EQ(config->server, "http://127.0.0.1:7070");
  EXPECT_EQ(config->project, "default");
  EXPECT_TRUE(config->token.empty());

  ClientConfig saved{"https://cluster:7070", "allot_a_b", "vision", "", "/etc/allot/ca.pem"};
  ASSERT_TRUE(SaveClientConfig(saved));
  EXPECT_EQ(std::filesystem::status(home_ / ".config/allot/config").permissions() &
                std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  config = LoadClientConfig();
  ASSERT_TRUE(config);
  EXPECT_EQ(config->server, "https://cluster:7070");
  EXPECT_EQ(config->token, "allot_a_b");
  EXPECT_EQ(config->project, "vision");
  EXPECT_EQ(config->ca, "/etc/allot/ca.pem");

  setenv("ALLOT_SERVER", "http://other:1", 1);
  setenv("ALLOT_TOKEN", "allot_c_d", 1);
  setenv("ALLOT_CA", "/tmp/other-ca.pem", 1);
  config = LoadClientConfig();
  ASSERT_TRUE(config);
  EXPECT_EQ(config->server, "http://other:1");
  EXPECT_EQ(config->ca, "/tmp/other-ca.pem");
  EXPECT_EQ(config->token, "allot_c_d");
  EXPECT_EQ(config->token_source, "ALLOT_TOKEN");
}

TEST_F(ConfigTest, TheLocalAdminTokenIsUsedOnlyForALocalServer) {
  setenv("XDG_DATA_HOME", (home_ / ".local/share").c_str(), 1);
  WriteFile(home_ / ".local/share/allot/admin-token", "allot_x_y\n");
  auto config = LoadClientConfig();
  ASSERT_TRUE(config);
  EXPECT_EQ(config->token, "allot_x_y");
  setenv("ALLOT_SERVER", "http://cluster:7070", 1);
  config = LoadClientConfig();
  ASSERT_TRUE(config);
  EXPECT_TRUE(config->token.empty());
}

TEST_F(ConfigTest, AMalformedFileNamesTheFileAndTheKey) {
  WriteFile(home_ / ".config/allot/config", "server: http://a\ncolour: blue\n");
  auto config = LoadClientConfig();
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().field, "colour");
  EXPECT_NE(config.error().message.find(".config/allot/config"), std::string::npos);
  WriteFile(home_ / ".config/allot/config", "server: [unclosed\n");
  config = LoadClientConfig();
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("line"), std::string::npos);
}

TEST(HttpClient, RefusesANonUrlAndReportsAnUnreachableServer) {
  auto bad = HttpClient::Create("cluster:7070", "");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "server");
  auto client = HttpClient::Create("http://127.0.0.1:1/", "t");
  ASSERT_TRUE(client);
  auto reply = (*client)->Call("GET", "/healthz");
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, "unreachable");
  EXPECT_EQ(UrlEncode("a b/c"), "a%20b%2Fc");
}

// Several servers: a call skips the one that is down and stays with the one
// that answered; a list with no address is refused.
TEST(HttpClient, FailsOverToTheNextServerOfAList) {
  httplib::Server server;
  int calls = 0;
  server.Get("/healthz", [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.set_content(R"({"ok":true})", "application/json");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::string list = "http://127.0.0.1:1, http://127.0.0.1:" + std::to_string(port) + "/";
  auto client = HttpClient::Create(list, "t");
  ASSERT_TRUE(client) << client.error().message;
  for (int i = 0; i < 3; ++i) {
    auto reply = (*client)->Call("GET", "/healthz");
    ASSERT_TRUE(reply) << reply.error().message;
    EXPECT_TRUE(reply->value("ok", false));
  }
  EXPECT_EQ(calls, 3);
  server.stop();
  serving.join();
  auto down = (*client)->Call("POST", "/healthz");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, "unreachable");
  EXPECT_NE(down.error().message.find("127.0.0.1:1"), std::string::npos);  // names them all
  EXPECT_FALSE(HttpClient::Create(" , ", ""));
  EXPECT_EQ(FirstServer("http://a:1/, http://b:2"), "http://a:1");
}

// A server that answers 503 (its store is out of reach) is skipped too.
TEST(HttpClient, FailsOverFromAServerWithoutItsStore) {
  httplib::Server cut_off, healthy;
  cut_off.Post("/api/v1/x", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_content(R"({"error":{"code":"unavailable","message":"store"}})", "application/json");
  });
  healthy.Post("/api/v1/x", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"ok":true})", "application/json");
  });
  int cut_port = cut_off.bind_to_any_port("127.0.0.1");
  int healthy_port = healthy.bind_to_any_port("127.0.0.1");
  std::thread a([&] { cut_off.listen_after_bind(); });
  std::thread b([&] { healthy.listen_after_bind(); });
  while (!cut_off.is_running() || !healthy.is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto client = HttpClient::Create("http://127.0.0.1:" + std::to_string(cut_port) +
                                       ",http://127.0.0.1:" + std::to_string(healthy_port),
                                   "t");
  ASSERT_TRUE(client);
  nlohmann::json body = nlohmann::json::object();
  auto reply = (*client)->Call("POST", "/api/v1/x", &body);
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_TRUE(reply->value("ok", false));
  client->reset();  // its kept-alive connections would hold the servers' stop
  cut_off.stop();
  healthy.stop();
  a.join();
  b.join();
}

TEST(Output, TablesAlignAndDocumentsPrintAsJsonOrYaml) {
  std::ostringstream table;
  cli::PrintTable(table, {"NAME", "GPU"}, {{"a-long-name", "1"}, {"b", "0.5"}});
  EXPECT_EQ(table.str(), "NAME         GPU\na-long-name  1\nb            0.5\n");
  nlohmann::json doc = {{"name", "w1"}, {"gpu", "1"}, {"workers", 2}, {"env", {{"A", "true"}}}};
  std::ostringstream yaml;
  cli::PrintDocument(yaml, doc, cli::OutputFormat::kYaml);
  // Strings stay strings: "1" and "true" are quoted.
  EXPECT_NE(yaml.str().find("gpu: \"1\""), std::string::npos) << yaml.str();
  EXPECT_NE(yaml.str().find("A: \"true\""), std::string::npos) << yaml.str();
  EXPECT_NE(yaml.str().find("workers: 2"), std::string::npos) << yaml.str();
  std::ostringstream json_out;
  cli::PrintDocument(json_out, doc, cli::OutputFormat::kJson);
  EXPECT_EQ(nlohmann::json::parse(json_out.str()), doc);
  EXPECT_EQ(cli::FormatGpus(1.5), "1.5");
  EXPECT_EQ(cli::FormatGpus(4.0), "4");
  EXPECT_EQ(cli::FormatAge(0, 90 * 1000), "90s");
  EXPECT_EQ(cli::FormatAge(0, 3 * 86400 * 1000LL), "3d");
}

}  // namespace
}  // namespace allot
