// Copying a whole store into a new, empty one (`allot store copy`): the way
// from one server on SQLite to several on PostgreSQL. Run it with the
// servers stopped. Every object keeps its revision and the store its
// revision, so agents and watchers carry on (the change log is not copied:
// a watcher from before lists again). The copy is then read back and
// compared object by object, and every audit entry by id.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "store/store.h"

namespace allot::store {

struct CopyReport {
  int64_t objects = 0;
  int64_t kinds = 0;
  int64_t audit_entries = 0;
  int64_t revision = 0;
};

// Copies `from` into `to` (empty) and checks that `to` now holds exactly
// what `from` holds: error "internal" naming the first difference.
Result<CopyReport> CopyStore(Store& from, Store& to);

}  // namespace allot::store
