// Random identifiers and secrets from the system's CSPRNG (OpenSSL).
#pragma once

#include <cstddef>
#include <string>

namespace allot {

// `bytes` random bytes as lowercase hex (2 * bytes characters).
std::string RandomHex(size_t bytes);

}  // namespace allot
