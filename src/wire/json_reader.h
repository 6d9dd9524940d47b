// Strict reading of one JSON object of a request: every field is checked for
// its type and range, and a field nobody asked for is an error (a typo such
// as "gpus" for "gpu" must not be silently ignored). Errors carry the code
// "invalid" and the field's path ("tasks.gpu").
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace allot::wire {

class JsonReader {
 public:
  // `prefix` is prepended to field names in errors ("deserved." for a nested map).
  JsonReader(const nlohmann::json& object, std::string prefix = {});

  // Each reader leaves `out` unchanged when the field is absent and
  // `required` is false.
  Status String(const char* key, std::string& out, bool required = false);
  Status Bool(const char* key, bool& out);
  Status Int(const char* key, int64_t& out, int64_t min, int64_t max);
  Status Int32(const char* key, int32_t& out, int32_t min, int32_t max);
  // A number or a string parsed by `parse` ("0.5", "20Gi", "500m").
  Status Quantity(const char* key, int64_t& out, Result<int64_t> (*parse)(const std::string&));
  Status StringMap(const char* key, std::map<std::string, std::string>& out);
  Status StringList(const char* key, std::vector<std::string>& out);
  // The nested object at `key`, or null when absent.
  Result<const nlohmann::json*> Object(const char* key);

  // An error for the first field that no reader asked for.
  Status Finish() const;

  // The raw value at `key` (counted as known), or null when absent.
  const nlohmann::json* Find(const char* key);

  std::string Path(const char* key) const { return prefix_ + key; }

 private:
  Error Invalid(const char* key, const std::string& expected) const;

  const nlohmann::json& object_;
  std::string prefix_;
  std::set<std::string> known_;
};

// An error for a request body that is not a JSON object.
Result<nlohmann::json> ParseJsonObject(const std::string& body);

}  // namespace allot::wire
