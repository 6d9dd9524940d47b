#include "cli/spec_file.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

namespace allot::cli {
namespace {

using nlohmann::json;

// Set by the server, shown by describe: never part of a submission.
const char* const kServerFields[] = {"owner",    "status",      "pending_reason",
                                     "reason",   "assignments", "created_ms",
                                     "revision", "events",      "run_as"};

json Scalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: a string
  static const std::regex integer("-?[0-9]+");
  if (std::regex_match(text, integer)) {
    try {
      return std::stoll(text);
    } catch (const std::out_of_range&) {
      return text;
    }
  }
  if (text == "true" || text == "True") return true;
  if (text == "false" || text == "False") return false;
  if (text == "null" || text == "~" || text.empty()) return nullptr;
  return text;
}

// YAML -> JSON, recording each field's line under its API path.
Result<json> Convert(const YAML::Node& node, const std::string& path,
                     std::map<std::string, int>& lines) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          return Error::Coded("invalid",
                              "line " + std::to_string(entry.first.Mark().line + 1) +
                                  ": a key must be a plain name",
                              path);
        }
        std::string key = entry.first.Scalar();
        if (out.contains(key)) {
          return Error::Coded("invalid",
                              "line " + std::to_string(entry.first.Mark().line + 1) + ": '" + key +
                                  "' is given twice",
                              key);
        }
        std::string field = path.empty() ? key : path + "." + key;
        lines[field] = entry.first.Mark().line + 1;
        Result<json> value = Convert(entry.second, field, lines);
        if (!value) return value.error();
        out[key] = std::move(*value);
      }
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (size_t i = 0; i < node.size(); ++i) {
        std::string field = path + "[" + std::to_string(i) + "]";
        lines[field] = node[i].Mark().line + 1;
        Result<json> value = Convert(node[i], field, lines);
        if (!value) return value.error();
        out.push_back(std::move(*value));
      }
      return out;
    }
    case YAML::NodeType::Scalar:
      return Scalar(node);
    default:
      return json(nullptr);
  }
}

Result<std::string> ReadAll(const std::string& path) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream file(path);
  if (!file) {
    return Error::Coded("invalid", path + ": cannot be read: give the path of a workload spec",
                        "file");
  }
  text << file.rdbuf();
  return text.str();
}

}  // namespace

std::string SpecFile::Where(const std::string& field) const {
  std::string at = field;
  for (;;) {
    auto it = lines.find(at);
    if (it != lines.end()) return path + ":" + std::to_string(it->second) + ": ";
    size_t cut = at.find_last_of(".[");
    if (cut == std::string::npos) return path + ": ";
    at = at.substr(0, cut);
  }
}

Result<SpecFile> ReadSpecFile(const std::string& path) {
  SpecFile spec;
  spec.path = path == "-" ? "(stdin)" : path;
  Result<std::string> text = ReadAll(path);
  if (!text) return text.error();
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return Error::Coded(
        "invalid", spec.path + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg,
        "file");
  }
  if (!root.IsMap()) {
    return Error::Coded("invalid",
                        spec.path +
                            ": a workload spec is a map of fields (name, project, gpu, "
                            "command, ...): see docs/api.md",
                        "file");
  }
  Result<json> body = Convert(root, "", spec.lines);
  if (!body) {
    return Error::Coded(body.error().code, spec.path + ": " + body.error().message,
                        body.error().field);
  }
  for (const char* field : kServerFields) body->erase(field);
  spec.body = std::move(*body);
  return spec;
}

}  // namespace allot::cli
