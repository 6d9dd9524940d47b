// Reading scenario files. Everything is checked before anything runs: an
// unknown key, a malformed quantity, a reference to something that does not
// exist, or a cluster the scheduler would reject (see
// core::ValidateSnapshot) fails the whole file with "FILE:LINE: field: what
// to do". Nothing half-loaded runs.
#pragma once

#include <string>

#include "common/result.h"
#include "scenario/scenario.h"

namespace allot::scenario {

// Loads and validates one scenario file.
Result<Scenario> LoadScenarioFile(const std::string& path);
// The same from text already read; `file` names it in errors.
Result<Scenario> LoadScenarioText(const std::string& text, const std::string& file);

// The time the scenario's clock starts at; ages count back from it.
inline constexpr core::Time kScenarioStart = 1'000'000'000'000;

}  // namespace allot::scenario
