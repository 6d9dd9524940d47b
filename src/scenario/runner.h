// Running scenarios (scenario-format.md): rounds of scheduling cycles on a
// simulated world, then the expectations, then rounds that must change
// nothing.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "core/plan.h"
#include "scenario/scenario.h"

namespace allot::scenario {

struct ScenarioOutcome {
  bool passed = false;
  std::string name;
  std::vector<std::string> failures;  // what differed, one line each
};

// Runs one loaded scenario.
ScenarioOutcome RunScenario(const Scenario& scenario);

// Loads and runs each file, printing "PASS name" or "FAIL name: what
// differed" per file and the closing "N passed, M failed". Returns the
// process exit code: 0 when all passed, 1 otherwise.
int RunScenarioFiles(const std::vector<std::string>& files, std::ostream& out);

}  // namespace allot::scenario
