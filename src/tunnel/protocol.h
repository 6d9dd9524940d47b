// What travels in the tunnel besides raw bytes (docs/gateway.md §2): the
// server's request to an agent to open a stream, one JSON line on the
// agent's control connection, and the frames of an exec stream, which
// carry a command's input, output, terminal size and exit status over one
// byte stream.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace allot::tunnel {

// The HTTP Upgrade token of every tunnel stream.
constexpr const char* kUpgradeProtocol = "allot-tunnel";

// What the server asks an agent to connect a new stream to.
struct StreamRequest {
  std::string id;    // random; the agent dials back with it (GET .../streams/<id>)
  std::string kind;  // "connect": a TCP port of the task; "exec": a command in it
  std::string workload;
  int32_t task = 0;
  int32_t attempt = 0;
  int32_t port = 0;                  // connect
  std::vector<std::string> command;  // exec
  bool tty = false;                  // exec: with a terminal
  int32_t rows = 0;                  // exec: the terminal's size (0: the default)
  int32_t cols = 0;
};
// One line of JSON, without the newline.
std::string EncodeStreamRequest(const StreamRequest& request);
// Strict: a wrong or unknown field is an error naming it.
Result<StreamRequest> DecodeStreamRequest(const std::string& line);

// An exec stream is a sequence of frames: a type byte, a 4-byte big-endian
// length, the payload. Client to task: stdin, stdin-closed, resize. Task to
// client: stdout, stderr, then exit (the payload is the status as text:
// "0".."255" for an exit code, "signal N") or error (why the command did
// not start), after which the stream ends.
enum class FrameType : uint8_t {
  kStdin = 0,
  kStdout = 1,
  kStderr = 2,
  kExit = 3,
  kResize = 4,  // "ROWS COLS"
  kStdinClosed = 5,
  kError = 6,
};
struct Frame {
  FrameType type = FrameType::kStdin;
  std::string payload;
};
constexpr size_t kMaxFramePayload = 1 << 20;
std::string EncodeFrame(FrameType type, std::string_view payload);

// Cuts frames out of the bytes as they arrive.
class FrameReader {
 public:
  void Feed(const char* data, size_t size) { pending_.append(data, size); }
  // The next whole frame, nullopt until one is complete; an error for a
  // frame of an unknown type or over kMaxFramePayload (the stream is bad).
  Result<std::optional<Frame>> Next();

 private:
  std::string pending_;
};

// "ROWS COLS" of a resize frame; nullopt when malformed.
std::optional<std::pair<int, int>> ParseResize(const std::string& payload);

}  // namespace allot::tunnel
