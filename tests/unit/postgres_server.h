// A PostgreSQL cluster of this test process's own, for the tests that run
// against both stores: made with initdb in the process's temporary
// directory on first use, started with pg_ctl on a Unix socket there (as
// the `postgres` user when the tests run as root: PostgreSQL refuses root),
// and stopped when the process exits. Each NewDatabase() is a fresh
// database in it.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "test_support.h"

namespace allot::testing {

class TestPostgres {
 public:
  // The cluster, started on first use; error() says why when it could not be.
  static TestPostgres& Get() {
    static TestPostgres server;
    return server;
  }
  const std::string& error() const { return error_; }
  const std::string& socket_dir() const { return dir_; }

  // A new, empty database; its libpq URL.
  std::string NewDatabase() {
    std::string name = "t" + std::to_string(++databases_);
    Run(Bin("psql") + " -q -h " + dir_ + " -U postgres -d postgres -c 'CREATE DATABASE " + name +
        "'");
    return "postgresql:///" + name + "?host=" + dir_ + "&user=postgres";
  }

  // Stops and starts the server (a restart under the clients' feet).
  bool Restart() { return Run(PgCtl("restart -m fast -w")); }

  ~TestPostgres() {
    if (error_.empty()) Run(PgCtl("stop -m immediate -w"));
  }

 private:
  TestPostgres() {
    bin_ = FindBin();
    if (bin_.empty()) {
      error_ = "no initdb: install postgresql-15";
      return;
    }
    dir_ = TempPath("postgres").string();
    std::filesystem::create_directories(dir_);
    if (geteuid() == 0) {
      as_ = "runuser -u postgres -- ";
      Run("chown postgres " + dir_ + " && chmod 0700 " + dir_);
      // The process's temporary directory is root's: let postgres through.
      ::chmod(std::filesystem::path(dir_).parent_path().c_str(), 0711);
    }
    if (!Run(Bin("initdb") + " -D " + dir_ + "/data -A trust -U postgres -E UTF8 --no-sync")) {
      error_ = "initdb failed";
      return;
    }
    if (!Run(PgCtl("start -w -l " + dir_ + "/log -o \"-k " + dir_ + " -c listen_addresses=''\""))) {
      error_ = "pg_ctl start failed (see " + dir_ + "/log)";
    }
  }

  static std::string FindBin() {
    for (const char* dir : {"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin",
                            "/usr/lib/postgresql/17/bin"}) {
      if (std::filesystem::exists(std::string(dir) + "/initdb")) return dir;
    }
    return "";
  }
  std::string Bin(const std::string& program) const { return as_ + bin_ + "/" + program; }
  std::string PgCtl(const std::string& args) const {
    return Bin("pg_ctl") + " -D " + dir_ + "/data " + args;
  }
  static bool Run(const std::string& command) {
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
  }

  std::string bin_, dir_, as_, error_;
  int databases_ = 0;
};

}  // namespace allot::testing
