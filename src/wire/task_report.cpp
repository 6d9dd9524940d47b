#include "wire/task_report.h"

#include "wire/json_reader.h"

namespace allot::wire {

Result<TaskReport> DecodeTaskReport(const nlohmann::json& body) {
  JsonReader reader(body);
  TaskReport report;
  if (Status s = reader.String("node", report.node, true); !s) return s.error();
  if (Status s = reader.Int32("attempt", report.attempt, 1, INT32_MAX); !s) return s.error();
  if (!reader.Find("attempt")) {
    return Error::Coded("invalid", "attempt: give the attempt the report is about", "attempt");
  }
  std::string state;
  if (Status s = reader.String("state", state, true); !s) return s.error();
  if (Status s = reader.Int32("pid", report.pid, 0, INT32_MAX); !s) return s.error();
  if (Status s = reader.Int32("exit_code", report.exit_code, 0, 255); !s) return s.error();
  if (Status s = reader.Int32("signal", report.signal, 0, 128); !s) return s.error();
  if (Status s = reader.String("reason", report.reason); !s) return s.error();
  if (Status s = reader.Int("time_ms", report.time_ms, 0, INT64_MAX); !s) return s.error();
  if (Status s = reader.Bool("ready", report.ready); !s) return s.error();
  if (Status s = reader.String("ready_reason", report.ready_reason); !s) return s.error();
  if (Status s = reader.Finish(); !s) return s.error();
  std::optional<TaskState> parsed = ParseTaskState(state);
  if (!parsed || *parsed == TaskState::kNone || *parsed == TaskState::kWaiting) {
    return Error::Coded("invalid",
                        "state: '" + state +
                            "' is not a task state: use starting, running, exited, killed, "
                            "failed_to_start or lost",
                        "state");
  }
  report.state = *parsed;
  if (report.state == TaskState::kFailedToStart && report.reason.empty()) {
    return Error::Coded("invalid", "reason: say why the task failed to start", "reason");
  }
  return report;
}

}  // namespace allot::wire
