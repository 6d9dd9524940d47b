#include "bench/bench_store.h"

#include <unistd.h>

#include <atomic>

#include "store/open_store.h"
#include "store/pg_connection.h"

namespace allot::bench {
namespace {

std::atomic<int> counter{0};

}  // namespace

std::string WithDatabase(const std::string& url, const std::string& database) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t query = url.find('?', start);
  size_t slash = url.find('/', start);
  if (slash == std::string::npos || (query != std::string::npos && slash > query)) slash = query;
  std::string base = url.substr(0, slash == std::string::npos ? url.size() : slash);
  std::string options = query == std::string::npos ? "" : url.substr(query);
  return base + "/" + database + options;
}

Result<std::unique_ptr<BenchStore>> BenchStore::Create(const std::string& postgres) {
  std::unique_ptr<BenchStore> made(new BenchStore());
  std::string suffix = std::to_string(::getpid()) + "_" + std::to_string(counter++);
  if (postgres.empty()) {
    made->dir_ = std::filesystem::temp_directory_path() / ("allot_api_bench_" + suffix);
    std::filesystem::remove_all(made->dir_);
    std::filesystem::create_directories(made->dir_);
    auto opened = store::OpenStore("sqlite:" + (made->dir_ / "allot.db").string());
    if (!opened) return opened.error();
    made->store_ = std::move(*opened);
    return made;
  }
  auto admin = store::PgConnection::Connect(postgres);
  if (!admin) return admin.error();
  made->database_ = "allot_bench_" + suffix;
  if (auto created = (*admin)->Query("CREATE DATABASE " + made->database_); !created) {
    return created.error();
  }
  made->postgres_ = postgres;
  auto opened = store::OpenStore(WithDatabase(postgres, made->database_));
  if (!opened) return opened.error();
  made->store_ = std::move(*opened);
  return made;
}

BenchStore::~BenchStore() {
  store_.reset();  // its connections close before the database goes
  if (!database_.empty()) {
    if (auto admin = store::PgConnection::Connect(postgres_)) {
      (void)(*admin)->Query("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
    }
  }
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

}  // namespace allot::bench
