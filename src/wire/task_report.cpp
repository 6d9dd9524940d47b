#include "wire/task_report.h"

#include <algorithm>
#include <array>

#include "wire/json_reader.h"

namespace allot::wire {
namespace {

constexpr std::array<const char*, 6> kTaskStates = {"starting", "running",         "exited",
                                                    "killed",   "failed_to_start", "lost"};

}  // namespace

bool IsFinalTaskState(const std::string& state) {
  return state == "exited" || state == "killed" || state == "failed_to_start" || state == "lost";
}

Result<TaskReport> DecodeTaskReport(const nlohmann::json& body) {
  JsonReader reader(body);
  TaskReport report;
  if (Status s = reader.String("node", report.node, true); !s) return s.error();
  if (Status s = reader.Int32("attempt", report.attempt, 1, INT32_MAX); !s) return s.error();
  if (!reader.Find("attempt")) {
    return Error::Coded("invalid", "attempt: give the attempt the report is about", "attempt");
  }
  if (Status s = reader.String("state", report.state, true); !s) return s.error();
  if (Status s = reader.Int32("pid", report.pid, 0, INT32_MAX); !s) return s.error();
  if (Status s = reader.Int32("exit_code", report.exit_code, 0, 255); !s) return s.error();
  if (Status s = reader.Int32("signal", report.signal, 0, 128); !s) return s.error();
  if (Status s = reader.String("reason", report.reason); !s) return s.error();
  if (Status s = reader.Int("time_ms", report.time_ms, 0, INT64_MAX); !s) return s.error();
  if (Status s = reader.Finish(); !s) return s.error();
  if (std::find_if(kTaskStates.begin(), kTaskStates.end(),
                   [&](const char* state) { return report.state == state; }) == kTaskStates.end()) {
    return Error::Coded("invalid",
                        "state: '" + report.state +
                            "' is not a task state: use starting, running, exited, killed, "
                            "failed_to_start or lost",
                        "state");
  }
  if (report.state == "failed_to_start" && report.reason.empty()) {
    return Error::Coded("invalid", "reason: say why the task failed to start", "reason");
  }
  return report;
}

}  // namespace allot::wire
