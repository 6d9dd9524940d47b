#include "store/pg_connection.h"

#include <libpq-fe.h>

#include <cstdlib>

namespace allot::store {
namespace {

// SQLSTATE classes of a server that went away or refuses connections:
// 08 (connection exception), 57P (operator intervention: shutdown).
bool Unavailable(const char* sqlstate) {
  if (!sqlstate) return true;  // no state: the connection itself failed
  std::string state(sqlstate);
  return state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0;
}

std::string Trimmed(const char* message) {
  std::string text = message ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

PgRows::~PgRows() {
  PQclear(result_);
}

int PgRows::size() const {
  return PQntuples(result_);
}

bool PgRows::IsNull(int row, int col) const {
  return PQgetisnull(result_, row, col) != 0;
}

std::string PgRows::Text(int row, int col) const {
  return std::string(PQgetvalue(result_, row, col),
                     static_cast<size_t>(PQgetlength(result_, row, col)));
}

int64_t PgRows::Int(int row, int col) const {
  return IsNull(row, col) ? 0 : std::strtoll(PQgetvalue(result_, row, col), nullptr, 10);
}

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& conninfo) {
  pg_conn* conn = PQconnectdb(conninfo.c_str());
  if (!conn || PQstatus(conn) != CONNECTION_OK) {
    std::string message = conn ? Trimmed(PQerrorMessage(conn)) : "out of memory";
    PQfinish(conn);
    return Error::Coded("unavailable", "store: cannot connect to PostgreSQL: " + message, "store");
  }
  // Quiet: notices (a table that exists already) are not the user's business.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(conninfo, conn));
}

PgConnection::~PgConnection() {
  PQfinish(conn_);
}

Error PgConnection::Failure(const std::string& what, pg_result* result) const {
  const char* sqlstate = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = result && PQresultErrorMessage(result)[0]
                            ? Trimmed(PQresultErrorMessage(result))
                            : Trimmed(PQerrorMessage(conn_));
  bool down = Broken() || Unavailable(sqlstate);
  return Error::Coded(down ? "unavailable" : "internal",
                      "store: PostgreSQL: " + what + ": " + message +
                          (down ? " (is the database up and reachable?)" : ""),
                      down ? "store" : "");
}

Result<PgRows> PgConnection::Query(const std::string& sql, const std::vector<std::string>& params) {
  if (Broken()) {
    if (Status again = Reconnect(); !again) return again.error();
  }
  auto found = prepared_.find(sql);
  if (found == prepared_.end()) {
    // Appended: GCC 12 at -O3 takes `"s" + std::to_string(n)` for an
    // overlapping memcpy (-Werror=restrict, GCC bug 105329).
    std::string name = "s";
    name += std::to_string(prepared_.size());
    pg_result* prepared = PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr);
    bool ok = PQresultStatus(prepared) == PGRES_COMMAND_OK;
    if (!ok) {
      Error error = Failure("prepare", prepared);
      PQclear(prepared);
      return error;
    }
    PQclear(prepared);
    found = prepared_.emplace(sql, name).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& param : params) values.push_back(param.c_str());
  pg_result* result = PQexecPrepared(conn_, found->second.c_str(), static_cast<int>(values.size()),
                                     values.data(), nullptr, nullptr, 0);
  ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    Error error = Failure("query", result);
    PQclear(result);
    return error;
  }
  return PgRows(result);
}

Status PgConnection::Run(const std::string& sql) {
  if (Broken()) {
    if (Status again = Reconnect(); !again) return again;
  }
  pg_result* result = PQexec(conn_, sql.c_str());
  ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error error = Failure("command", result);
    PQclear(result);
    return error;
  }
  PQclear(result);
  return Status::Ok();
}

bool PgConnection::Broken() const {
  return PQstatus(conn_) != CONNECTION_OK;
}

Status PgConnection::Reconnect() {
  prepared_.clear();
  PQreset(conn_);
  if (Broken()) {
    return Error::Coded("unavailable",
                        "store: cannot reconnect to PostgreSQL: " + Trimmed(PQerrorMessage(conn_)),
                        "store");
  }
  return Status::Ok();
}

int PgConnection::Socket() const {
  return PQsocket(conn_);
}

Result<std::vector<std::string>> PgConnection::TakeNotifications() {
  if (PQconsumeInput(conn_) == 0) return Failure("listen", nullptr);
  std::vector<std::string> payloads;
  while (PGnotify* notification = PQnotifies(conn_)) {
    payloads.emplace_back(notification->extra ? notification->extra : "");
    PQfreemem(notification);
  }
  return payloads;
}

// The options a control plane needs that libpq leaves off: give up
// connecting after 5 s, and notice a dead peer (a cut network) within
// about 5 s instead of the kernel's two hours. A server cut off from the
// database answers 503 after that, and agents move to another server
// before their nodes' --node-lost-after runs out.
//
// And on the database's side of each session: a server cut off in the
// middle of a commit leaves its transaction open there, holding the
// revision row and the lease, and every other server's commits and the
// election would wait for PostgreSQL to notice (two hours by default).
// Transactions of allot never idle between statements, so one idle for
// 2 s is ended, and its locks go; dead clients are noticed in about 11 s.
std::string WithControlPlaneOptions(const std::string& conninfo) {
  const char* options[] = {"connect_timeout=5", "keepalives_idle=5", "keepalives_interval=2",
                           "keepalives_count=3", "tcp_user_timeout=5000"};
  const char* server_side =
      "-c idle_in_transaction_session_timeout=2000 -c tcp_keepalives_idle=5 "
      "-c tcp_keepalives_interval=2 -c tcp_keepalives_count=3";
  bool url = conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
  std::string out = conninfo;
  auto add = [&](const std::string& option) {
    if (url) {
      out += out.find('?') == std::string::npos ? "?" : "&";
    } else {
      out += " ";
    }
    out += option;
  };
  for (const char* option : options) {
    std::string key(option, std::string(option).find('='));
    if (conninfo.find(key + "=") == std::string::npos) add(option);
  }
  if (conninfo.find("options=") == std::string::npos) {
    std::string value = server_side;
    if (url) {
      std::string encoded;
      for (char c : value) {
        if (c == ' ') {
          encoded += "%20";
        } else if (c == '=') {
          encoded += "%3D";
        } else {
          encoded += c;
        }
      }
      add(std::string("options=").append(encoded));
    } else {
      add(std::string("options='").append(value).append("'"));
    }
  }
  return out;
}

}  // namespace allot::store
