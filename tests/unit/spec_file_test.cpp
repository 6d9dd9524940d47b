// Declarative workload specs (cli/spec_file.h), and the one schema they
// share with the API (docs/api/openapi.json).
#include "cli/spec_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "wire/resources.h"

namespace allot::cli {
namespace {

using nlohmann::json;

// Each test process (ctest runs several at once) names its files by its pid.
std::string Write(const std::string& text) {
  static int serial = 0;
  std::string path = testing::TempDir() + "/spec-" + std::to_string(::getpid()) + "-" +
                     std::to_string(serial++) + ".yaml";
  std::ofstream(path) << text;
  return path;
}

TEST(SpecFile, ScalarsTakeTheirTypesAndEveryFieldItsLine) {
  std::string path = Write(
      "name: train\n"
      "workers: 4\n"
      "gpu: 0.5\n"
      "preemptible: false\n"
      "priority: \"7\"\n"
      "topology:\n"
      "  required: rack\n"
      "command:\n"
      "  - python\n"
      "  - train.py\n");
  Result<SpecFile> spec = ReadSpecFile(path);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->body["workers"], 4);
  EXPECT_EQ(spec->body["gpu"], "0.5");  // a quantity: the API parses it
  EXPECT_EQ(spec->body["preemptible"], false);
  EXPECT_EQ(spec->body["priority"], "7");  // quoted: a string
  EXPECT_EQ(spec->body["command"], json({"python", "train.py"}));
  EXPECT_EQ(spec->Where("topology.required"), path + ":7: ");
  EXPECT_EQ(spec->Where("topology.unknown"), path + ":6: ");  // the nearest field above
  EXPECT_EQ(spec->Where("command[1]"), path + ":10: ");
  EXPECT_EQ(spec->Where("nothing"), path + ": ");
}

TEST(SpecFile, WhatDescribePrintsSubmitsAgain) {
  std::string path = Write(
      "name: \"train\"\n"
      "status: \"running\"\n"
      "owner: \"ada\"\n"
      "assignments:\n  - node: \"n1\"\n"
      "events: []\n"
      "revision: 12\n"
      "created_ms: 5\n"
      "command: [\"true\"]\n");
  Result<SpecFile> spec = ReadSpecFile(path);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->body, json({{"name", "train"}, {"command", {"true"}}}));
}

TEST(SpecFile, BadFilesNameTheLineAndTheFix) {
  Result<SpecFile> missing = ReadSpecFile(testing::TempDir() + "/no-such-spec.yaml");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot be read"), std::string::npos);
  Result<SpecFile> broken = ReadSpecFile(Write("name: a\ncommand: [x\n"));
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message.find("not valid YAML"), std::string::npos)
      << broken.error().message;
  Result<SpecFile> twice = ReadSpecFile(Write("name: a\nname: b\n"));
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("line 2: 'name' is given twice"), std::string::npos)
      << twice.error().message;
  Result<SpecFile> list = ReadSpecFile(Write("- a\n- b\n"));
  ASSERT_FALSE(list);
  EXPECT_NE(list.error().message.find("a map of fields"), std::string::npos);
}

// One schema: every field the API writes for a workload is in the OpenAPI
// document's Workload, and every field of that schema is one the API writes
// or reads.
TEST(SpecFile, TheOpenApiWorkloadSchemaIsTheApisWorkload) {
  std::ifstream file(std::string(ALLOT_SOURCE_DIR) + "/docs/api/openapi.json");
  json document = json::parse(file);
  std::set<std::string> schema;
  for (const auto& [key, value] :
       document["components"]["schemas"]["Workload"]["properties"].items()) {
    schema.insert(key);
  }
  auto w = wire::DecodeWorkloadSubmission(json{{"name", "w"},
                                               {"project", "p"},
                                               {"kind", "distributed"},
                                               {"workers", 2},
                                               {"gpu", "0.25"},
                                               {"gpu_limit", "0.5"},
                                               {"gpu_models", {"H100"}},
                                               {"node_selector", {{"zone", "a"}}},
                                               {"pools", {"a"}},
                                               {"topology", {{"required", "rack"}}},
                                               {"max_runtime", "1h"},
                                               {"env", {{"A", "1"}}},
                                               {"image", "localhost/x:1"},
                                               {"volumes", {"/d:/d"}},
                                               {"shm_size", "1Gi"},
                                               {"run_as_root", true},
                                               {"command", {"true"}}});
  ASSERT_TRUE(w) << w.error().message;
  w->reason = "ended";
  w->runtime.run_as = {0, 0, {}};
  w->assignments[0].node = "n1";
  std::set<std::string> written;
  json full = wire::EncodeWorkload(*w);
  for (const auto& [key, value] : full.items()) written.insert(key);
  // GPU memory instead of a share of a GPU.
  auto by_memory = wire::DecodeWorkloadSubmission(json{{"name", "m"},
                                                       {"project", "p"},
                                                       {"gpu_memory", "20Gi"},
                                                       {"gpu_memory_limit", "40Gi"},
                                                       {"command", {"true"}}});
  ASSERT_TRUE(by_memory) << by_memory.error().message;
  json memory = wire::EncodeWorkload(*by_memory);
  for (const auto& [key, value] : memory.items()) written.insert(key);
  // A workspace.
  auto workspace = wire::DecodeWorkloadSubmission(json{{"name", "nb"},
                                                       {"project", "p"},
                                                       {"kind", "interactive"},
                                                       {"workspace", {{"jupyter", true}}}});
  ASSERT_TRUE(workspace) << workspace.error().message;
  json served = wire::EncodeWorkload(*workspace);
  for (const auto& [key, value] : served.items()) written.insert(key);
  EXPECT_EQ(written, schema);
}

}  // namespace
}  // namespace allot::cli
