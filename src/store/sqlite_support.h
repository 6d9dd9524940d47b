// What the SQLite store's files share: errors, statements, transactions.
// Internal to src/store (sqlite_store.cpp, sqlite_leases.cpp).
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "common/result.h"

namespace allot::store::sqlite {

inline int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline Error SqlError(sqlite3* db, const std::string& what) {
  return Error::Coded("internal", "store: " + what + ": " + sqlite3_errmsg(db));
}

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  sqlite3_stmt* raw() const { return stmt_; }
  void Bind(int at, const std::string& text) {
    sqlite3_bind_text(stmt_, at, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void Bind(int at, int64_t value) { sqlite3_bind_int64(stmt_, at, value); }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) {
    const unsigned char* text = sqlite3_column_text(stmt_, col);
    return text ? std::string(reinterpret_cast<const char*>(text),
                              static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
                : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

inline Status Exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    return Error::Coded("internal", std::string("store: ") + text);
  }
  return Status::Ok();
}

// Rolls back an open transaction unless Commit() was reached.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {}
  ~Transaction() {
    if (open_) (void)Exec(db_, "ROLLBACK");
  }
  Status Begin() {
    Status status = Exec(db_, "BEGIN IMMEDIATE");
    open_ = status.ok();
    return status;
  }
  Status Commit() {
    Status status = Exec(db_, "COMMIT");
    if (status) open_ = false;
    return status;
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

}  // namespace allot::store::sqlite
