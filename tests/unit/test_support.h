// Small helpers for the unit tests: clusters written as scenario YAML.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "scenario/loader.h"

namespace allot::testing {

// A path for `name` in a directory of this test process's own. ctest runs the
// tests side by side, each in its own process: a fixed name in the shared
// temporary directory lets one test rewrite a file while another reads it.
// The directory is removed when the process exits.
inline std::filesystem::path TempPath(const std::string& name) {
  struct Directory {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("allot_test_" + std::to_string(getpid()));
    Directory() {
      std::filesystem::remove_all(path);
      std::filesystem::create_directories(path);
    }
    ~Directory() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static Directory directory;
  return directory.path / name;
}

// The snapshot of a scenario text; fails the test when it does not load.
inline core::Snapshot SnapshotOf(const std::string& yaml) {
  auto scenario = scenario::LoadScenarioText(yaml, "test.yaml");
  EXPECT_TRUE(scenario.ok()) << (scenario.ok() ? "" : scenario.error().message);
  return scenario.ok() ? scenario->snapshot : core::Snapshot{};
}

// Index of the workload or node called `name`.
inline uint32_t WorkloadIndex(const core::Snapshot& s, const std::string& name) {
  for (uint32_t w = 0; w < s.workloads.size(); ++w) {
    if (s.workloads[w].spec.name == name) return w;
  }
  ADD_FAILURE() << "no workload " << name;
  return 0;
}
inline uint32_t NodeIndex(const core::Snapshot& s, const std::string& name) {
  for (uint32_t n = 0; n < s.nodes.size(); ++n) {
    if (s.nodes[n].name == name) return n;
  }
  ADD_FAILURE() << "no node " << name;
  return 0;
}
inline uint32_t QueueIndex(const core::Snapshot& s, const std::string& name) {
  for (uint32_t q = 0; q < s.queues.size(); ++q) {
    if (s.queues[q].name == name) return q;
  }
  ADD_FAILURE() << "no queue " << name;
  return 0;
}

}  // namespace allot::testing
