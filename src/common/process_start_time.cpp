#include "common/process_start_time.h"

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace allot {

int64_t ProcessStartTime(int pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  if (!file) return 0;
  std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces and parentheses: fields
  // start after its last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 > stat.size()) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 3 && field == "Z") return 0;
    if (i == 22) return std::strtoll(field.c_str(), nullptr, 10);
  }
  return 0;
}

}  // namespace allot
