// Scenario files: errors name file, line and field; the runner's output and
// exit code follow scenario-format.md, and a wrong expectation fails.
#include "scenario/loader.h"

#include <gtest/gtest.h>

#include <sstream>

#include "scenario/runner.h"

namespace allot::scenario {
namespace {

const char* kGood = R"(name: good
nodes:
  - {name: node0, gpus: 2}
queues:
  - {name: team, deserved: {gpu: 2}}
workloads:
  - {name: train, queue: team, gpu: 1}
expect:
  workloads:
    train: {status: running, node: node0, gpus: [0]}
)";

std::string ErrorOf(const std::string& text) {
  auto s = LoadScenarioText(text, "bad.yaml");
  EXPECT_FALSE(s.ok());
  return s.ok() ? "" : s.error().message;
}

TEST(Loader, LoadsAndRunsAGoodScenario) {
  auto s = LoadScenarioText(kGood, "good.yaml");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(RunScenario(*s).passed);
}

TEST(Loader, UnknownKeyNamesFileLineAndTheKnownKeys) {
  std::string text = kGood;
  text.replace(text.find("gpu: 1}"), 7, "gpus: 1}");
  std::string error = ErrorOf(text);
  EXPECT_NE(error.find("bad.yaml:7:"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown key 'gpus'"), std::string::npos) << error;
  EXPECT_NE(error.find("gpu_memory"), std::string::npos) << error;
}

TEST(Loader, MinimumRunTimeIsReadAndAWrongOneNamesTheField) {
  std::string good = kGood;
  good.insert(0, "config: {min_runtime: 10m}\n");
  auto s = LoadScenarioText(good, "good.yaml");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->config.min_runtime, 10 * core::kMinute);
  std::string bad = kGood;
  bad.insert(0, "config: {min_runtime: soon}\n");
  std::string error = ErrorOf(bad);
  EXPECT_NE(error.find("bad.yaml:1:"), std::string::npos) << error;
  EXPECT_NE(error.find("config.min_runtime"), std::string::npos) << error;
}

TEST(Loader, NegativeQuotaIsRejected) {
  std::string text = kGood;
  text.replace(text.find("deserved: {gpu: 2}"), 18, "deserved: {gpu: -2}");
  std::string error = ErrorOf(text);
  EXPECT_NE(error.find("bad.yaml:5:"), std::string::npos) << error;
  EXPECT_NE(error.find("must not be negative"), std::string::npos) << error;
}

TEST(Loader, FractionOnAMultiGpuTaskIsRejected) {
  std::string text = kGood;
  text.replace(text.find("gpu: 1}"), 7, "gpu: 1.5}");
  std::string error = ErrorOf(text);
  EXPECT_NE(error.find("bad.yaml:7:"), std::string::npos) << error;
  EXPECT_NE(error.find("fraction lives on one GPU"), std::string::npos) << error;
}

TEST(Loader, ChildrenAboveParentIsRejectedAtTheParentsLine) {
  const char* text = R"(name: tree
nodes: [{name: n, gpus: 4}]
queues:
  - {name: dept, deserved: {gpu: 1}}
  - {name: team, parent: dept, deserved: {gpu: 2}}
)";
  std::string error = ErrorOf(text);
  EXPECT_NE(error.find("bad.yaml:4:"), std::string::npos) << error;
  EXPECT_NE(error.find("raise its deserved"), std::string::npos) << error;
}

TEST(Loader, PlacementOnAMissingGpuIsRejected) {
  const char* text = R"(name: p
nodes: [{name: n, gpus: 2}]
queues: [{name: team}]
workloads:
  - name: w
    queue: team
    gpu: 1
    state: running
    placement: [{node: n, gpus: [3]}]
)";
  std::string error = ErrorOf(text);
  EXPECT_NE(error.find("bad.yaml:9:"), std::string::npos) << error;
  EXPECT_NE(error.find("GPU 3"), std::string::npos) << error;
}

TEST(Loader, OverAllocatingPlacementIsRejected) {
  const char* text = R"(name: p
nodes: [{name: n, gpus: 1}]
queues: [{name: team}]
workloads:
  - {name: a, queue: team, gpu: 0.75, state: running, placement: [{node: n, gpus: [0]}]}
  - {name: b, queue: team, gpu: 0.5, state: running, placement: [{node: n, gpus: [0]}]}
)";
  std::string error = ErrorOf(text);
  EXPECT_NE(error.find("bad.yaml:6:"), std::string::npos) << error;
  EXPECT_NE(error.find("over-allocates"), std::string::npos) << error;
}

TEST(Loader, UnknownActionAndBadDurationAreRejected) {
  std::string text = kGood;
  text.append("config: {actions: [allocate, backfil]}\n");
  EXPECT_NE(ErrorOf(text).find("unknown action 'backfil'"), std::string::npos);
  text = kGood;
  text.append("config: {stale_gang_grace: soon}\n");
  EXPECT_NE(ErrorOf(text).find("not a duration"), std::string::npos);
}

TEST(Loader, ExpectationsMustNameRealThings) {
  std::string text = kGood;
  text.replace(text.find("    train: {status"), 10, "    trian:");
  EXPECT_NE(ErrorOf(text).find("no workload is called 'trian'"), std::string::npos);
}

TEST(Runner, AWrongExpectationFailsWithWhatDiffered) {
  std::string text = kGood;
  text.replace(text.find("gpus: [0]"), 9, "gpus: [1]");
  auto s = LoadScenarioText(text, "wrong.yaml");
  ASSERT_TRUE(s.ok());
  ScenarioOutcome outcome = RunScenario(*s);
  EXPECT_FALSE(outcome.passed);
  ASSERT_EQ(outcome.failures.size(), 1u);
  EXPECT_NE(outcome.failures[0].find("expected [1]"), std::string::npos);
}

TEST(Runner, PrintsOneLinePerFileAndTheTotalsAndExitsNonZero) {
  std::ostringstream out;
  int code = RunScenarioFiles({"/nonexistent/scenario.yaml"}, out);
  EXPECT_EQ(code, 1);
  EXPECT_NE(out.str().find("FAIL /nonexistent/scenario.yaml: "), std::string::npos);
  EXPECT_NE(out.str().find("0 passed, 1 failed\n"), std::string::npos);
}

}  // namespace
}  // namespace allot::scenario
