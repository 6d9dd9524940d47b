// The agent's pure parts: what a node runs (task plans and the injected
// environment) and what the server makes of task reports.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "agent/task_plan.h"
#include "agent/task_usage.h"
#include "cuda/gpu_board.h"
#include "server/task_lifecycle.h"
#include "wire/resources.h"

namespace allot::agent {
namespace {

using nlohmann::json;

wire::WorkloadResource Workload(const std::string& kind, int workers, const std::string& gpu) {
  auto w = wire::DecodeWorkloadSubmission(json{{"name", "job"},
                                               {"project", "p"},
                                               {"kind", kind},
                                               {"workers", workers},
                                               {"gpu", gpu},
                                               {"env", {{"USER_VAR", "x"}}},
                                               {"command", {"train.py"}}});
  EXPECT_TRUE(w) << w.error().message;
  w->status = wire::WorkloadStatus::kRunning;
  return *w;
}

std::map<std::string, PeerNode> Peers() {
  std::map<std::string, PeerNode> peers;
  for (const char* name : {"a", "b"}) {
    PeerNode peer;
    peer.address = std::string("10.0.0.") + (name[0] == 'a' ? "1" : "2");
    for (int i = 0; i < 4; ++i) {
      peer.gpus.push_back({i, std::string("GPU-") + name + std::to_string(i), "H100", 81920});
    }
    peers[name] = peer;
  }
  return peers;
}

TEST(TaskPlan, DistributedWorkersGetTorchrunVariablesAndAHostfile) {
  wire::WorkloadResource w = Workload("distributed", 3, "1");
  wire::BindTask(w.assignments[0], "a", {2});
  wire::BindTask(w.assignments[1], "b", {0});
  wire::BindTask(w.assignments[2], "a", {3});
  std::vector<LaunchSpec> on_a = TasksForNode(w, "a", Peers());
  ASSERT_EQ(on_a.size(), 2u);
  const auto& first = on_a[0].env;
  EXPECT_EQ(first.at("MASTER_ADDR"), "10.0.0.1");
  EXPECT_EQ(first.at("MASTER_PORT"), std::to_string(MasterPort("job")));
  EXPECT_EQ(first.at("WORLD_SIZE"), "3");
  EXPECT_EQ(first.at("RANK"), "0");
  EXPECT_EQ(first.at("LOCAL_RANK"), "0");
  EXPECT_EQ(first.at("NODE_RANK"), "0");
  EXPECT_EQ(first.at("CUDA_VISIBLE_DEVICES"), "GPU-a2");
  EXPECT_EQ(first.at("USER_VAR"), "x");
  EXPECT_EQ(on_a[1].env.at("RANK"), "2");
  EXPECT_EQ(on_a[1].env.at("LOCAL_RANK"), "1");
  EXPECT_EQ(on_a[1].env.at("LOCAL_WORLD_SIZE"), "2");
  EXPECT_EQ(on_a[0].hostfile, "10.0.0.1 slots=2\n10.0.0.2 slots=1\n");
  EXPECT_EQ(on_a[0].Key(), "job.0.1");
  std::vector<LaunchSpec> on_b = TasksForNode(w, "b", Peers());
  ASSERT_EQ(on_b.size(), 1u);
  EXPECT_EQ(on_b[0].env.at("RANK"), "1");
  EXPECT_EQ(on_b[0].env.at("NODE_RANK"), "1");
  EXPECT_EQ(on_b[0].env.at("MASTER_ADDR"), "10.0.0.1");
}

TEST(TaskPlan, FractionsGetTheInterposerLimits) {
  wire::WorkloadResource w = Workload("interactive", 1, "0.25");
  wire::BindTask(w.assignments[0], "b", {1});
  std::vector<LaunchSpec> tasks = TasksForNode(w, "b", Peers());
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].env.at("ALLOT_GPU_COMPUTE_SHARE"), "25");
  EXPECT_EQ(tasks[0].env.at("ALLOT_GPU_MEMORY_LIMIT"), std::to_string(20480LL * 1024 * 1024));
  EXPECT_EQ(tasks[0].env.at("ALLOT_GPU_SHARE_MODE"), "fair");
  EXPECT_EQ(tasks[0].env.count("RANK"), 0u);  // one task: no rendezvous
  EXPECT_EQ(tasks[0].gpu_uuids, std::vector<std::string>{"GPU-b1"});
}

TEST(TaskPlan, ADynamicFractionGetsItsRequestAndItsLimit) {
  wire::WorkloadResource w = Workload("interactive", 1, "0.25");
  w.gpu_milli_limit = 500;
  wire::BindTask(w.assignments[0], "b", {1});
  std::vector<LaunchSpec> tasks = TasksForNode(w, "b", Peers());
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].env.at("ALLOT_GPU_MEMORY_REQUEST"), std::to_string(20480LL * 1024 * 1024));
  EXPECT_EQ(tasks[0].env.at("ALLOT_GPU_MEMORY_LIMIT"), std::to_string(40960LL * 1024 * 1024));
  EXPECT_EQ(tasks[0].env.at("ALLOT_GPU_COMPUTE_SHARE"), "25") << "compute: the request, fair";
}

TEST(TaskPlan, NothingUnlessRunningHereAndKnown) {
  wire::WorkloadResource w = Workload("training", 1, "1");
  wire::BindTask(w.assignments[0], "a", {0});
  EXPECT_TRUE(TasksForNode(w, "b", Peers()).empty());
  w.status = wire::WorkloadStatus::kEvicted;
  EXPECT_TRUE(TasksForNode(w, "a", Peers()).empty());
  w.status = wire::WorkloadStatus::kRunning;
  wire::BindTask(w.assignments[0], "c", {0});
  std::string missing;
  EXPECT_TRUE(TasksForNode(w, "c", Peers(), &missing).empty());
  EXPECT_EQ(missing, "c");
}

wire::TaskReport Report(const std::string& node, int attempt, const std::string& state,
                        int exit_code = 0) {
  wire::TaskReport report;
  report.node = node;
  report.attempt = attempt;
  report.state = *wire::ParseTaskState(state);
  report.exit_code = exit_code;
  report.reason = state == "failed_to_start" ? "python3: No such file or directory" : "";
  return report;
}

TEST(TaskReports, StaleAttemptsChangeNothing) {
  wire::WorkloadResource w = Workload("training", 1, "1");
  wire::BindTask(w.assignments[0], "a", {0});
  wire::BindTask(w.assignments[0], "b", {0});  // moved: attempt 2 on b
  auto stale = server::ApplyTaskReport(w, 0, Report("a", 1, "exited", 1), 5000, 10000);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, "conflict");
  EXPECT_EQ(w.assignments[0].state, wire::TaskState::kNone);
  EXPECT_FALSE(server::ApplyTaskReport(w, 1, Report("b", 2, "running"), 5000, 10000));
}

TEST(TaskReports, AllTasksExitingZeroSucceedsAndReleases) {
  wire::WorkloadResource w = Workload("distributed", 2, "1");
  wire::BindTask(w.assignments[0], "a", {0});
  wire::BindTask(w.assignments[1], "b", {0});
  auto running = server::ApplyTaskReport(w, 0, Report("a", 1, "running"), 1000, 10000);
  ASSERT_TRUE(running);
  EXPECT_TRUE(running->changed);
  ASSERT_TRUE(server::ApplyTaskReport(w, 0, Report("a", 1, "exited", 0), 2000, 10000));
  EXPECT_EQ(w.status, wire::WorkloadStatus::kRunning);
  auto repeated = server::ApplyTaskReport(w, 0, Report("a", 1, "exited", 0), 2000, 10000);
  ASSERT_TRUE(repeated);
  EXPECT_FALSE(repeated->changed);
  ASSERT_TRUE(server::ApplyTaskReport(w, 1, Report("b", 1, "exited", 0), 3000, 10000));
  EXPECT_EQ(w.status, wire::WorkloadStatus::kSucceeded);
  EXPECT_EQ(w.assignments[1].node, "");
  EXPECT_EQ(w.assignments[1].previous_node, "b");  // its logs stay findable
}

TEST(TaskReports, TrainingRestartsWithBackoffThenFails) {
  wire::WorkloadResource w = Workload("training", 1, "1");
  w.max_restarts = 2;
  wire::BindTask(w.assignments[0], "a", {0});
  ASSERT_TRUE(server::ApplyTaskReport(w, 0, Report("a", 1, "exited", 1), 1000, 10000));
  EXPECT_EQ(w.assignments[0].attempt, 2);
  EXPECT_EQ(w.assignments[0].state, wire::TaskState::kWaiting);
  EXPECT_EQ(w.assignments[0].not_before_ms, 11000);
  ASSERT_TRUE(server::ApplyTaskReport(w, 0, Report("a", 2, "killed"), 20000, 10000));
  EXPECT_EQ(w.assignments[0].not_before_ms, 40000);  // doubled
  auto last = server::ApplyTaskReport(w, 0, Report("a", 3, "exited", 2), 50000, 10000);
  ASSERT_TRUE(last);
  EXPECT_EQ(w.status, wire::WorkloadStatus::kFailed);
  EXPECT_NE(w.reason.find("after 2 restarts"), std::string::npos) << w.reason;
}

TEST(TaskReports, AMissingCommandFailsAtOnceAndInteractiveIsNotRestarted) {
  wire::WorkloadResource training = Workload("training", 1, "1");
  wire::BindTask(training.assignments[0], "a", {0});
  ASSERT_TRUE(server::ApplyTaskReport(training, 0, Report("a", 1, "failed_to_start"), 1000, 10000));
  EXPECT_EQ(training.status, wire::WorkloadStatus::kFailed);
  EXPECT_NE(training.reason.find("No such file"), std::string::npos);
  wire::WorkloadResource notebook = Workload("interactive", 1, "1");
  wire::BindTask(notebook.assignments[0], "a", {0});
  ASSERT_TRUE(server::ApplyTaskReport(notebook, 0, Report("a", 1, "lost"), 1000, 10000));
  EXPECT_EQ(notebook.status, wire::WorkloadStatus::kLost);
}

TEST(TaskReports, DecodingNamesTheField) {
  auto bad = wire::DecodeTaskReport(json{{"node", "a"}, {"attempt", 1}, {"state", "done"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "state");
  auto no_reason =
      wire::DecodeTaskReport(json{{"node", "a"}, {"attempt", 1}, {"state", "failed_to_start"}});
  ASSERT_FALSE(no_reason);
  EXPECT_EQ(no_reason.error().field, "reason");
}

TEST(TaskUsage, WholeGpusFromNvmlFractionsFromTheirTenantsLedger) {
  auto dir = std::filesystem::temp_directory_path() / ("allot-usage-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto board = cuda::GpuBoard::Open("GPU-f", dir.string());
  ASSERT_TRUE(board) << board.error().message;
  cuda::GpuLimits limits;
  limits.tenant = "nb/0/1";
  limits.memory_limit = limits.memory_request = 1 << 30;
  int self = getpid();
  auto slot = (*board)->Join(limits, self, ProcessStartTime(self));
  ASSERT_TRUE(slot);
  ASSERT_TRUE((*board)->Reserve(*slot, 2 << 20));
  limits.tenant = "other/0/1";  // another task's time is not this one's
  auto other = (*board)->Join(limits, self, ProcessStartTime(self));
  ASSERT_TRUE(other);
  (*board)->layout().processes[*other].gpu_ns.fetch_add(900'000'000);

  TaskUsageMeter meter(dir.string());
  std::vector<GpuUsage> nvml = {{0, "GPU-a", 1000, 40}, {1, "GPU-b", 3000, 80}};
  std::vector<RunningTask> tasks = {
      {"train", 0, 1, 11, {"GPU-a", "GPU-b"}, "", true},
      {"nb", 0, 1, 12, {"GPU-f"}, "nb/0/1", true},
      {"lost-gpu", 0, 1, 13, {"GPU-x"}, "", true},
      {"ungated", 0, 1, 14, {"GPU-f"}, "ungated/0/1", false},
  };
  json first = meter.Measure(tasks, nvml, 10'000);
  EXPECT_EQ(first[0]["gpu_utilization"], 60);
  EXPECT_EQ(first[0]["gpu_memory_used"], "4000Mi");
  EXPECT_FALSE(first[1].contains("gpu_utilization"));  // a fraction's first reading
  EXPECT_EQ(first[1]["gpu_memory_used"], "2Mi");
  EXPECT_FALSE(first[2].contains("gpu_utilization"));  // NVML does not see its GPU
  EXPECT_EQ(first[2]["pid"], 13);
  (*board)->layout().processes[*slot].gpu_ns.fetch_add(500'000'000);  // 0.5 s of 1 s
  json second = meter.Measure(tasks, nvml, 11'000);
  EXPECT_EQ(second[1]["gpu_utilization"], 50);
  EXPECT_FALSE(second[3].contains("gpu_utilization"));  // no GPU time without the gate
  json idle = meter.Measure(tasks, nvml, 12'000);
  EXPECT_EQ(idle[1]["gpu_utilization"], 0);
  board->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace allot::agent
