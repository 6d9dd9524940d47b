// Opens the store a URL names (`allot server --store`):
//   sqlite:PATH                    one server, a file (the default)
//   postgresql://user@host/db?...  several servers (postgres:// too), as libpq
//                                  takes it
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "store/store.h"

namespace allot::store {

Result<std::unique_ptr<Store>> OpenStore(const std::string& url);

// Whether `url` names a PostgreSQL store.
bool IsPostgresUrl(const std::string& url);

}  // namespace allot::store
