// One connection to PostgreSQL through libpq, for PostgresStore. Statements
// take their parameters as text and are prepared once per connection (the
// server plans each only once). Errors come back as values: a lost
// connection or a server that is down as code "unavailable" (the next call
// reconnects), anything else as "internal" with PostgreSQL's message.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

struct pg_conn;
struct pg_result;

namespace allot::store {

// `conninfo` (a URL or key=value pairs) with what a control plane needs
// that libpq leaves off, unless it sets them itself: timeouts on the
// client's side and, for the session, on the database's (see the .cpp).
std::string WithControlPlaneOptions(const std::string& conninfo);

// The rows of one statement; owns libpq's result.
class PgRows {
 public:
  explicit PgRows(pg_result* result) : result_(result) {}
  ~PgRows();
  PgRows(PgRows&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  PgRows& operator=(PgRows&&) = delete;
  PgRows(const PgRows&) = delete;

  int size() const;
  bool IsNull(int row, int col) const;
  std::string Text(int row, int col) const;
  int64_t Int(int row, int col) const;  // 0 for NULL

 private:
  pg_result* result_;
};

class PgConnection {
 public:
  // Connects with `conninfo`: a URL (postgresql://user@host:port/db?...) or
  // key=value pairs, as libpq takes them.
  static Result<std::unique_ptr<PgConnection>> Connect(const std::string& conninfo);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement with text parameters ($1, $2, ...), prepared on first
  // use on this connection.
  Result<PgRows> Query(const std::string& sql, const std::vector<std::string>& params = {});
  // Runs commands without parameters (several, separated by ';').
  Status Run(const std::string& sql);

  // Whether the connection broke; Reconnect() opens it again.
  bool Broken() const;
  Status Reconnect();

  // For LISTEN: the socket to wait on, and the notifications' payloads that
  // arrived (after reading what the socket has).
  int Socket() const;
  Result<std::vector<std::string>> TakeNotifications();

 private:
  PgConnection(std::string conninfo, pg_conn* conn) : conninfo_(std::move(conninfo)), conn_(conn) {}
  Error Failure(const std::string& what, pg_result* result) const;

  std::string conninfo_;
  pg_conn* conn_;
  std::map<std::string, std::string> prepared_;  // sql -> statement name
};

}  // namespace allot::store
