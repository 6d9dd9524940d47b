// The rules every store applies to one Write, in one place so that the
// stores refuse the same writes with the same errors (store.h, Commit()).
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "store/store.h"

namespace allot::store {

// Why `write` may not apply to its object, which exists (or not) at
// `revision`: "" when it may, else the error code ("already_exists",
// "not_found", "conflict").
std::string RefusalCode(const Write& write, bool exists, int64_t revision);

// The error for a refusal `code` of `write`, naming the object and the fix.
Error RefusalError(const std::string& code, const Write& write);

// The error of a fenced commit whose lease is no longer held.
Error FencedError(const Lease& fence);

}  // namespace allot::store
