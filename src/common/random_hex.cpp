#include "common/random_hex.h"

#include <openssl/rand.h>

#include <vector>

namespace allot {

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> data(bytes);
  RAND_bytes(data.data(), static_cast<int>(data.size()));
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : data) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

}  // namespace allot
