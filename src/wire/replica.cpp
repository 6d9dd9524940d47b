#include "wire/replica.h"

namespace allot::wire {

Status ReadReplica(JsonReader& reader, ReplicaSpec& replica) {
  auto object = reader.Object("replica");
  if (!object) return object.error();
  if (!*object) return Status::Ok();
  JsonReader inner(**object, "replica.");
  if (Status s = inner.String("service", replica.service, true); !s) return s;
  if (Status s = inner.Int("generation", replica.generation, 0, INT64_MAX); !s) return s;
  if (Status s = inner.Int32("port", replica.port, 1, 65535); !s) return s;
  if (Status s = inner.String("ready_path", replica.ready_path); !s) return s;
  return inner.Finish();
}

void EncodeReplica(const ReplicaSpec& replica, nlohmann::json& out) {
  if (!replica.IsSet()) return;
  out["replica"] = {{"service", replica.service},
                    {"generation", replica.generation},
                    {"port", replica.port},
                    {"ready_path", replica.ready_path}};
}

}  // namespace allot::wire
