// The gateway's pure parts: which requests it takes, workspace paths,
// credentials and who may open what (api/gateway_access), the tunnel's
// messages and exec frames (tunnel/protocol), the workspace codec
// (wire/workspace) and the Jupyter command (agent/task_plan).
#include <gtest/gtest.h>

#include "agent/task_plan.h"
#include "api/gateway.h"
#include "api/gateway_access.h"
#include "tunnel/protocol.h"
#include "wire/resources.h"

namespace allot {
namespace {

using api::Gateway;
using nlohmann::json;
using tunnel::FrameType;

TEST(GatewayClaims, TakesWorkspacesStreamsAndTheAgentsTunnelOnly) {
  EXPECT_TRUE(Gateway::Claims("/workspaces/p/n/"));
  EXPECT_TRUE(Gateway::Claims("/workspaces/p/n/api/kernels?x=1"));
  EXPECT_TRUE(Gateway::Claims("/api/v1/workloads/nb/exec?command=ls"));
  EXPECT_TRUE(Gateway::Claims("/api/v1/workloads/nb/port-forward?port=22"));
  EXPECT_TRUE(Gateway::Claims("/api/v1/agents/tunnel"));
  EXPECT_TRUE(Gateway::Claims("/api/v1/agents/tunnel/streams/abc"));
  EXPECT_FALSE(Gateway::Claims("/api/v1/workloads"));
  EXPECT_FALSE(Gateway::Claims("/api/v1/workloads/nb"));
  EXPECT_FALSE(Gateway::Claims("/api/v1/workloads/nb/logs"));
  EXPECT_FALSE(Gateway::Claims("/api/v1/workloads//exec"));
  EXPECT_FALSE(Gateway::Claims("/api/v1/agents/register"));
  EXPECT_FALSE(Gateway::Claims("/"));
  EXPECT_FALSE(Gateway::Claims("/workspaces"));
}

TEST(WorkspaceTarget, SplitsProjectAndNameAndTellsABarePath) {
  auto target = api::ParseWorkspaceTarget("/workspaces/vision/nb/tree?dir=a");
  ASSERT_TRUE(target);
  EXPECT_EQ(target->project, "vision");
  EXPECT_EQ(target->name, "nb");
  EXPECT_FALSE(target->bare);
  auto bare = api::ParseWorkspaceTarget("/workspaces/vision/nb?x=1");
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->bare);
  EXPECT_FALSE(api::ParseWorkspaceTarget("/workspaces/vision"));
  EXPECT_FALSE(api::ParseWorkspaceTarget("/workspaces/vision/"));
  EXPECT_FALSE(api::ParseWorkspaceTarget("/workspaces//nb/"));
  EXPECT_FALSE(api::ParseWorkspaceTarget("/api/v1/workloads"));
}

TEST(RequestToken, BearerFirstThenTheSessionCookie) {
  bool from_header = false;
  EXPECT_EQ(api::RequestToken("Bearer allot_a_b", "allot_token=other", from_header), "allot_a_b");
  EXPECT_TRUE(from_header);
  EXPECT_EQ(api::RequestToken("", "x=1; allot_token=allot_c_d; y=2", from_header), "allot_c_d");
  EXPECT_FALSE(from_header);
  EXPECT_EQ(api::RequestToken("Basic abc", "allot_tokens=no; x=allot_token=no", from_header), "");
  EXPECT_EQ(api::RequestToken("", "", from_header), "");
}

TEST(CookieWithoutSession, TheTaskNeverSeesAllotsCookie) {
  EXPECT_EQ(api::CookieWithoutSession("a=1; allot_token=secret; b=2"), "a=1; b=2");
  EXPECT_EQ(api::CookieWithoutSession("allot_token=secret"), "");
  EXPECT_EQ(api::CookieWithoutSession("allot_tokenish=1;_xsrf=2"), "allot_tokenish=1; _xsrf=2");
}

api::User Member(const std::string& name, api::Role role, const std::string& project) {
  api::User user;
  user.name = name;
  user.roles = {api::RoleBinding{role, "", project}};
  return user;
}

TEST(MayOpen, OwnerAdminsAndMembersOfASharedWorkspace) {
  wire::WorkloadResource workload;
  workload.owner = "ada";
  workload.workspace.port = 8888;
  api::Scope scope;
  scope.department = "research";
  scope.project = "vision";
  api::User ada = Member("ada", api::Role::kResearcher, "vision");
  api::User cy = Member("cy", api::Role::kResearcher, "vision");
  api::User viewer = Member("vi", api::Role::kViewer, "vision");
  api::User bob = Member("bob", api::Role::kResearcher, "nlp");
  api::User lead = Member("lead", api::Role::kProjectAdmin, "vision");
  api::User agent;
  agent.name = "agent:1";
  agent.agent = "1";
  EXPECT_TRUE(api::MayOpen(ada, workload, scope));
  EXPECT_TRUE(api::MayOpen(cy, workload, scope));
  EXPECT_FALSE(api::MayOpen(viewer, workload, scope)) << "opening runs code: viewers may not";
  EXPECT_FALSE(api::MayOpen(bob, workload, scope));
  EXPECT_FALSE(api::MayOpen(agent, workload, scope));
  workload.workspace.shared = false;
  EXPECT_TRUE(api::MayOpen(ada, workload, scope));
  EXPECT_FALSE(api::MayOpen(cy, workload, scope));
  EXPECT_TRUE(api::MayOpen(lead, workload, scope));
  workload.workspace = {};  // training: members do not exec into others' tasks
  EXPECT_FALSE(api::MayOpen(cy, workload, scope));
  EXPECT_TRUE(api::MayOpen(lead, workload, scope));
}

TEST(StreamRequest, RoundTripsAndRefusesWhatIsWrong) {
  tunnel::StreamRequest exec;
  exec.id = "abc";
  exec.kind = "exec";
  exec.workload = "nb";
  exec.task = 1;
  exec.attempt = 3;
  exec.command = {"sh", "-c", "echo 'a b'"};
  exec.tty = true;
  exec.rows = 40;
  exec.cols = 120;
  Result<tunnel::StreamRequest> back = tunnel::DecodeStreamRequest(EncodeStreamRequest(exec));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->command, exec.command);
  EXPECT_EQ(back->attempt, 3);
  EXPECT_TRUE(back->tty);
  EXPECT_EQ(back->cols, 120);
  EXPECT_EQ(tunnel::DecodeStreamRequest(
                R"({"id":"a","kind":"connect","workload":"w","task":0,"attempt":1,"port":0})")
                .error()
                .field,
            "port");
  EXPECT_EQ(
      tunnel::DecodeStreamRequest(
          R"({"id":"a","kind":"connect","workload":"w","task":0,"attempt":1,"port":22,"x":1})")
          .error()
          .code,
      "unknown_field");
  EXPECT_FALSE(tunnel::DecodeStreamRequest("not json"));
  EXPECT_FALSE(tunnel::DecodeStreamRequest(
      R"({"id":"a","kind":"ssh","workload":"w","task":0,"attempt":1})"));
}

TEST(ExecFrames, CutFromBytesAsTheyArriveWhateverTheChunks) {
  std::string bytes = tunnel::EncodeFrame(FrameType::kStdout, "hello") +
                      tunnel::EncodeFrame(FrameType::kStdinClosed, "") +
                      tunnel::EncodeFrame(FrameType::kExit, "7");
  tunnel::FrameReader reader;
  std::vector<tunnel::Frame> frames;
  for (char c : bytes) {
    reader.Feed(&c, 1);
    Result<std::optional<tunnel::Frame>> frame = reader.Next();
    ASSERT_TRUE(frame);
    if (*frame) frames.push_back(**frame);
  }
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].payload, "hello");
  EXPECT_EQ(frames[1].type, FrameType::kStdinClosed);
  EXPECT_EQ(frames[2].payload, "7");
  tunnel::FrameReader bad;
  std::string unknown = tunnel::EncodeFrame(FrameType::kStdin, "x");
  unknown[0] = 42;
  bad.Feed(unknown.data(), unknown.size());
  EXPECT_FALSE(bad.Next());
  tunnel::FrameReader huge;
  std::string head =
      tunnel::EncodeFrame(FrameType::kStdin, "").substr(0, 1) + std::string("\x7f\0\0\0", 4);
  huge.Feed(head.data(), head.size());
  EXPECT_FALSE(huge.Next());
  EXPECT_EQ(tunnel::ParseResize("40 120"), std::make_pair(40, 120));
  EXPECT_FALSE(tunnel::ParseResize("40"));
  EXPECT_FALSE(tunnel::ParseResize("0 80"));
}

TEST(WorkspaceCodec, JupyterGetsAPortAndTheRulesHold) {
  json body = {{"name", "nb"},
               {"project", "p"},
               {"kind", "interactive"},
               {"workspace", {{"jupyter", true}}}};
  Result<wire::WorkloadResource> workload = wire::DecodeWorkloadSubmission(body);
  ASSERT_TRUE(workload) << workload.error().message;
  EXPECT_EQ(workload->workspace.port, 8888);
  EXPECT_TRUE(workload->workspace.shared);
  Result<wire::WorkloadResource> stored =
      wire::DecodeStoredWorkload(wire::EncodeWorkload(*workload).dump());
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->workspace, workload->workspace);
  auto refused = [&](json changed) {
    Result<wire::WorkloadResource> decoded = wire::DecodeWorkloadSubmission(changed);
    return decoded ? std::string() : decoded.error().field;
  };
  json training = body;
  training["kind"] = "training";
  EXPECT_EQ(refused(training), "workspace");
  json with_command = body;
  with_command["command"] = {"sleep", "1"};
  EXPECT_EQ(refused(with_command), "command");
  json no_port = body;
  no_port["workspace"] = json::object();
  EXPECT_EQ(refused(no_port), "workspace.port");
  json access = body;
  access["workspace"]["access"] = "everyone";
  EXPECT_EQ(refused(access), "workspace.access");
}

TEST(JupyterCommand, ServesTheGatewayPathWithoutItsOwnToken) {
  std::vector<std::string> command = agent::JupyterCommand("vision", "nb", 8888);
  auto has = [&](const std::string& arg) {
    return std::find(command.begin(), command.end(), arg) != command.end();
  };
  EXPECT_EQ(command.front(), "jupyter-notebook");
  EXPECT_TRUE(has("--port=8888"));
  EXPECT_TRUE(has("--ip=127.0.0.1"));
  EXPECT_TRUE(has("--NotebookApp.base_url=/workspaces/vision/nb/"));
  EXPECT_TRUE(has("--NotebookApp.token="));
}

}  // namespace
}  // namespace allot
