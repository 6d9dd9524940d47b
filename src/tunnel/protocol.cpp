#include "tunnel/protocol.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <set>

namespace allot::tunnel {

using nlohmann::json;

std::string EncodeStreamRequest(const StreamRequest& request) {
  json line = {{"id", request.id},
               {"kind", request.kind},
               {"workload", request.workload},
               {"task", request.task},
               {"attempt", request.attempt}};
  if (request.kind == "connect") line["port"] = request.port;
  if (request.kind == "exec") {
    line["command"] = request.command;
    line["tty"] = request.tty;
    line["rows"] = request.rows;
    line["cols"] = request.cols;
  }
  return line.dump();
}

Result<StreamRequest> DecodeStreamRequest(const std::string& line) {
  json body = json::parse(line, nullptr, false);
  if (!body.is_object()) return Error::Coded("invalid", "a stream request is a JSON object");
  static const std::set<std::string> known = {"id",   "kind",    "workload", "task", "attempt",
                                              "port", "command", "tty",      "rows", "cols"};
  for (const auto& item : body.items()) {
    if (!known.count(item.key())) {
      return Error::Coded("unknown_field", item.key() + ": not a field of a stream request",
                          item.key());
    }
  }
  StreamRequest request;
  try {
    request.id = body.at("id").get<std::string>();
    request.kind = body.at("kind").get<std::string>();
    request.workload = body.at("workload").get<std::string>();
    request.task = body.at("task").get<int32_t>();
    request.attempt = body.at("attempt").get<int32_t>();
    request.port = body.value("port", 0);
    request.command = body.value("command", std::vector<std::string>{});
    request.tty = body.value("tty", false);
    request.rows = body.value("rows", 0);
    request.cols = body.value("cols", 0);
  } catch (const json::exception& e) {
    return Error::Coded("invalid", std::string("a stream request field is missing or of the "
                                               "wrong type: ") +
                                       e.what());
  }
  if (request.id.empty()) return Error::Coded("invalid", "id: empty", "id");
  if (request.kind != "connect" && request.kind != "exec") {
    return Error::Coded("invalid", "kind: '" + request.kind + "' is neither connect nor exec",
                        "kind");
  }
  if (request.kind == "connect" && (request.port < 1 || request.port > 65535)) {
    return Error::Coded("invalid", "port: give a TCP port, 1 to 65535", "port");
  }
  if (request.kind == "exec" && request.command.empty()) {
    return Error::Coded("invalid", "command: give the command to run", "command");
  }
  return request;
}

std::string EncodeFrame(FrameType type, std::string_view payload) {
  std::string frame(5, '\0');
  frame[0] = static_cast<char>(type);
  uint32_t size = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) {
    frame[static_cast<size_t>(1 + i)] = static_cast<char>((size >> (8 * (3 - i))) & 0xff);
  }
  frame.append(payload);
  return frame;
}

Result<std::optional<Frame>> FrameReader::Next() {
  if (pending_.size() < 5) return std::optional<Frame>();
  uint8_t type = static_cast<uint8_t>(pending_[0]);
  if (type > static_cast<uint8_t>(FrameType::kError)) {
    return Error::Coded("invalid", "exec stream: unknown frame type " + std::to_string(type));
  }
  uint32_t size = 0;
  for (size_t i = 1; i < 5; ++i) size = (size << 8) | static_cast<uint8_t>(pending_[i]);
  if (size > kMaxFramePayload) {
    return Error::Coded(
        "invalid", "exec stream: a frame of " + std::to_string(size) + " bytes is over the limit");
  }
  if (pending_.size() < 5 + size) return std::optional<Frame>();
  Frame frame{static_cast<FrameType>(type), pending_.substr(5, size)};
  pending_.erase(0, 5 + size);
  return std::optional<Frame>(std::move(frame));
}

std::optional<std::pair<int, int>> ParseResize(const std::string& payload) {
  int rows = 0;
  int cols = 0;
  char extra = 0;
  if (std::sscanf(payload.c_str(), "%d %d%c", &rows, &cols, &extra) != 2) return std::nullopt;
  if (rows < 1 || cols < 1 || rows > 10000 || cols > 10000) return std::nullopt;
  return std::make_pair(rows, cols);
}

}  // namespace allot::tunnel
