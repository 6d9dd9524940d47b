// libFuzzer target: every request body the API decodes. Whatever the bytes,
// decoding returns a value or an error and never crashes; whatever decodes
// encodes to a form that decodes again to the same encoding (so the store
// never holds what the server cannot read back).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "api/auth.h"
#include "wire/json_reader.h"
#include "wire/resources.h"

namespace {

using allot::api::DecodeUser;
using allot::api::EncodeUser;
using allot::wire::DecodeNode;
using allot::wire::DecodeQueue;
using allot::wire::DecodeStoredWorkload;
using allot::wire::DecodeWorkloadSubmission;
using allot::wire::EncodeNode;
using allot::wire::EncodeQueue;
using allot::wire::EncodeWorkload;

void Require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto body = allot::wire::ParseJsonObject(text);
  if (!body) return 0;

  if (auto workload = DecodeWorkloadSubmission(*body)) {
    std::string encoded = EncodeWorkload(*workload).dump();
    auto again = DecodeStoredWorkload(encoded);
    Require(again.ok());
    Require(EncodeWorkload(*again).dump() == encoded);
  }
  (void)DecodeStoredWorkload(text);
  for (bool is_project : {false, true}) {
    if (auto queue = DecodeQueue(*body, is_project)) {
      auto encoded = EncodeQueue(*queue, is_project);
      auto again = DecodeQueue(encoded, is_project);
      Require(again.ok());
      Require(EncodeQueue(*again, is_project) == encoded);
    }
  }
  if (auto node = DecodeNode(*body)) {
    auto encoded = EncodeNode(*node);
    auto again = DecodeNode(encoded);
    Require(again.ok());
    Require(EncodeNode(*again) == encoded);
  }
  if (auto user = DecodeUser(*body)) {
    auto encoded = EncodeUser(*user);
    auto again = DecodeUser(encoded);
    Require(again.ok());
    Require(EncodeUser(*again) == encoded);
  }
  return 0;
}
