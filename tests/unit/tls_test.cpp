// TLS on the server's port (api/front_door.h) and in the clients
// (common/http_client.h, tunnel/dial.h, tunnel/tls.h), with certificates
// that tests/lib/make_certs.sh makes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "agent/log_endpoint.h"
#include "api/http_api.h"
#include "common/http_client.h"
#include "store/sqlite_store.h"
#include "tunnel/dial.h"
#include "tunnel/self_signed.h"
#include "tunnel/tls.h"

namespace allot {
namespace {

namespace fs = std::filesystem;

// A first IPv4 address of this machine that is not loopback ("" if none).
std::string NonLoopbackAddress() {
  ifaddrs* all = nullptr;
  if (::getifaddrs(&all) != 0) return "";
  std::string found;
  for (ifaddrs* at = all; at != nullptr && found.empty(); at = at->ifa_next) {
    if (at->ifa_addr == nullptr || at->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(at->ifa_addr)->sin_addr, text,
                sizeof text);
    if (std::string(text).rfind("127.", 0) != 0) found = text;
  }
  ::freeifaddrs(all);
  return found;
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("allot_tls_test_" + std::to_string(getpid())));
    fs::remove_all(*dir_);
    std::string make = std::string(ALLOT_SOURCE_DIR) + "/tests/lib/make_certs.sh ";
    // The server's certificate names 127.0.0.1 only; a second CA signs nothing of ours.
    ASSERT_EQ(std::system((make + dir_->string() + " server IP:127.0.0.1").c_str()), 0);
    ASSERT_EQ(std::system((make + (*dir_ / "other").string()).c_str()), 0);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override {
    auto opened = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(opened);
    store_ = std::move(opened.value());
    auto tls = tunnel::ServerTlsContext(File("server.pem"), File("server.key"));
    ASSERT_TRUE(tls) << tls.error().message;
    api::ApiOptions options;
    options.tls = *tls;
    api_ = std::make_unique<api::HttpApi>(*store_, options);
    host_ = NonLoopbackAddress();
    auto port = api_->Bind(host_.empty() ? "127.0.0.1" : "0.0.0.0", 0);
    ASSERT_TRUE(port) << port.error().message;
    port_ = *port;
    thread_ = std::thread([this] { api_->Serve(); });
    admin_ = *api::BootstrapAdmin(*store_, 1000);
  }
  void TearDown() override {
    api_->Stop();
    thread_.join();
  }
  static std::string File(const std::string& name) { return (*dir_ / name).string(); }
  std::string Https() const { return "https://127.0.0.1:" + std::to_string(port_); }

  static fs::path* dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<api::HttpApi> api_;
  std::thread thread_;
  std::string host_;
  int port_ = 0;
  std::string admin_;
};

fs::path* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, AClientWithTheCaCallsTheApiOverHttps) {
  auto client = HttpClient::Create(Https(), admin_, File("ca.pem"));
  ASSERT_TRUE(client) << client.error().message;
  for (int i = 0; i < 3; ++i) {  // one kept-alive connection, through the relay
    auto me = (*client)->Call("GET", "/api/v1/whoami");
    ASSERT_TRUE(me) << me.error().message;
    EXPECT_EQ(me->value("name", ""), "admin");
  }
  // A body larger than the relay's buffer goes both ways whole.
  nlohmann::json big = {{"name", std::string(100000, 'x')}};
  auto refused = (*client)->Call("POST", "/api/v1/users", &big);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "invalid") << refused.error().message;
  // The audit names the peer of the TLS connection, not the relay's socket.
  auto audit = (*client)->Call("GET", "/api/v1/audit?limit=5");
  ASSERT_TRUE(audit) << audit.error().message;
  bool found = false;
  for (const auto& entry : (*audit)["items"]) {
    if (entry.value("path", "") == "/api/v1/users") {
      found = true;
      EXPECT_EQ(entry.value("source", ""), "127.0.0.1") << entry.dump();
    }
  }
  EXPECT_TRUE(found) << audit->dump();
}

TEST_F(TlsTest, ACertificateFromAnotherCaOrForAnotherNameIsRefused) {
  auto untrusted = HttpClient::Create(Https(), admin_, File("other/ca.pem"));
  ASSERT_TRUE(untrusted);
  auto call = (*untrusted)->Call("GET", "/api/v1/whoami");
  ASSERT_FALSE(call);
  EXPECT_NE(call.error().message.find("--ca"), std::string::npos) << call.error().message;
  EXPECT_EQ(call.error().message.find("is it running"), std::string::npos) << call.error().message;

  auto system_store = HttpClient::Create(Https(), admin_);
  ASSERT_TRUE(system_store);
  EXPECT_FALSE((*system_store)->Call("GET", "/api/v1/whoami"));

  // The certificate names 127.0.0.1, not localhost.
  auto wrong_name =
      HttpClient::Create("https://localhost:" + std::to_string(port_), admin_, File("ca.pem"));
  ASSERT_TRUE(wrong_name);
  EXPECT_FALSE((*wrong_name)->Call("GET", "/api/v1/whoami"));

  auto missing = HttpClient::Create(Https(), admin_, File("no-such-ca.pem"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().field, "ca");
}

TEST_F(TlsTest, PlainHttpIsServedToLoopbackOnlyAndRefusedToOtherHosts) {
  auto loopback = HttpClient::Create("http://127.0.0.1:" + std::to_string(port_), admin_);
  ASSERT_TRUE(loopback);
  auto me = (*loopback)->Call("GET", "/api/v1/whoami");
  ASSERT_TRUE(me) << me.error().message;

  if (host_.empty()) GTEST_SKIP() << "this machine has no address but loopback";
  auto remote = HttpClient::Create("http://" + host_ + ":" + std::to_string(port_), admin_);
  ASSERT_TRUE(remote);
  auto refused = (*remote)->Call("GET", "/api/v1/whoami");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("https://"), std::string::npos) << refused.error().message;
}

TEST_F(TlsTest, AStreamDialsThroughTls) {
  // The tunnel's upgrade over https: the server's own refusal comes back
  // through the relay (a user's token is not an agent's).
  auto refused =
      tunnel::DialUpgrade(Https(), "/api/v1/agents/tunnel", admin_, File("ca.pem"), 5000);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "forbidden") << refused.error().message;

  auto untrusted =
      tunnel::DialUpgrade(Https(), "/api/v1/agents/tunnel", admin_, File("other/ca.pem"), 5000);
  ASSERT_FALSE(untrusted);
  EXPECT_NE(untrusted.error().message.find("--ca"), std::string::npos) << untrusted.error().message;
}

// The relay alone: bytes both ways, a half-close that lets the other way
// finish, and an end that reaches the other side.
TEST(TlsRelay, RelaysBothWaysAndHalfCloses) {
  fs::path dir = fs::temp_directory_path() / ("allot_tls_relay_" + std::to_string(getpid()));
  fs::remove_all(dir);
  std::string make = std::string(ALLOT_SOURCE_DIR) + "/tests/lib/make_certs.sh ";
  ASSERT_EQ(std::system((make + dir.string() + " server IP:127.0.0.1").c_str()), 0);
  auto server_tls =
      tunnel::ServerTlsContext((dir / "server.pem").string(), (dir / "server.key").string());
  ASSERT_TRUE(server_tls) << server_tls.error().message;
  auto client_tls = tunnel::ClientTlsContext((dir / "ca.pem").string());
  ASSERT_TRUE(client_tls) << client_tls.error().message;

  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t size = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size);

  tunnel::TlsRelay server_relay;
  std::promise<int> delivered;
  std::thread acceptor([&] {
    int accepted = ::accept(listener, nullptr, nullptr);
    server_relay.Accept(accepted, *server_tls, [&](int plain) { delivered.set_value(plain); });
  });
  auto tcp = tunnel::ConnectTcp("127.0.0.1", ntohs(address.sin_port), 5000);
  ASSERT_TRUE(tcp) << tcp.error().message;
  auto client = tunnel::TlsRelay::ForClients().Connect(*tcp, "127.0.0.1", *client_tls);
  ASSERT_TRUE(client) << client.error().message;
  acceptor.join();
  int server = delivered.get_future().get();

  std::string sent(300000, 'a');
  ASSERT_TRUE(tunnel::WriteAll(*client, sent.data(), sent.size()));
  ::shutdown(*client, SHUT_WR);  // the client is done sending, and still reads
  std::string got;
  char buffer[65536];
  for (ssize_t n; (n = ::recv(server, buffer, sizeof buffer, 0)) > 0;) got.append(buffer, n);
  EXPECT_EQ(got, sent);
  ASSERT_TRUE(tunnel::WriteAll(server, "reply", 5));
  ::close(server);
  std::string answer;
  for (ssize_t n; (n = ::recv(*client, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, n);
  EXPECT_EQ(answer, "reply");
  ::close(*client);
  ::close(listener);
  fs::remove_all(dir);
}

TEST(TlsContexts, BadFilesAreRefusedNamingTheFlag) {
  auto missing = tunnel::ServerTlsContext("/nonexistent.pem", "/nonexistent.key");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().field, "tls-cert");
  auto half = tunnel::ServerTlsContext("/nonexistent.pem", "");
  ASSERT_FALSE(half);
  EXPECT_NE(half.error().message.find("go together"), std::string::npos);

  fs::path dir = fs::temp_directory_path() / ("allot_tls_bad_" + std::to_string(getpid()));
  fs::remove_all(dir);
  std::string make = std::string(ALLOT_SOURCE_DIR) + "/tests/lib/make_certs.sh ";
  ASSERT_EQ(std::system((make + dir.string() + " a IP:127.0.0.1 b IP:127.0.0.1").c_str()), 0);
  auto mismatched = tunnel::ServerTlsContext((dir / "a.pem").string(), (dir / "b.key").string());
  ASSERT_FALSE(mismatched);
  EXPECT_EQ(mismatched.error().field, "tls-key");
  auto no_ca = tunnel::ClientTlsContext((dir / "a.key.missing").string());
  ASSERT_FALSE(no_ca);
  EXPECT_EQ(no_ca.error().field, "ca");
  fs::remove_all(dir);
}

// The agent's log endpoint over https: its self-signed certificate is the
// only one the server trusts there, and it names the node's address.
TEST(LogsTls, TheEndpointServesItsOwnCertificateAndOnlyThatOneIsTrusted) {
  fs::path dir = fs::temp_directory_path() / ("allot_logs_tls_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto cert = agent::PrepareLogsTls(dir.string(), "127.0.0.1", true);
  ASSERT_TRUE(cert) << cert.error().message;
  EXPECT_EQ(fs::status(dir / "logs-tls.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  agent::LogEndpoint endpoint(dir.string(), "secret", (dir / "logs-tls.pem").string(),
                              (dir / "logs-tls.key").string());
  auto port = endpoint.Bind("127.0.0.1", 0);
  ASSERT_TRUE(port) << port.error().message;
  std::thread serving([&] { endpoint.Serve(); });
  std::string url = "https://127.0.0.1:" + std::to_string(*port);
  httplib::Headers headers = {{"X-Allot-Logs-Secret", "secret"}};
  httplib::Client pinned(url);
  pinned.set_ca_cert_store(tunnel::StoreTrusting(*cert));
  int status = 0;
  std::string why;
  for (int i = 0; i < 100 && status == 0; ++i) {
    httplib::Result answered = pinned.Get("/v1/logs/w/0?node=n", headers);
    if (answered) {
      status = answered->status;
    } else {
      why = httplib::to_string(answered.error());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  EXPECT_EQ(status, 404) << why;  // no such task: but over TLS, verified
  httplib::Client other(url);     // the system's store: not this certificate
  EXPECT_FALSE(other.Get("/v1/logs/w/0?node=n", headers));
  EXPECT_FALSE(agent::PrepareLogsTls(dir.string(), "127.0.0.1", false)->size());
  endpoint.Stop();
  serving.join();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace allot
