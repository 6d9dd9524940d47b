// The HTTP API on loopback: auth, roles, bad input, paging, audit.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "api/http_api.h"
#include "api_client.h"
#include "store/sqlite_store.h"
#include "wire/resources.h"

namespace allot::api {

using server::WorkloadUsage;
using wire::BindTask;
using wire::DecodeQueue;
using wire::DecodeWorkloadSubmission;
using wire::EncodeQueue;
using wire::EncodeWorkload;
using wire::IdleRule;
using wire::ParseSimulatedGpus;
using wire::WorkloadStatus;

namespace {

using nlohmann::json;

// An agent's registration body for node `name`.
std::string Inventory(const std::string& name) {
  return json{{"name", name},           {"cpu", "8"},
              {"memory", "32Gi"},       {"simulate_gpus", "2xA100-80GB"},
              {"address", "127.0.0.1"}, {"logs_url", "http://127.0.0.1:1"},
              {"boot_id", "b1"}}
      .dump();
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(opened);
    store_ = std::move(opened.value());
    ApiOptions options;
    options.max_body_bytes = 1 << 16;
    options.now_ms = [] { return 1000; };
    api_ = std::make_unique<HttpApi>(*store_, options);
    auto port = api_->Bind("127.0.0.1", 0);
    ASSERT_TRUE(port) << port.error().message;
    port_ = *port;
    thread_ = std::thread([this] { api_->Serve(); });
    admin_ = *BootstrapAdmin(*store_, 1000);
    ASSERT_TRUE(BootstrapDefaultProject(*store_));
    ASSERT_FALSE(admin_.empty());
  }
  void TearDown() override {
    api_->Stop();
    thread_.join();
  }

  using Response = ApiResponse;
  Response Call(const std::string& method, const std::string& path, const std::string& token,
                const std::string& body = "") {
    return CallApi(port_, method, path, token, body);
  }
  // Creates a user with one role binding and returns a token for it.
  std::string UserWith(const std::string& name, const json& role) {
    auto created =
        Call("POST", "/api/v1/users", admin_, json{{"name", name}, {"roles", {role}}}.dump());
    EXPECT_EQ(created.status, 201) << created.body.dump();
    auto token = Call("POST", "/api/v1/tokens", admin_, json{{"user", name}}.dump());
    EXPECT_EQ(token.status, 201) << token.body.dump();
    return token.body.value("token", "");
  }
  // Registers agents of node-a and node-b; their tokens.
  std::pair<std::string, std::string> AgentsOfNodesAAndB() {
    auto created = Call("POST", "/api/v1/join-tokens", admin_, R"({"uses":2})");
    std::string join = created.body["token"];
    std::string a =
        Call("POST", "/api/v1/agents/register", join, Inventory("node-a")).body["agent_token"];
    std::string b =
        Call("POST", "/api/v1/agents/register", join, Inventory("node-b")).body["agent_token"];
    return {a, b};
  }
  void MakeTree() {
    ASSERT_EQ(
        Call("POST", "/api/v1/departments", admin_, R"({"name":"research","deserved":{"gpu":8}})")
            .status,
        201);
    ASSERT_EQ(Call("POST", "/api/v1/projects", admin_,
                   R"({"name":"vision","department":"research","deserved":{"gpu":4}})")
                  .status,
              201);
  }

  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<HttpApi> api_;
  std::thread thread_;
  int port_ = 0;
  std::string admin_;
};

TEST(SimulatedGpus, ParseCountModelAndMemoryAndRefuseAbsurdSizes) {
  auto gpus = ParseSimulatedGpus("2xA100-80GB", "n1");
  ASSERT_TRUE(gpus) << gpus.error().message;
  ASSERT_EQ(gpus->size(), 2u);
  EXPECT_EQ((*gpus)[1].model, "A100-80GB");
  EXPECT_EQ((*gpus)[1].memory_mib, 80 * 1024);
  // Found by the request fuzzer: a size this large overflowed when encoded
  // and read back.
  auto huge = ParseSimulatedGpus("3xA1-85555555555550GB", "n1");
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().field, "simulate_gpus");
  EXPECT_NE(huge.error().message.find("more than 4096GB"), std::string::npos);
  EXPECT_FALSE(ParseSimulatedGpus("0xA100-80GB", "n1"));
  EXPECT_FALSE(ParseSimulatedGpus("2xA100", "n1"));
}

TEST_F(ApiTest, HealthAndOpenApiNeedNoToken) {
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
  auto doc = Call("GET", "/api/v1/openapi.json", "");
  EXPECT_EQ(doc.status, 200);
  EXPECT_TRUE(doc.body.contains("paths"));
}

TEST_F(ApiTest, MissingOrWrongTokenIsRefusedAndAudited) {
  auto none = Call("GET", "/api/v1/workloads", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body["error"]["code"], "unauthenticated");
  auto forged = Call("GET", "/api/v1/workloads", "allot_0000_ffff");
  EXPECT_EQ(forged.status, 401);
  auto audit = store_->ListAudit({0, 100, "anonymous"});
  ASSERT_TRUE(audit);
  EXPECT_EQ(audit->size(), 2u);
  EXPECT_FALSE((*audit)[0].allowed);
  EXPECT_EQ((*audit)[0].source, "127.0.0.1");
}

TEST_F(ApiTest, SubmitListDescribeDelete) {
  auto submitted = Call("POST", "/api/v1/workloads", admin_,
                        R"({"name":"train-1","project":"default","gpu":"0.5","cpu":2,
                            "memory":"4Gi","command":["python","train.py"]})");
  ASSERT_EQ(submitted.status, 201) << submitted.body.dump();
  EXPECT_EQ(submitted.body["status"], "pending");
  EXPECT_EQ(submitted.body["owner"], "admin");
  EXPECT_EQ(submitted.body["gpu"], "0.5");
  auto listed = Call("GET", "/api/v1/workloads?project=default", admin_);
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.body["items"].size(), 1u);
  EXPECT_TRUE(listed.body["next"].is_null());
  auto one = Call("GET", "/api/v1/workloads/train-1", admin_);
  EXPECT_EQ(one.body["memory"], "4Gi");
  EXPECT_EQ(Call("DELETE", "/api/v1/workloads/train-1", admin_).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/workloads/train-1", admin_).body["status"], "deleted");
  auto audit = store_->ListAudit({0, 100, "admin"});
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->size(), 2u);  // the two mutating requests
  EXPECT_EQ((*audit)[0].method, "POST");
  EXPECT_EQ((*audit)[1].method, "DELETE");
}

TEST_F(ApiTest, ListsArePaged) {
  for (int i = 0; i < 5; ++i) {
    auto r = Call("POST", "/api/v1/workloads", admin_,
                  json{{"name", "w" + std::to_string(i)}, {"project", "default"}}.dump());
    ASSERT_EQ(r.status, 201);
  }
  auto first = Call("GET", "/api/v1/workloads?limit=2", admin_);
  ASSERT_EQ(first.body["items"].size(), 2u);
  EXPECT_EQ(first.body["next"], "w1");
  auto second = Call("GET", "/api/v1/workloads?limit=2&after=w1", admin_);
  EXPECT_EQ(second.body["items"][0]["name"], "w2");
  EXPECT_EQ(Call("GET", "/api/v1/workloads?limit=0", admin_).body["error"]["field"], "limit");
}

TEST_F(ApiTest, BadInputGetsCodeMessageFieldAndChangesNothing) {
  struct Case {
    std::string body;
    std::string code;
    std::string field;
  };
  std::vector<Case> cases = {
      {"{not json", "malformed_json", ""},
      {R"(["a"])", "malformed_json", ""},
      {R"({"name":"a","project":"default","gpus":1})", "unknown_field", "gpus"},
      {R"({"name":"a","project":"default","gpu":"1.5"})", "invalid", "gpu"},
      {R"({"name":"a","project":"default","gpu":true})", "invalid", "gpu"},
      {R"({"name":"a","project":"default","cpu":"-1"})", "invalid", "cpu"},
      {R"({"name":"Bad_Name","project":"default"})", "invalid", "name"},
      {R"({"name":"a","project":"nope"})", "not_found", "project"},
      {R"({"name":"a","project":"default","kind":"batch"})", "invalid", "kind"},
      {R"({"name":"a","project":"default","workers":0})", "invalid", "workers"},
  };
  for (const auto& c : cases) {
    auto r = Call("POST", "/api/v1/workloads", admin_, c.body);
    EXPECT_GE(r.status, 400) << c.body;
    EXPECT_LT(r.status, 500) << c.body;
    EXPECT_EQ(r.body["error"]["code"], c.code) << c.body << " -> " << r.body.dump();
    EXPECT_EQ(r.body["error"]["field"], c.field) << c.body << " -> " << r.body.dump();
    EXPECT_FALSE(r.body["error"]["message"].get<std::string>().empty());
  }
  std::string huge =
      R"({"name":"a","project":"default","command":[")" + std::string(1 << 17, 'x') + R"("]})";
  auto big = Call("POST", "/api/v1/workloads", admin_, huge);
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(big.body["error"]["code"], "too_large");
  EXPECT_EQ(Call("GET", "/api/v1/workloads", admin_).body["items"].size(), 0u);
}

TEST_F(ApiTest, QuotasStayWithinTheParentAndAreNeverNegative) {
  MakeTree();
  auto over = Call("POST", "/api/v1/projects", admin_,
                   R"({"name":"nlp","department":"research","deserved":{"gpu":5}})");
  EXPECT_EQ(over.status, 400);
  EXPECT_EQ(over.body["error"]["field"], "deserved");
  auto negative = Call("POST", "/api/v1/projects", admin_,
                       R"({"name":"nlp","department":"research","deserved":{"gpu":-1}})");
  EXPECT_EQ(negative.status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/projects/nlp", admin_).status, 404);
  auto shrink = Call("PUT", "/api/v1/departments/research", admin_,
                     R"({"name":"research","deserved":{"gpu":2}})");
  EXPECT_EQ(shrink.status, 400) << shrink.body.dump();
  EXPECT_EQ(Call("GET", "/api/v1/departments/research", admin_).body["deserved"]["gpu"], "8");
}

TEST_F(ApiTest, RolesAllowAndForbidPerRoute) {
  MakeTree();
  ASSERT_EQ(
      Call("POST", "/api/v1/projects", admin_, R"({"name":"other","department":"default"})").status,
      201);
  std::string researcher = UserWith("ada", {{"role", "researcher"}, {"project", "vision"}});
  std::string viewer = UserWith("vic", {{"role", "viewer"}, {"project", "vision"}});
  std::string dept_admin =
      UserWith("dee", {{"role", "department-admin"}, {"department", "research"}});
  std::string lead = UserWith("lee", {{"role", "project-admin"}, {"project", "vision"}});
  auto submit = [&](const std::string& token, const std::string& name, const std::string& project,
                    const std::string& extra = "") {
    return Call("POST", "/api/v1/workloads", token,
                R"({"name":")" + name + R"(","project":")" + project + "\"" + extra + "}")
        .status;
  };
  // Workloads: researcher in own project only; viewer never; lead sets priorities.
  EXPECT_EQ(submit(researcher, "a1", "vision"), 201);
  EXPECT_EQ(submit(researcher, "a2", "other"), 403);
  EXPECT_EQ(submit(researcher, "a3", "vision", R"(,"priority":90)"), 403);
  EXPECT_EQ(submit(lead, "l1", "vision", R"(,"priority":90)"), 201);
  EXPECT_EQ(submit(viewer, "v1", "vision"), 403);
  EXPECT_EQ(submit(dept_admin, "d1", "vision"), 201);
  EXPECT_EQ(Call("GET", "/api/v1/workloads/a1", viewer).status, 200);
  EXPECT_EQ(Call("DELETE", "/api/v1/workloads/l1", researcher).status, 403);  // not its own
  EXPECT_EQ(Call("DELETE", "/api/v1/workloads/a1", lead).status, 200);
  // A viewer of vision sees only vision's workloads.
  ASSERT_EQ(submit(admin_, "x1", "other"), 201);
  for (const auto& item : Call("GET", "/api/v1/workloads", viewer).body["items"]) {
    EXPECT_EQ(item["project"], "vision");
  }
  // Quotas: department admin within its department; not researchers.
  EXPECT_EQ(Call("PUT", "/api/v1/projects/vision", dept_admin,
                 R"({"name":"vision","department":"research","deserved":{"gpu":6}})")
                .status,
            200);
  EXPECT_EQ(Call("PUT", "/api/v1/projects/other", dept_admin,
                 R"({"name":"other","department":"default","deserved":{"gpu":1}})")
                .status,
            403);
  EXPECT_EQ(Call("PUT", "/api/v1/projects/vision", researcher,
                 R"({"name":"vision","department":"research"})")
                .status,
            403);
  // Departments, nodes, audit, users: admin.
  EXPECT_EQ(Call("POST", "/api/v1/departments", dept_admin, R"({"name":"d2"})").status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/nodes", dept_admin,
                 R"({"name":"n1","cpu":8,"memory":"32Gi","simulate_gpus":"2xA100-80GB"})")
                .status,
            403);
  EXPECT_EQ(Call("POST", "/api/v1/nodes", admin_,
                 R"({"name":"n1","cpu":8,"memory":"32Gi","simulate_gpus":"2xA100-80GB"})")
                .status,
            201);
  EXPECT_EQ(Call("GET", "/api/v1/nodes", viewer).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/audit", dept_admin).status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/audit", admin_).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/users", researcher).status, 403);
  // Granting: a lead may add researchers to its project, not admins.
  EXPECT_EQ(Call("POST", "/api/v1/users", lead,
                 R"({"name":"bob","roles":[{"role":"researcher","project":"vision"}]})")
                .status,
            201);
  EXPECT_EQ(
      Call("POST", "/api/v1/users", lead, R"({"name":"eve","roles":[{"role":"admin"}]})").status,
      403);
  EXPECT_EQ(Call("POST", "/api/v1/tokens", researcher, R"({"user":"lee"})").status, 403);
  // Every refusal is in the audit log.
  auto refused = store_->ListAudit({0, 1000, ""});
  int denied = 0;
  for (const auto& entry : *refused) denied += entry.allowed ? 0 : 1;
  EXPECT_EQ(denied, 12);
}

TEST_F(ApiTest, PriorityIsSetByProjectAdminsOnly) {
  MakeTree();
  std::string researcher = UserWith("ada", {{"role", "researcher"}, {"project", "vision"}});
  std::string lead = UserWith("lee", {{"role", "project-admin"}, {"project", "vision"}});
  ASSERT_EQ(
      Call("POST", "/api/v1/workloads", researcher, R"({"name":"a1","project":"vision"})").status,
      201);
  EXPECT_EQ(Call("PATCH", "/api/v1/workloads/a1", researcher, R"({"priority":90})").status, 403);
  auto changed = Call("PATCH", "/api/v1/workloads/a1", lead, R"({"priority":90})");
  EXPECT_EQ(changed.status, 200) << changed.body.dump();
  EXPECT_EQ(Call("GET", "/api/v1/workloads/a1", researcher).body["priority"], 90);
  auto wrong = Call("PATCH", "/api/v1/workloads/a1", lead, R"({"gpu":2})");
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(wrong.body["error"]["field"], "gpu");
  EXPECT_EQ(Call("PATCH", "/api/v1/workloads/a1", lead, R"({"priority":5000})").status, 400);
  EXPECT_EQ(Call("PATCH", "/api/v1/workloads/nope", lead, R"({"priority":1})").status, 404);
}

TEST_F(ApiTest, MetricsAreForClusterWideReadersAndCountRequests) {
  MakeTree();
  std::string researcher = UserWith("ada", {{"role", "researcher"}, {"project", "vision"}});
  std::string viewer = UserWith("vic", {{"role", "viewer"}});
  httplib::Client client("127.0.0.1", port_);
  auto scrape = [&](const std::string& token) {
    return client.Get("/metrics", {{"Authorization", "Bearer " + token}});
  };
  ASSERT_EQ(Call("GET", "/api/v1/projects/vision", researcher).status, 200);
  EXPECT_EQ(scrape(researcher)->status, 403);
  EXPECT_EQ(client.Get("/metrics")->status, 401);
  auto reply = scrape(viewer);
  ASSERT_EQ(reply->status, 200) << reply->body;
  EXPECT_EQ(reply->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  // One series per route pattern, not per name.
  EXPECT_NE(reply->body.find(R"(allot_api_request_duration_seconds_count{method="GET",)"
                             R"(route="/api/v1/projects/{}",code="200"} 1)"),
            std::string::npos)
      << reply->body;
  EXPECT_NE(reply->body.find(R"(route="/metrics",code="403"} 1)"), std::string::npos);
}

TEST_F(ApiTest, WhoamiAndClusterStatusAreForEveryoneSignedIn) {
  std::string viewer = UserWith("vic", {{"role", "viewer"}});
  auto me = Call("GET", "/api/v1/whoami", viewer);
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(me.body["name"], "vic");
  EXPECT_EQ(me.body["roles"][0]["role"], "viewer");
  EXPECT_EQ(Call("GET", "/api/v1/whoami", "").status, 401);
  // No cycle has run: a clear 404; then the status the loop wrote.
  auto before = Call("GET", "/api/v1/cluster", viewer);
  EXPECT_EQ(before.status, 404);
  EXPECT_NE(before.body["error"]["message"].get<std::string>().find("no scheduling cycle"),
            std::string::npos);
  ASSERT_TRUE(store_->Commit(
      {{store::Write::Op::kCreate, "status", "cluster", R"({"name":"cluster","gpus":4})", 0}}));
  auto after = Call("GET", "/api/v1/cluster", viewer);
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body["gpus"], 4);
  EXPECT_EQ(Call("GET", "/api/v1/cluster", "allot_x_y").status, 401);
}

TEST_F(ApiTest, NodesAreRemovedByAdminsOnly) {
  std::string viewer = UserWith("vic", {{"role", "viewer"}});
  ASSERT_EQ(Call("POST", "/api/v1/nodes", admin_,
                 R"({"name":"n1","cpu":8,"memory":"32Gi","simulate_gpus":"2xA100-80GB"})")
                .status,
            201);
  EXPECT_EQ(Call("DELETE", "/api/v1/nodes/n1", viewer).status, 403);
  EXPECT_EQ(Call("DELETE", "/api/v1/nodes/n1", admin_).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/nodes/n1", admin_).status, 404);
  EXPECT_EQ(Call("DELETE", "/api/v1/nodes/n1", admin_).status, 404);
}

TEST_F(ApiTest, WatchReturnsReadableChangesAfterARevision) {
  MakeTree();
  std::string viewer = UserWith("vic", {{"role", "viewer"}, {"project", "vision"}});
  auto listed = Call("GET", "/api/v1/workloads", viewer);
  int64_t since = listed.body["revision"];
  // A change in another project is not shown to vision's viewer; the
  // watch waits on past it and returns vision's change.
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    Call("POST", "/api/v1/workloads", admin_, R"({"name":"hidden","project":"default"})");
    Call("POST", "/api/v1/workloads", admin_, R"({"name":"seen","project":"vision"})");
  });
  auto watched = Call(
      "GET", "/api/v1/watch?kind=workloads&timeout_s=10&since=" + std::to_string(since), viewer);
  writer.join();
  ASSERT_EQ(watched.status, 200) << watched.body.dump();
  ASSERT_EQ(watched.body["items"].size(), 1u);
  EXPECT_EQ(watched.body["items"][0]["object"]["name"], "seen");
  EXPECT_EQ(watched.body["items"][0]["type"], "changed");
  int64_t next = watched.body["revision"];
  EXPECT_GT(next, since);
  // Nothing new: an empty answer after the timeout, at the same revision.
  auto idle = Call("GET", "/api/v1/watch?timeout_s=0&since=" + std::to_string(next), viewer);
  EXPECT_EQ(idle.status, 200);
  EXPECT_TRUE(idle.body["items"].empty());
  EXPECT_EQ(idle.body["revision"], next);
  // Tokens are never watched; users only by admins; since is required.
  auto admin_view = Call("GET", "/api/v1/watch?timeout_s=0&since=0", admin_);
  for (const auto& item : admin_view.body["items"]) EXPECT_NE(item["kind"], "tokens");
  EXPECT_EQ(Call("GET", "/api/v1/watch?kind=users&since=0", viewer).status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/watch", viewer).body["error"]["field"], "since");
  EXPECT_EQ(Call("GET", "/api/v1/watch?since=0&kind=tokens", admin_).status, 400);
}

TEST_F(ApiTest, AuditExportsAsJsonLines) {
  Call("POST", "/api/v1/departments", admin_, R"({"name":"d1"})");
  Call("POST", "/api/v1/departments", "allot_bad_token", R"({"name":"d2"})");
  httplib::Client client("127.0.0.1", port_);
  auto res = client.Get("/api/v1/audit?format=jsonl",
                        httplib::Headers{{"Authorization", "Bearer " + admin_}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/x-ndjson");
  std::vector<json> lines;
  std::stringstream text(res->body);
  for (std::string line; std::getline(text, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["actor"], "admin");
  EXPECT_EQ(lines[1]["actor"], "anonymous");
  EXPECT_FALSE(lines[1]["allowed"]);
  EXPECT_EQ(Call("GET", "/api/v1/audit?format=xml", admin_).status, 400);
}

TEST_F(ApiTest, JoinTokensAdmitAgentsOnceAndRefusalsAreAudited) {
  std::string viewer = UserWith("watcher", {{"role", "viewer"}});
  EXPECT_EQ(Call("POST", "/api/v1/join-tokens", viewer, "{}").status, 403);
  auto created = Call("POST", "/api/v1/join-tokens", admin_, R"({"uses":1,"pool":"a100"})");
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string join = created.body["token"];
  EXPECT_EQ(join.rfind("allot_join_", 0), 0u);
  auto registered = Call("POST", "/api/v1/agents/register", join, Inventory("gpu-1"));
  ASSERT_EQ(registered.status, 201) << registered.body.dump();
  EXPECT_EQ(registered.body["pool"], "a100");  // the token's pool is forced
  std::string agent = registered.body["agent_token"];
  auto reused = Call("POST", "/api/v1/agents/register", join, Inventory("gpu-2"));
  EXPECT_EQ(reused.status, 401);
  EXPECT_NE(reused.body["error"]["message"].get<std::string>().find("used up"), std::string::npos);
  auto wrong = Call("POST", "/api/v1/agents/register", "allot_join_00_11", Inventory("gpu-3"));
  EXPECT_EQ(wrong.status, 401);
  auto audit = Call("GET", "/api/v1/audit?limit=100", admin_);
  int refused = 0;
  for (const auto& entry : audit.body["items"]) {
    if (entry["path"] == "/api/v1/agents/register" && !entry["allowed"].get<bool>()) ++refused;
  }
  EXPECT_EQ(refused, 2);
  EXPECT_FALSE(store_->Get("nodes", "gpu-2"));
  // The agent re-registers with its own token, and may add a node of its own.
  EXPECT_EQ(Call("POST", "/api/v1/agents/register", agent, Inventory("gpu-1")).status, 200);
  EXPECT_EQ(Call("POST", "/api/v1/agents/register", agent, Inventory("gpu-4")).status, 201);
  // The agent token is no user's: no other route.
  EXPECT_EQ(Call("POST", "/api/v1/workloads", agent,
                 R"({"name":"x","project":"default","command":["true"]})")
                .status,
            403);
  // Secrets never show in a watch.
  auto watched = Call("GET", "/api/v1/watch?since=0&timeout_s=0", admin_);
  for (const auto& item : watched.body["items"]) {
    EXPECT_NE(item["kind"], "join_tokens");
    EXPECT_NE(item["kind"], "agents");
    EXPECT_NE(item["kind"], "tokens");
  }
}

TEST_F(ApiTest, AgentsHeartbeatAndReportOnlyForTheirOwnNodes) {
  auto [a, b] = AgentsOfNodesAAndB();
  EXPECT_EQ(Call("PUT", "/api/v1/nodes/node-a/heartbeat", a, R"({"time_ms":1})").status, 200);
  EXPECT_EQ(Call("PUT", "/api/v1/nodes/node-a/heartbeat", b, R"({"time_ms":1})").status, 403);
  EXPECT_EQ(Call("PUT", "/api/v1/nodes/node-a/heartbeat", a, R"({"gpus":3})").status, 400);
  // A workload bound to node-a: its agent sees it; the other does not.
  auto w = DecodeWorkloadSubmission(
      json{{"name", "job"}, {"project", "default"}, {"command", {"true"}}});
  ASSERT_TRUE(w);
  w->status = WorkloadStatus::kRunning;
  BindTask(w->assignments[0], "node-a", {0});
  ASSERT_TRUE(store_->Commit(
      {{store::Write::Op::kCreate, "workloads", "job", EncodeWorkload(*w).dump(), 0}}));
  EXPECT_EQ(Call("GET", "/api/v1/workloads", a).body["items"].size(), 1u);
  EXPECT_EQ(Call("GET", "/api/v1/workloads", b).body["items"].size(), 0u);
  auto watched = Call("GET", "/api/v1/watch?kind=workloads&since=0&timeout_s=0", b);
  EXPECT_EQ(watched.body["items"].size(), 0u);
  std::string report = R"({"node":"node-a","attempt":1,"state":"running","pid":42})";
  EXPECT_EQ(Call("PUT", "/api/v1/workloads/job/tasks/0/status", b, report).status, 403);
  EXPECT_EQ(Call("PUT", "/api/v1/workloads/job/tasks/0/status", a, report).status, 200);
  std::string stale = R"({"node":"node-a","attempt":7,"state":"exited","exit_code":1})";
  EXPECT_EQ(Call("PUT", "/api/v1/workloads/job/tasks/0/status", a, stale).status, 409);
  std::string done = R"({"node":"node-a","attempt":1,"state":"exited","exit_code":0})";
  EXPECT_EQ(Call("PUT", "/api/v1/workloads/job/tasks/0/status", a, done).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/workloads/job", admin_).body["status"], "succeeded");
  auto events = Call("GET", "/api/v1/events?workload=job", admin_);
  std::vector<std::string> types;
  for (const auto& event : events.body["items"]) types.push_back(event["type"]);
  EXPECT_EQ(types,
            (std::vector<std::string>{"TaskRunning", "TaskStopped", "TaskSucceeded", "Succeeded"}));
}

TEST_F(ApiTest, HeartbeatsCarryTaskGpuUseForTheTasksOfTheirNode) {
  auto [a, b] = AgentsOfNodesAAndB();
  auto w = DecodeWorkloadSubmission(
      json{{"name", "nb"}, {"project", "default"}, {"kind", "interactive"}, {"command", {"true"}}});
  ASSERT_TRUE(w);
  w->status = WorkloadStatus::kRunning;
  BindTask(w->assignments[0], "node-a", {0});
  ASSERT_TRUE(store_->Commit(
      {{store::Write::Op::kCreate, "workloads", "nb", EncodeWorkload(*w).dump(), 0}}));
  auto beat = [&](const std::string& token, const std::string& node, const json& task) {
    return Call("PUT", "/api/v1/nodes/" + node + "/heartbeat", token,
                json{{"time_ms", 1}, {"tasks", {task}}}.dump());
  };
  json reading = {{"workload", "nb"},     {"task", 0},
                  {"attempt", 1},         {"pid", 7},
                  {"gpu_utilization", 0}, {"gpu_memory_used", "2Gi"}};
  // Another node's agent cannot speak for the task: ignored.
  EXPECT_EQ(beat(b, "node-b", reading).status, 200);
  EXPECT_TRUE(Call("GET", "/api/v1/usage", admin_).body["workloads"].empty());
  EXPECT_EQ(beat(a, "node-a", reading).status, 200);
  auto usage = Call("GET", "/api/v1/usage", admin_);
  EXPECT_EQ(usage.body["workloads"]["nb"]["gpu_utilization"], 0);
  EXPECT_EQ(usage.body["workloads"]["nb"]["gpu_memory_used"], "2Gi");
  EXPECT_EQ(usage.body["workloads"]["nb"]["project"], "default");
  // A researcher of another project does not see it; one of its own does.
  ASSERT_EQ(
      Call("POST", "/api/v1/projects", admin_, R"({"name":"other","department":"default"})").status,
      201);
  std::string outsider = UserWith("out", {{"role", "researcher"}, {"project", "other"}});
  EXPECT_TRUE(Call("GET", "/api/v1/usage", outsider).body["workloads"].empty());
  std::string insider = UserWith("in", {{"role", "researcher"}, {"project", "default"}});
  EXPECT_EQ(Call("GET", "/api/v1/usage", insider).body["workloads"].size(), 1u);
  EXPECT_EQ(usage.body["workloads"]["nb"]["idle_since_ms"], 1000);  // the API's clock
  auto points = Call("GET", "/api/v1/workloads/nb/usage", admin_);
  ASSERT_EQ(points.status, 200);
  ASSERT_EQ(points.body["points"].size(), 1u);
  EXPECT_EQ(points.body["idle_since_ms"], 1000);
  // Bad readings are refused and change nothing.
  json bad = reading;
  bad["gpu_utilization"] = 150;
  auto refused = beat(a, "node-a", bad);
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.body["error"]["field"], "tasks.gpu_utilization");
  bad = reading;
  bad["gpu_busy"] = 1;
  EXPECT_EQ(beat(a, "node-a", bad).body["error"]["field"], "tasks.gpu_busy");
  EXPECT_EQ(Call("GET", "/api/v1/workloads/nb/usage", admin_).body["points"].size(), 1u);
  // A task the agent could not measure (simulated GPUs) records nothing.
  json unmeasured = {{"workload", "nb"}, {"task", 0}, {"attempt", 1}, {"pid", 7}};
  EXPECT_EQ(beat(a, "node-a", unmeasured).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/workloads/nb/usage", admin_).body["points"].size(), 1u);
}

TEST(WorkloadUsage, IdleOnlyWhenEveryTaskIsAndBusyResetsTheClock) {
  WorkloadUsage usage;
  usage.Record("w", "default", 0, 1000, 0, 100);
  usage.Record("w", "default", 1, 1000, 50, 100);
  EXPECT_EQ(usage.IdleSince("w"), 0);  // task 1 is busy
  usage.Record("w", "default", 1, 2000, 0, 100);
  EXPECT_EQ(usage.IdleSince("w"), 2000);  // both idle: since the later one
  usage.Record("w", "default", 0, 3000, 30, 100);
  EXPECT_EQ(usage.IdleSince("w"), 0);
  usage.Record("w", "default", 0, 4000, 0, 100);
  EXPECT_EQ(usage.IdleSince("w"), 4000);  // the clock starts again
  EXPECT_EQ(usage.IdleSince("never-measured"), 0);
  auto summaries = usage.Summaries(3500);
  ASSERT_EQ(summaries.count("w"), 1u);
  EXPECT_EQ(summaries["w"].memory_mib, 200);
  EXPECT_TRUE(usage.Summaries(5000).empty());  // nothing fresh
  // Points older than an hour go.
  usage.Record("w", "default", 0, 2000 + WorkloadUsage::kKeptMs, 0, 100);
  auto points = usage.Points("w");
  EXPECT_EQ(points.size(), 4u);
  EXPECT_EQ(points.front().time_ms, 2000);
  usage.Forget("w");
  EXPECT_TRUE(usage.Points("w").empty());
}

TEST(IdleRule, ProjectsOnlyWithAClearErrorAndExactRoundTrip) {
  auto project = DecodeQueue(
      json{{"name", "p"}, {"department", "d"}, {"idle_interactive", {{"after", "90m"}}}}, true);
  ASSERT_TRUE(project) << project.error().message;
  EXPECT_EQ(project->idle_interactive.after_ms, 90 * 60000);
  EXPECT_EQ(project->idle_interactive.action, wire::IdleAction::kStop);
  EXPECT_EQ(EncodeQueue(*project, true)["idle_interactive"],
            (json{{"after", "90m"}, {"action", "stop"}}));
  auto department =
      DecodeQueue(json{{"name", "d"}, {"idle_interactive", {{"after", "1h"}}}}, false);
  ASSERT_FALSE(department);
  EXPECT_EQ(department.error().field, "idle_interactive");
  auto short_rule = DecodeQueue(
      json{{"name", "p"}, {"department", "d"}, {"idle_interactive", {{"after", "10s"}}}}, true);
  ASSERT_FALSE(short_rule);
  EXPECT_EQ(short_rule.error().field, "idle_interactive.after");
  auto action = DecodeQueue(json{{"name", "p"},
                                 {"department", "d"},
                                 {"idle_interactive", {{"after", "1h"}, {"action", "kill"}}}},
                            true);
  ASSERT_FALSE(action);
  EXPECT_EQ(action.error().field, "idle_interactive.action");
}

}  // namespace
}  // namespace allot::api
