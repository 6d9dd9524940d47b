// Isolation (docs/isolation.md): the wire forms of images, volumes and
// identities, who a task runs as (server and agent), the OCI configuration
// of a container task, and the server's rules over HTTP.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "agent/oci_bundle.h"
#include "agent/task_identity.h"
#include "api/http_api.h"
#include "api/run_as.h"
#include "api_client.h"
#include "store/sqlite_store.h"
#include "wire/isolation.h"
#include "wire/resources.h"

namespace allot {
namespace {

using nlohmann::json;

TEST(VolumeTest, ParsesHostTaskAndReadOnly) {
  auto volume = wire::ParseVolume("/data//vision/:/data:ro");
  ASSERT_TRUE(volume) << volume.error().message;
  EXPECT_EQ(volume->host, "/data/vision");
  EXPECT_EQ(volume->task, "/data");
  EXPECT_TRUE(volume->read_only);
  EXPECT_EQ(wire::FormatVolume(*volume), "/data/vision:/data:ro");
  EXPECT_FALSE(wire::ParseVolume("/a:/b")->read_only);
}

TEST(VolumeTest, RefusesWhatCouldEscapeOrIsMalformed) {
  for (const char* text : {"data:/data", "/data:data", "/data/../etc:/x", "/data:/x:rx", "/data",
                           "/a:/b:ro:x", "/data:/"}) {
    auto volume = wire::ParseVolume(text);
    ASSERT_FALSE(volume) << text;
    EXPECT_EQ(volume.error().field, "volumes") << text;
  }
}

TEST(VolumeTest, AllowedOnlyUnderAGrantedPath) {
  wire::ProjectPolicy policy;
  policy.allowed_paths = {"/data/vision"};
  auto inside = *wire::ParseVolume("/data/vision/set:/d");
  auto beside = *wire::ParseVolume("/data/visionary:/d");
  EXPECT_TRUE(wire::CheckVolumesAllowed({inside}, policy, "vision"));
  auto refused = wire::CheckVolumesAllowed({inside, beside}, policy, "vision");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "forbidden");
  EXPECT_NE(refused.error().message.find("--allow-path /data/visionary"), std::string::npos);
  EXPECT_TRUE(wire::PathWithin("/a/b", "/a"));
  EXPECT_FALSE(wire::PathWithin("/ab", "/a"));
}

TEST(ImageTest, AcceptsReferencesAndRefusesOthers) {
  for (const char* ok : {"localhost/trainer:1", "busybox", "registry.example.com:5000/team/m:v2",
                         "r.io/a/b@sha256:0123abcd"}) {
    EXPECT_TRUE(wire::CheckImageName(ok)) << ok;
  }
  for (const char* bad : {"", "-x", "/abs", "a b", "Team/Model", "a;rm"}) {
    auto checked = wire::CheckImageName(bad);
    ASSERT_FALSE(checked) << bad;
    EXPECT_EQ(checked.error().field, "image");
  }
}

json Submission(json extra) {
  json body = {{"name", "w"}, {"project", "p"}, {"command", {"true"}}};
  body.update(extra);
  return body;
}

TEST(TaskRuntimeTest, ASubmitterNamesImageVolumesAndRootButNeverTheIdentity) {
  auto workload = wire::DecodeWorkloadSubmission(Submission({{"image", "localhost/x:1"},
                                                             {"volumes", {"/d:/d:ro"}},
                                                             {"shm_size", "1Gi"},
                                                             {"run_as_root", true}}));
  ASSERT_TRUE(workload) << workload.error().message;
  EXPECT_EQ(workload->runtime.image, "localhost/x:1");
  EXPECT_EQ(workload->runtime.shm_mib, 1024);
  EXPECT_TRUE(workload->runtime.run_as_root);
  auto chosen = wire::DecodeWorkloadSubmission(Submission({{"run_as", {{"uid", 0}}}}));
  ASSERT_FALSE(chosen);
  EXPECT_EQ(chosen.error().field, "run_as");
  auto host_volume = wire::DecodeWorkloadSubmission(Submission({{"volumes", {"/d:/d"}}}));
  ASSERT_FALSE(host_volume);
  EXPECT_NE(host_volume.error().message.find("give image"), std::string::npos);
}

TEST(TaskRuntimeTest, TheStoredFormKeepsTheIdentity) {
  auto workload = wire::DecodeWorkloadSubmission(
      Submission({{"image", "localhost/x:1"}, {"volumes", {"/d:/e"}}}));
  ASSERT_TRUE(workload);
  workload->runtime.run_as = {2001, 2002, {44}};
  auto stored = wire::DecodeStoredWorkload(wire::EncodeWorkload(*workload).dump());
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->runtime, workload->runtime);
}

TEST(RunAsTest, OwnIdentityThenProjectDefaultThenAssigned) {
  api::User user;
  user.name = "ada";
  user.assigned_identity = {200001, 200001, {}};
  wire::ProjectPolicy policy;
  EXPECT_EQ(api::ResolveRunAs(user, policy, "p", false)->uid, 200001);
  policy.default_identity = {4100, 4200, {}};
  EXPECT_EQ(api::ResolveRunAs(user, policy, "p", false)->gid, 4200);
  user.identity = {2001, 2001, {3100}};
  EXPECT_EQ(api::ResolveRunAs(user, policy, "p", false)->groups, std::vector<int64_t>{3100});
}

TEST(RunAsTest, RootOnlyWhereTheProjectAllowsIt) {
  api::User user;
  user.name = "ada";
  user.identity = {0, 0, {}};
  wire::ProjectPolicy policy;
  auto refused = api::ResolveRunAs(user, policy, "vision", false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "forbidden");
  EXPECT_NE(refused.error().message.find("allot quota set vision --allow-root"), std::string::npos);
  EXPECT_FALSE(api::ResolveRunAs(user, policy, "vision", true));
  policy.allow_root = true;
  EXPECT_EQ(api::ResolveRunAs(user, policy, "vision", true)->uid, 0);
}

TEST(TaskIdentityTest, ARootAgentRunsTheServersIdentityNeverUngrantedRoot) {
  auto identity =
      agent::TaskIdentityFor({{"run_as", {{"uid", 2001}, {"gid", 2002}, {"groups", {44}}}}}, 0);
  ASSERT_TRUE(identity);
  EXPECT_TRUE(identity->switch_user);
  EXPECT_EQ(identity->uid, 2001u);
  EXPECT_EQ(identity->gid, 2002u);
  EXPECT_EQ(identity->groups, std::vector<gid_t>{44});
  EXPECT_FALSE(agent::TaskIdentityFor({{"run_as", {{"uid", 0}, {"gid", 0}}}}, 0));
  EXPECT_TRUE(
      agent::TaskIdentityFor({{"run_as", {{"uid", 0}, {"gid", 0}}}, {"run_as_root", true}}, 0));
  EXPECT_EQ(agent::TaskIdentityFor(json::object(), 0)->uid, 65534u);  // nobody
}

TEST(TaskIdentityTest, AnAgentThatIsNotRootRunsTasksAsItself) {
  auto identity = agent::TaskIdentityFor({{"run_as", {{"uid", 2001}}}}, 1000);
  ASSERT_TRUE(identity);
  EXPECT_FALSE(identity->switch_user);
  EXPECT_EQ(identity->uid, 1000u);
  EXPECT_FALSE(agent::TaskIdentityFor({{"run_as_root", true}}, 1000));
}

TEST(OciConfigTest, TheContainerRunsAsItsIdentityWithOnlyItsDevicesAndLimits) {
  agent::ContainerInputs in;
  in.image.cmd = {"/bin/sh"};
  in.image.working_dir = "";
  in.env = agent::MergeEnvironment({"PATH=/bin", "A=image"}, {"A=task", "B=1"});
  in.identity.switch_user = true;
  in.identity.uid = 2001;
  in.identity.gid = 2002;
  in.identity.groups = {44};
  in.rootfs = "/t/bundle/rootfs";
  in.home = "/home/ada";
  in.memory_mib = 512;
  in.cpu_milli = 1500;
  in.shm_mib = 8;
  in.devices = {{"/dev/nvidia3", 195, 3}};
  in.binds = {{"/data/vision", "/data", true}};
  json config = agent::OciConfig(in);
  const json& process = config["process"];
  EXPECT_EQ(process["user"]["uid"], 2001);
  EXPECT_EQ(process["user"]["additionalGids"], json({44}));
  EXPECT_EQ(process["args"], json({"/bin/sh"}));
  EXPECT_EQ(process["env"], json({"PATH=/bin", "A=task", "B=1"}));
  EXPECT_EQ(process["cwd"], "/home/ada");
  EXPECT_TRUE(process["noNewPrivileges"].get<bool>());
  EXPECT_TRUE(process["capabilities"]["effective"].empty());
  const json& linux = config["linux"];
  EXPECT_EQ(linux["resources"]["memory"]["limit"], 512LL * 1024 * 1024);
  EXPECT_EQ(linux["resources"]["cpu"]["quota"], 150000);
  EXPECT_EQ(linux["devices"].size(), 1u);
  EXPECT_EQ(linux["devices"][0]["path"], "/dev/nvidia3");
  bool network_namespace = false;
  for (const json& ns : linux["namespaces"]) network_namespace |= ns["type"] == "network";
  EXPECT_FALSE(network_namespace) << "containers share the node's network";
  bool shm = false, volume = false;
  for (const json& mount : config["mounts"]) {
    if (mount["destination"] == "/dev/shm") {
      shm = std::find(mount["options"].begin(), mount["options"].end(), "size=8388608") !=
            mount["options"].end();
    }
    if (mount["destination"] == "/data") {
      volume = mount["source"] == "/data/vision" &&
               std::find(mount["options"].begin(), mount["options"].end(), "ro") !=
                   mount["options"].end();
    }
  }
  EXPECT_TRUE(shm) << config["mounts"].dump();
  EXPECT_TRUE(volume) << config["mounts"].dump();
}

TEST(OciConfigTest, GrantedRootKeepsTheRuntimesDefaultCapabilities) {
  agent::ContainerInputs in;
  in.command = {"id"};
  in.identity.uid = 0;
  json config = agent::OciConfig(in);
  EXPECT_FALSE(config["process"]["capabilities"]["effective"].empty());
  EXPECT_EQ(config["process"]["args"], json({"id"}));
}

// The server's rules over HTTP: who a submission runs as, refused
// volumes and root, who may change a project's host grants.
class IsolationApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(opened);
    store_ = std::move(opened.value());
    api_ = std::make_unique<api::HttpApi>(*store_, api::ApiOptions{});
    auto port = api_->Bind("127.0.0.1", 0);
    ASSERT_TRUE(port);
    port_ = *port;
    thread_ = std::thread([this] { api_->Serve(); });
    admin_ = *api::BootstrapAdmin(*store_, 1000);
    ASSERT_TRUE(api::BootstrapDefaultProject(*store_));
  }
  void TearDown() override {
    api_->Stop();
    thread_.join();
  }
  ApiResponse Call(const std::string& method, const std::string& path, const std::string& token,
                   const json& body = nullptr) {
    return CallApi(port_, method, path, token, body.is_null() ? "" : body.dump());
  }
  std::string UserWith(const std::string& name, const json& role, const json& extra = {}) {
    json body = {{"name", name}, {"roles", {role}}};
    if (!extra.is_null()) body.update(extra);
    auto created = Call("POST", "/api/v1/users", admin_, body);
    EXPECT_EQ(created.status, 201) << created.body.dump();
    return Call("POST", "/api/v1/tokens", admin_, {{"user", name}}).body.value("token", "");
  }
  json Project() { return Call("GET", "/api/v1/projects/default", admin_).body; }
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<api::HttpApi> api_;
  std::thread thread_;
  int port_ = 0;
  std::string admin_;
};

TEST_F(IsolationApiTest, EveryUserGetsItsOwnUidAndItsWorkRunsAsIt) {
  std::string ada = UserWith("ada", {{"role", "researcher"}, {"project", "default"}});
  std::string bob = UserWith("bob", {{"role", "researcher"}, {"project", "default"}});
  auto a = Call("POST", "/api/v1/workloads", ada,
                {{"name", "a"}, {"project", "default"}, {"command", {"id"}}});
  auto b = Call("POST", "/api/v1/workloads", bob,
                {{"name", "b"}, {"project", "default"}, {"command", {"id"}}});
  ASSERT_EQ(a.status, 201) << a.body.dump();
  ASSERT_EQ(b.status, 201) << b.body.dump();
  int64_t uid_a = a.body["run_as"]["uid"], uid_b = b.body["run_as"]["uid"];
  EXPECT_GE(uid_a, wire::kAutoUidFirst);
  EXPECT_NE(uid_a, uid_b);
  EXPECT_EQ(a.body["run_as"]["gid"], uid_a);
  // A deleted user's uid is never handed out again.
  ASSERT_EQ(Call("DELETE", "/api/v1/users/bob", admin_).status, 200);
  auto carl = Call("POST", "/api/v1/users", admin_, {{"name", "carl"}, {"roles", json::array()}});
  ASSERT_EQ(carl.status, 201) << carl.body.dump();
  EXPECT_GT(carl.body["assigned_identity"]["uid"].get<int64_t>(), std::max(uid_a, uid_b));
}

TEST_F(IsolationApiTest, RefusedRootAndVolumesChangeNothing) {
  std::string ada = UserWith("ada", {{"role", "researcher"}, {"project", "default"}});
  auto root =
      Call("POST", "/api/v1/workloads", ada,
           {{"name", "r"}, {"project", "default"}, {"command", {"id"}}, {"run_as_root", true}});
  EXPECT_EQ(root.status, 403) << root.body.dump();
  auto volume = Call("POST", "/api/v1/workloads", ada,
                     {{"name", "v"},
                      {"project", "default"},
                      {"command", {"id"}},
                      {"image", "localhost/x:1"},
                      {"volumes", {"/etc:/etc2"}}});
  EXPECT_EQ(volume.status, 403) << volume.body.dump();
  EXPECT_EQ(volume.body["error"]["field"], "volumes");
  EXPECT_TRUE(Call("GET", "/api/v1/workloads", admin_).body["items"].empty());
}

TEST_F(IsolationApiTest, OnlyAdminsChangeAProjectsHostGrants) {
  std::string dee = UserWith("dee", {{"role", "department-admin"}, {"department", "default"}});
  json project = Project();
  project.erase("revision");
  json granted = project;
  granted["allow_root"] = true;
  EXPECT_EQ(Call("PUT", "/api/v1/projects/default", dee, granted).status, 403);
  json paths = project;
  paths["allowed_paths"] = {"/data"};
  EXPECT_EQ(Call("PUT", "/api/v1/projects/default", dee, paths).status, 403);
  json weight = project;
  weight["over_quota_weight"] = 3;
  EXPECT_EQ(Call("PUT", "/api/v1/projects/default", dee, weight).status, 200);
  paths["over_quota_weight"] = 3;
  auto by_admin = Call("PUT", "/api/v1/projects/default", admin_, paths);
  EXPECT_EQ(by_admin.status, 200) << by_admin.body.dump();
  EXPECT_EQ(Project()["allowed_paths"], json({"/data"}));
  // The grant stays when a department admin changes the quota around it.
  json kept = Project();
  kept.erase("revision");
  kept["over_quota_weight"] = 4;
  EXPECT_EQ(Call("PUT", "/api/v1/projects/default", dee, kept).status, 200);
  auto ro = Call("POST", "/api/v1/users", dee,
                 {{"name", "eve"},
                  {"roles", {{{"role", "researcher"}, {"project", "default"}}}},
                  {"identity", {{"uid", 0}}}});
  EXPECT_EQ(ro.status, 403) << ro.body.dump();
}

TEST_F(IsolationApiTest, ARevokedTokenStopsAtOnce) {
  auto token = Call("POST", "/api/v1/tokens", admin_, json::object());
  ASSERT_EQ(token.status, 201);
  std::string second = token.body["token"];
  EXPECT_EQ(Call("GET", "/api/v1/whoami", second).status, 200);
  auto listed = Call("GET", "/api/v1/tokens", second);
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.body["items"].size(), 2u);
  for (const json& item : listed.body["items"]) EXPECT_FALSE(item.contains("secret_hash"));
  EXPECT_EQ(Call("DELETE", "/api/v1/tokens/" + token.body["id"].get<std::string>(), admin_).status,
            200);
  EXPECT_EQ(Call("GET", "/api/v1/whoami", second).status, 401);
  EXPECT_EQ(Call("GET", "/api/v1/whoami", admin_).status, 200);
}

}  // namespace
}  // namespace allot
