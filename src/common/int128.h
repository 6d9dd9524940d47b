// A 128-bit integer for exact products of 64-bit amounts (shares, weights).
#pragma once

namespace allot {

__extension__ typedef __int128 Int128;

}  // namespace allot
