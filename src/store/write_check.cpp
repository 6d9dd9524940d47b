#include "store/write_check.h"

namespace allot::store {

std::string RefusalCode(const Write& write, bool exists, int64_t revision) {
  if (write.op == Write::Op::kCreate) return exists ? "already_exists" : "";
  if (!exists) return "not_found";
  if (write.expected_revision != 0 && revision != write.expected_revision) return "conflict";
  return "";
}

Error RefusalError(const std::string& code, const Write& write) {
  std::string what = write.kind + " '" + write.name + "'";
  if (code == "already_exists") {
    return Error::Coded("already_exists", what + " already exists: pick another name", "name");
  }
  if (code == "not_found") return Error::Coded("not_found", what + " does not exist", "name");
  return Error::Coded("conflict",
                      what + std::string(" changed since revision ") +
                          std::to_string(write.expected_revision) + ": read it again",
                      "revision");
}

Error FencedError(const Lease& fence) {
  return Error::Coded("fenced",
                      "store: the lease '" + fence.name + std::string("' (epoch ") +
                          std::to_string(fence.epoch) + ") is no longer held by '" + fence.holder +
                          "': another server leads now",
                      "lease");
}

}  // namespace allot::store
