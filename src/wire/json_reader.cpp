#include "wire/json_reader.h"

namespace allot::wire {

JsonReader::JsonReader(const nlohmann::json& object, std::string prefix)
    : object_(object), prefix_(std::move(prefix)) {}

const nlohmann::json* JsonReader::Find(const char* key) {
  known_.insert(key);
  auto found = object_.find(key);
  if (found == object_.end() || found->is_null()) return nullptr;
  return &*found;
}

Error JsonReader::Invalid(const char* key, const std::string& expected) const {
  return Error::Coded("invalid", Path(key) + ": expected " + expected, Path(key));
}

Status JsonReader::String(const char* key, std::string& out, bool required) {
  const nlohmann::json* value = Find(key);
  if (!value) {
    if (required) return Error::Coded("invalid", Path(key) + " is required", Path(key));
    return Status::Ok();
  }
  if (!value->is_string()) return Invalid(key, "a string");
  out = value->get<std::string>();
  return Status::Ok();
}

Status JsonReader::Bool(const char* key, bool& out) {
  const nlohmann::json* value = Find(key);
  if (!value) return Status::Ok();
  if (!value->is_boolean()) return Invalid(key, "true or false");
  out = value->get<bool>();
  return Status::Ok();
}

Status JsonReader::Int(const char* key, int64_t& out, int64_t min, int64_t max) {
  const nlohmann::json* value = Find(key);
  if (!value) return Status::Ok();
  std::string range = "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  if (!value->is_number_integer()) return Invalid(key, range);
  int64_t number = value->is_number_unsigned() && value->get<uint64_t>() > INT64_MAX
                       ? INT64_MAX
                       : value->get<int64_t>();
  if (number < min || number > max) return Invalid(key, range + ", got " + value->dump());
  out = number;
  return Status::Ok();
}

Status JsonReader::Int32(const char* key, int32_t& out, int32_t min, int32_t max) {
  int64_t wide = out;
  if (Status status = Int(key, wide, min, max); !status) return status;
  out = static_cast<int32_t>(wide);
  return Status::Ok();
}

Status JsonReader::Quantity(const char* key, int64_t& out,
                            Result<int64_t> (*parse)(const std::string&)) {
  const nlohmann::json* value = Find(key);
  if (!value) return Status::Ok();
  std::string text;
  if (value->is_string()) {
    text = value->get<std::string>();
  } else if (value->is_number()) {
    text = value->dump();
  } else {
    return Invalid(key, "a number or a quantity string");
  }
  Result<int64_t> parsed = parse(text);
  if (!parsed) return Error::Coded("invalid", Path(key) + ": " + parsed.error().message, Path(key));
  out = *parsed;
  return Status::Ok();
}

Status JsonReader::StringMap(const char* key, std::map<std::string, std::string>& out) {
  const nlohmann::json* value = Find(key);
  if (!value) return Status::Ok();
  if (!value->is_object()) return Invalid(key, "an object of strings");
  std::map<std::string, std::string> result;
  for (const auto& [k, v] : value->items()) {
    if (!v.is_string()) return Invalid(key, "an object of strings (" + k + " is not a string)");
    result[k] = v.get<std::string>();
  }
  out = std::move(result);
  return Status::Ok();
}

Status JsonReader::StringList(const char* key, std::vector<std::string>& out) {
  const nlohmann::json* value = Find(key);
  if (!value) return Status::Ok();
  if (!value->is_array()) return Invalid(key, "a list of strings");
  std::vector<std::string> result;
  for (const auto& item : *value) {
    if (!item.is_string()) return Invalid(key, "a list of strings");
    result.push_back(item.get<std::string>());
  }
  out = std::move(result);
  return Status::Ok();
}

Result<const nlohmann::json*> JsonReader::Object(const char* key) {
  const nlohmann::json* value = Find(key);
  if (value && !value->is_object()) return Invalid(key, "an object");
  return value;
}

Status JsonReader::Finish() const {
  for (const auto& [key, value] : object_.items()) {
    if (known_.count(key) == 0) {
      std::string known;
      for (const auto& k : known_) known += (known.empty() ? "" : ", ") + k;
      return Error::Coded("unknown_field",
                          "unknown field '" + prefix_ + key + "': known fields are " + known,
                          prefix_ + key);
    }
  }
  return Status::Ok();
}

Result<nlohmann::json> ParseJsonObject(const std::string& body) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return Error::Coded("malformed_json", "the request body is not valid JSON");
  }
  if (!parsed.is_object()) {
    return Error::Coded("malformed_json", "the request body must be a JSON object");
  }
  return parsed;
}

}  // namespace allot::wire
