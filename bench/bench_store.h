// A throwaway store for one benchmark run: SQLite in a fresh temporary
// directory, or a fresh database of its own on a PostgreSQL server (created
// at the start, dropped at the end), so that the control-plane benchmarks
// compare the two stores in one run (docs/benchmarks.md).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/result.h"
#include "store/store.h"

namespace allot::bench {

class BenchStore {
 public:
  // `postgres`: empty for SQLite; else a libpq URL of a PostgreSQL server
  // whose user may create databases (its database part is where the new
  // database is created from, as `postgres`).
  static Result<std::unique_ptr<BenchStore>> Create(const std::string& postgres);
  ~BenchStore();
  BenchStore(const BenchStore&) = delete;
  BenchStore& operator=(const BenchStore&) = delete;

  store::Store& store() { return *store_; }
  // "sqlite" or "postgresql".
  const char* kind() const { return postgres_.empty() ? "sqlite" : "postgresql"; }

 private:
  BenchStore() = default;

  std::string postgres_;       // the server's URL ("" for SQLite)
  std::string database_;       // the database made for this run
  std::filesystem::path dir_;  // SQLite's directory
  std::unique_ptr<store::Store> store_;
};

// `url` with its database replaced by `database` (its options kept).
std::string WithDatabase(const std::string& url, const std::string& database);

}  // namespace allot::bench
