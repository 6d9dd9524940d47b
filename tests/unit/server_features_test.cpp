// The scheduler's features through the server: requests in over HTTP,
// agents registering over HTTP, the scheduling loop's plan out, read back
// over HTTP.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "api/auth.h"
#include "api/http_api.h"
#include "api_client.h"
#include "server/scheduling_loop.h"
#include "store/sqlite_store.h"

namespace allot::api {
namespace {

using nlohmann::json;

class ServerFeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(opened);
    store_ = std::move(opened.value());
    ApiOptions options;
    options.now_ms = [this] { return now_ms_; };
    api_ = std::make_unique<HttpApi>(*store_, options);
    auto port = api_->Bind("127.0.0.1", 0);
    ASSERT_TRUE(port) << port.error().message;
    port_ = *port;
    thread_ = std::thread([this] { api_->Serve(); });
    admin_ = *BootstrapAdmin(*store_, 1000);
    ASSERT_TRUE(BootstrapDefaultProject(*store_));
    loop_ = std::make_unique<server::SchedulingLoop>(*store_, [this] { return now_ms_; });
  }
  void TearDown() override {
    api_->Stop();
    thread_.join();
  }

  using Response = ApiResponse;
  Response Call(const std::string& method, const std::string& path, const std::string& token,
                const json& body = nullptr) {
    return CallApi(port_, method, path, token, body.is_null() ? "" : body.dump());
  }
  // Registers an agent's node as `allot agent --pool POOL --label K=V` does;
  // returns the agent's token.
  std::string Register(const std::string& node, const std::string& gpus, const std::string& pool,
                       const json& labels = json::object()) {
    auto join = Call("POST", "/api/v1/join-tokens", admin_, json{{"uses", 1}});
    EXPECT_EQ(join.status, 201) << join.body.dump();
    json inventory = {{"name", node},           {"cpu", "32"},
                      {"memory", "256Gi"},      {"simulate_gpus", gpus},
                      {"address", "127.0.0.1"}, {"logs_url", "http://127.0.0.1:1"},
                      {"boot_id", "b1"},        {"labels", labels}};
    if (!pool.empty()) inventory["pool"] = pool;
    auto registered =
        Call("POST", "/api/v1/agents/register", join.body["token"].get<std::string>(), inventory);
    EXPECT_EQ(registered.status, 201) << registered.body.dump();
    return registered.body.value("agent_token", "");
  }
  Response Submit(json body) {
    body["project"] = "default";
    if (!body.contains("command")) body["command"] = {"true"};
    return Call("POST", "/api/v1/workloads", admin_, body);
  }
  // A user with one role binding; a token for it.
  std::string UserWith(const std::string& name, const json& role) {
    auto created = Call("POST", "/api/v1/users", admin_, {{"name", name}, {"roles", {role}}});
    EXPECT_EQ(created.status, 201) << created.body.dump();
    return Call("POST", "/api/v1/tokens", admin_, {{"user", name}}).body.value("token", "");
  }
  int Put(const std::string& kind, const json& body, const std::string& token) {
    return Call("POST", "/api/v1/" + kind, token, body).status;
  }
  json Queue(const json& status, const std::string& name) {
    for (const auto& queue : status["queues"]) {
      if (queue["name"] == name) return queue;
    }
    return nullptr;
  }
  json Workload(const std::string& name) {
    return Call("GET", "/api/v1/workloads/" + name, admin_).body;
  }
  void Cycle() {
    auto outcome = loop_->RunCycle();
    ASSERT_TRUE(outcome) << outcome.error().message;
  }

  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<server::SchedulingLoop> loop_;
  std::thread thread_;
  int port_ = 0;
  std::string admin_;
  int64_t now_ms_ = 1'000'000;
};

TEST_F(ServerFeaturesTest, NodePoolsAreTriedInOrderAndThePendingReasonNamesThem) {
  Register("small", "2xA100-80GB", "interactive");
  Register("large", "4xA100-80GB", "training");
  auto first = Submit({{"name", "first"}, {"gpu", "2"}, {"pools", {"interactive", "training"}}});
  ASSERT_EQ(first.status, 201) << first.body.dump();
  EXPECT_EQ(first.body["pools"], json({"interactive", "training"}));
  Cycle();
  ASSERT_EQ(
      Submit({{"name", "second"}, {"gpu", "2"}, {"pools", {"interactive", "training"}}}).status,
      201);
  ASSERT_EQ(Submit({{"name", "elsewhere"}, {"gpu", "1"}, {"pools", {"inference"}}}).status, 201);
  ASSERT_EQ(
      Submit({{"name", "too-big"}, {"gpu", "8"}, {"pools", {"interactive", "training"}}}).status,
      201);
  Cycle();
  EXPECT_EQ(Workload("first")["assignments"][0]["node"], "small");
  EXPECT_EQ(Workload("second")["assignments"][0]["node"], "large");
  EXPECT_EQ(Workload("elsewhere")["status"], "pending");
  EXPECT_NE(Workload("elsewhere")["pending_reason"].get<std::string>().find(
                "outside the pools asked for"),
            std::string::npos)
      << Workload("elsewhere").dump();
  std::string big = Workload("too-big")["pending_reason"];
  EXPECT_NE(big.find("pool 'interactive'"), std::string::npos) << big;
  EXPECT_NE(big.find("pool 'training'"), std::string::npos) << big;
  auto nodes = Call("GET", "/api/v1/nodes", admin_).body["items"];
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0]["pool"], "training");  // "large" sorts first
}

TEST_F(ServerFeaturesTest, ARequiredTopologyKeepsAGangInOneDomainOfTheAgentsLabels) {
  Register("r1-a", "2xH100-80GB", "", {{"rack", "r1"}, {"zone", "z"}});
  Register("r2-a", "2xH100-80GB", "", {{"rack", "r2"}, {"zone", "z"}});
  Register("r2-b", "2xH100-80GB", "", {{"rack", "r2"}, {"zone", "z"}});
  // Rack r1 has room for one worker only: the gang must go to rack r2.
  auto gang = Submit({{"name", "gang"},
                      {"kind", "distributed"},
                      {"workers", 2},
                      {"gpu", "2"},
                      {"topology", {{"required", "rack"}, {"preferred", "zone"}}}});
  ASSERT_EQ(gang.status, 201) << gang.body.dump();
  EXPECT_EQ(gang.body["topology"], json({{"required", "rack"}, {"preferred", "zone"}}));
  Cycle();
  json w = Workload("gang");
  EXPECT_EQ(w["status"], "running") << w.dump();
  std::set<std::string> nodes;
  for (const auto& task : w["assignments"]) nodes.insert(task["node"]);
  EXPECT_EQ(nodes, (std::set<std::string>{"r2-a", "r2-b"}));
  auto bad = Submit({{"name", "bad"}, {"topology", {{"required", "rack"}, {"around", "x"}}}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["field"], "topology.around") << bad.body.dump();
}

TEST_F(ServerFeaturesTest, DynamicFractionsAreScheduledByTheirRequest) {
  Register("n1", "1xA100-80GB", "");
  for (const char* name : {"nb-1", "nb-2"}) {
    auto created = Submit({{"name", name}, {"gpu", "0.5"}, {"gpu_limit", "1"}});
    ASSERT_EQ(created.status, 201) << created.body.dump();
    EXPECT_EQ(created.body["gpu_limit"], "1");
  }
  auto by_memory = Submit({{"name", "nb-3"}, {"gpu_memory", "10Gi"}, {"gpu_memory_limit", "20Gi"}});
  ASSERT_EQ(by_memory.status, 201) << by_memory.body.dump();
  EXPECT_EQ(by_memory.body["gpu_memory_limit"], "20Gi");
  Cycle();
  // Two requests of half the GPU fit on it, whatever their limits.
  EXPECT_EQ(Workload("nb-1")["status"], "running");
  EXPECT_EQ(Workload("nb-2")["status"], "running");
  EXPECT_EQ(Workload("nb-3")["status"], "pending");
  struct Bad {
    json body;
    const char* field;
  };
  for (const Bad& bad :
       {Bad{{{"gpu", "1"}, {"gpu_limit", "2"}}, "gpu_limit"},
        Bad{{{"gpu", "0.5"}, {"gpu_limit", "0.25"}}, "gpu_limit"},
        Bad{{{"gpu", "0.5"}, {"gpu_limit", "1.5"}}, "gpu_limit"},
        Bad{{{"gpu", "0.5"}, {"gpu_memory_limit", "20Gi"}}, "gpu_memory_limit"},
        Bad{{{"gpu_memory", "20Gi"}, {"gpu_memory_limit", "10Gi"}}, "gpu_memory_limit"}}) {
    json body = bad.body;
    body["name"] = "bad";
    auto refused = Submit(body);
    EXPECT_EQ(refused.status, 400) << body.dump();
    EXPECT_EQ(refused.body["error"]["field"], bad.field) << refused.body.dump();
  }
}

TEST_F(ServerFeaturesTest, WorkPastItsMaximumRunTimeIsStoppedWithAReason) {
  std::string agent = Register("n1", "1xA100-80GB", "");
  auto bad = Submit({{"name", "bad"}, {"max_runtime", "soon"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["field"], "max_runtime");
  auto created = Submit({{"name", "capped"}, {"gpu", "1"}, {"max_runtime", "1h30m"}});
  ASSERT_EQ(created.status, 201) << created.body.dump();
  EXPECT_EQ(created.body["max_runtime"], "90m");
  Cycle();
  ASSERT_EQ(Workload("capped")["status"], "running");
  json report = {{"node", "n1"}, {"attempt", 1}, {"state", "running"}, {"time_ms", now_ms_}};
  ASSERT_EQ(Call("PUT", "/api/v1/workloads/capped/tasks/0/status", agent, report).status, 200);
  now_ms_ += 90 * 60 * 1000;  // exactly at the limit: still running
  Cycle();
  EXPECT_EQ(Workload("capped")["status"], "running");
  now_ms_ += 1000;
  Cycle();
  json w = Workload("capped");
  EXPECT_EQ(w["status"], "failed") << w.dump();
  EXPECT_NE(w["reason"].get<std::string>().find("ran past its maximum run time of 90m"),
            std::string::npos)
      << w.dump();
  EXPECT_EQ(w["assignments"][0]["node"], "");  // released: its agent stops it
  auto events = Call("GET", "/api/v1/events?workload=capped", admin_).body["items"];
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["type"], "MaxRuntimeExceeded");
}

TEST_F(ServerFeaturesTest, DeclaredRunTimesBackfillGpusReservedForAStarvingGang) {
  std::string agent = Register("n1", "4xA100-80GB", "");
  ASSERT_EQ(Submit({{"name", "running"}, {"gpu", "2"}, {"max_runtime", "2h"}}).status, 201);
  Cycle();
  json report = {{"node", "n1"}, {"attempt", 1}, {"state", "running"}, {"time_ms", now_ms_}};
  ASSERT_EQ(Call("PUT", "/api/v1/workloads/running/tasks/0/status", agent, report).status, 200);
  // A gang of 2 x 2 GPUs cannot start beside it, and waits past the 30
  // minutes after which GPUs are reserved for it.
  ASSERT_EQ(Submit({{"name", "big"},
                    {"kind", "distributed"},
                    {"workers", 2},
                    {"gpu", "2"},
                    {"priority", 40}})
                .status,
            201);
  Cycle();
  now_ms_ += 44 * 60 * 1000;
  ASSERT_EQ(Submit({{"name", "short"}, {"gpu", "1"}, {"max_runtime", "30m"}}).status, 201);
  ASSERT_EQ(Submit({{"name", "long"}, {"gpu", "1"}, {"max_runtime", "3h"}}).status, 201);
  ASSERT_EQ(Submit({{"name", "unbounded"}, {"gpu", "1"}}).status, 201);
  now_ms_ += 60 * 1000;
  Cycle();
  EXPECT_EQ(Workload("big")["status"], "pending");
  EXPECT_NE(Workload("big")["pending_reason"].get<std::string>().find("reserved"),
            std::string::npos)
      << Workload("big").dump();
  // Ends before the running work frees the rest of what the gang needs.
  EXPECT_EQ(Workload("short")["status"], "running") << Workload("short").dump();
  for (const char* name : {"long", "unbounded"}) {
    json w = Workload(name);
    EXPECT_EQ(w["status"], "pending") << w.dump();
    EXPECT_NE(w["pending_reason"].get<std::string>().find("reserved"), std::string::npos)
        << w.dump();
  }
}

TEST_F(ServerFeaturesTest, QuotaTreesOfAnyDepthAreManagedByTheSubtreesAdmins) {
  ASSERT_EQ(Put("departments", {{"name", "research"}, {"deserved", {{"gpu", 8}}}}, admin_), 201);
  ASSERT_EQ(Put("departments",
                {{"name", "vision"}, {"parent", "research"}, {"deserved", {{"gpu", 4}}}}, admin_),
            201);
  ASSERT_EQ(
      Put("projects", {{"name", "detection"}, {"department", "vision"}, {"deserved", {{"gpu", 2}}}},
          admin_),
      201);
  EXPECT_EQ(Call("GET", "/api/v1/departments/vision", admin_).body["parent"], "research");
  std::string lead = UserWith("lead", {{"role", "department-admin"}, {"department", "research"}});
  // Inside research, at any depth: allowed.
  EXPECT_EQ(
      Put("departments", {{"name", "seg"}, {"parent", "vision"}, {"deserved", {{"gpu", 1}}}}, lead),
      201);
  EXPECT_EQ(Call("PUT", "/api/v1/projects/detection", lead,
                 {{"name", "detection"}, {"department", "vision"}, {"deserved", {{"gpu", 3}}}})
                .status,
            200);
  // Research itself, and the top of the tree, are the admins'.
  EXPECT_EQ(Call("PUT", "/api/v1/departments/research", lead,
                 {{"name", "research"}, {"deserved", {{"gpu", 16}}}})
                .status,
            403);
  EXPECT_EQ(Put("departments", {{"name", "other"}, {"deserved", {{"gpu", 1}}}}, lead), 403);
  // Nothing moves below itself, and children fit in their parents.
  auto cycle = Call("PUT", "/api/v1/departments/research", admin_,
                    {{"name", "research"}, {"parent", "seg"}, {"deserved", {{"gpu", 8}}}});
  EXPECT_EQ(cycle.status, 400) << cycle.body.dump();
  EXPECT_EQ(cycle.body["error"]["field"], "parent");
  EXPECT_EQ(
      Put("departments", {{"name", "big"}, {"parent", "vision"}, {"deserved", {{"gpu", 9}}}}, lead),
      400);
  EXPECT_EQ(Put("departments", {{"name", "lost"}, {"parent", "nowhere"}}, admin_), 404);
  EXPECT_EQ(Call("DELETE", "/api/v1/departments/vision", admin_).status, 409);
  // A viewer of research sees work deep inside it; the loop rolls it up.
  Register("n1", "4xA100-80GB", "");
  ASSERT_EQ(Call("POST", "/api/v1/workloads", admin_,
                 {{"name", "deep"}, {"project", "detection"}, {"gpu", "1"}, {"command", {"true"}}})
                .status,
            201);
  Cycle();
  std::string viewer = UserWith("watcher", {{"role", "viewer"}, {"department", "research"}});
  EXPECT_EQ(Call("GET", "/api/v1/workloads/deep", viewer).status, 200);
  json status = Call("GET", "/api/v1/cluster", admin_).body;
  EXPECT_EQ(Queue(status, "research")["allocated"], 1.0) << status.dump();
  EXPECT_EQ(Queue(status, "vision")["allocated"], 1.0);
  EXPECT_EQ(Queue(status, "vision")["parent"], "research");
}

TEST_F(ServerFeaturesTest, DeservedGpusPerModelHoldThroughTheServer) {
  Register("h", "2xH100-80GB", "");
  Register("a", "2xA100-80GB", "");
  ASSERT_EQ(
      Put("departments",
          {{"name", "llm"}, {"deserved", {{"gpu_models", {{"H100-80GB", 2}, {"A100-80GB", "2"}}}}}},
          admin_),
      201);
  auto project = Call("POST", "/api/v1/projects", admin_,
                      {{"name", "chat"},
                       {"department", "llm"},
                       {"deserved", {{"gpu_models", {{"H100-80GB", 3}}}}}});
  EXPECT_EQ(project.status, 400) << "the department deserves only 2 H100-80GB";
  project = Call("POST", "/api/v1/projects", admin_,
                 {{"name", "chat"},
                  {"department", "llm"},
                  {"deserved", {{"gpu_models", {{"H100-80GB", 1}, {"A100-80GB", 1}}}}}});
  ASSERT_EQ(project.status, 201) << project.body.dump();
  EXPECT_EQ(project.body["deserved"]["gpu"], "2");  // the models' sum
  EXPECT_EQ(project.body["deserved"]["gpu_models"], json({{"A100-80GB", "1"}, {"H100-80GB", "1"}}));
  auto bad = Call("POST", "/api/v1/projects", admin_,
                  {{"name", "bad"},
                   {"department", "llm"},
                   {"deserved", {{"gpu_models", {{"H100-80GB", "lots"}}}}}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["field"], "deserved.gpu_models.H100-80GB");
  // Non-preemptible work stays within the deserved GPUs of each model: one
  // replica per model, whatever is free.
  ASSERT_EQ(Call("POST", "/api/v1/workloads", admin_,
                 {{"name", "serve"},
                  {"project", "chat"},
                  {"kind", "inference"},
                  {"workers", 2},
                  {"gpu", "1"},
                  {"command", {"true"}}})
                .status,
            201);
  Cycle();
  json w = Workload("serve");
  ASSERT_EQ(w["status"], "running") << w.dump();
  std::set<std::string> nodes;
  for (const auto& task : w["assignments"]) nodes.insert(task["node"]);
  EXPECT_EQ(nodes, (std::set<std::string>{"a", "h"}));
  json status = Call("GET", "/api/v1/cluster", admin_).body;
  json chat = Queue(status, "chat")["gpu_models"];
  EXPECT_EQ(chat["H100-80GB"]["deserved"], 1.0) << status.dump();
  EXPECT_EQ(chat["H100-80GB"]["allocated"], 1.0);
  EXPECT_EQ(chat["A100-80GB"]["allocated"], 1.0);
  EXPECT_EQ(Queue(status, "llm")["gpu_models"]["H100-80GB"]["allocated"], 1.0);
  // A limit per model holds preemptible work too.
  auto limited = Call("PUT", "/api/v1/projects/chat", admin_,
                      {{"name", "chat"},
                       {"department", "llm"},
                       {"deserved", {{"gpu_models", {{"H100-80GB", 1}, {"A100-80GB", 1}}}}},
                       {"limit", {{"gpu_models", {{"H100-80GB", 1}}}}}});
  ASSERT_EQ(limited.status, 200) << limited.body.dump();
  EXPECT_EQ(limited.body["limit"], json({{"gpu_models", {{"H100-80GB", "1"}}}}));
  auto below = Call("PUT", "/api/v1/projects/chat", admin_,
                    {{"name", "chat"},
                     {"department", "llm"},
                     {"deserved", {{"gpu_models", {{"H100-80GB", 1}}}}},
                     {"limit", {{"gpu_models", {{"H100-80GB", 0}}}}}});
  EXPECT_EQ(below.status, 400) << "a limit below deserved";
  ASSERT_EQ(Call("POST", "/api/v1/workloads", admin_,
                 {{"name", "more-h100"},
                  {"project", "chat"},
                  {"gpu", "1"},
                  {"gpu_models", {"H100-80GB"}},
                  {"command", {"true"}}})
                .status,
            201);
  Cycle();
  json more = Workload("more-h100");
  EXPECT_EQ(more["status"], "pending") << more.dump();
  EXPECT_NE(more["pending_reason"].get<std::string>().find(
                "queue 'chat' is at its limit of 1 H100-80GB GPUs"),
            std::string::npos)
      << more.dump();
}

}  // namespace
}  // namespace allot::api
