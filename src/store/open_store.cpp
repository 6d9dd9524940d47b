#include "store/open_store.h"

#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace allot::store {

bool IsPostgresUrl(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url) {
  if (url.rfind("sqlite:", 0) == 0) {
    std::string path = url.substr(7);
    if (path.empty()) {
      return Error::Coded(
          "invalid", "--store: 'sqlite:' needs a path: sqlite:/var/lib/allot/allot.db", "store");
    }
    auto opened = SqliteStore::Open(path);
    if (!opened) return opened.error();
    return std::unique_ptr<Store>(std::move(*opened));
  }
  if (IsPostgresUrl(url)) {
    auto opened = PostgresStore::Open(url);
    if (!opened) return opened.error();
    return std::unique_ptr<Store>(std::move(*opened));
  }
  return Error::Coded(
      "invalid",
      "--store: '" + url + "' is not a store URL: use sqlite:PATH or postgresql://user@host/db",
      "store");
}

}  // namespace allot::store
