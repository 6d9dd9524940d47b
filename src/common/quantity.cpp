#include "common/quantity.h"

#include <cctype>
#include <limits>

namespace allot {
namespace {

// Parses "12.345" into value * 10^scale_digits exactly.
Result<int64_t> ParseScaledDecimal(const std::string& text, int scale_digits,
                                   const std::string& what) {
  if (text.empty()) return Error{"empty " + what};
  size_t i = 0;
  bool negative = false;
  if (text[0] == '-') {
    negative = true;
    i = 1;
  }
  int64_t whole = 0;
  int64_t frac = 0;
  int frac_digits = 0;
  bool any_digit = false;
  bool seen_point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.' && !seen_point) {
      seen_point = true;
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return Error{"'" + text + "' is not a number (" + what + ")"};
    }
    any_digit = true;
    int digit = c - '0';
    if (seen_point) {
      if (++frac_digits > scale_digits) {
        if (digit != 0) {
          return Error{"'" + text + "' has more precision than " + what + " allows (" +
                       std::to_string(scale_digits) + " decimals)"};
        }
        continue;
      }
      frac = frac * 10 + digit;
    } else {
      if (whole > std::numeric_limits<int64_t>::max() / 100000) {
        return Error{"'" + text + "' is too large"};
      }
      whole = whole * 10 + digit;
    }
  }
  if (!any_digit) return Error{"'" + text + "' is not a number (" + what + ")"};
  for (int d = frac_digits; d < scale_digits; ++d) frac *= 10;
  int64_t scale = 1;
  for (int d = 0; d < scale_digits; ++d) scale *= 10;
  int64_t value = whole * scale + frac;
  return negative ? -value : value;
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<int64_t> ParseMilli(const std::string& text) {
  return ParseScaledDecimal(text, 3, "a GPU count, whole or a fraction like 0.5");
}

Result<int64_t> ParseMebibytes(const std::string& text) {
  struct Suffix {
    const char* text;
    int64_t kib;  // KiB per unit
  };
  static const Suffix kSuffixes[] = {
      {"Ki", 1}, {"Mi", 1024}, {"Gi", 1024 * 1024}, {"Ti", 1024LL * 1024 * 1024}};
  for (const auto& s : kSuffixes) {
    if (!EndsWith(text, s.text)) continue;
    auto number =
        ParseScaledDecimal(text.substr(0, text.size() - 2), 3, "memory like 80Gi, 512Mi or 1.5Ti");
    if (!number) return number.error();
    // number is in thousandths of the unit; convert to KiB, then MiB (up).
    int64_t kib_thousandths = 0;
    if (__builtin_mul_overflow(*number, s.kib, &kib_thousandths)) {
      return Error{"'" + text + "' is too large"};
    }
    if (kib_thousandths > std::numeric_limits<int64_t>::max() - 999) {
      return Error{"'" + text + "' is too large"};
    }
    int64_t kib = (kib_thousandths + 999) / 1000;
    return (kib + 1023) / 1024;
  }
  auto bytes = ParseScaledDecimal(text, 0, "memory like 80Gi, 512Mi or a number of bytes");
  if (!bytes) return bytes.error();
  return (*bytes + 1024 * 1024 - 1) / (1024 * 1024);
}

Result<int64_t> ParseMillicores(const std::string& text) {
  if (EndsWith(text, "m")) {
    return ParseScaledDecimal(text.substr(0, text.size() - 1), 0, "CPU like 4, 0.5 or 500m");
  }
  return ParseScaledDecimal(text, 3, "CPU cores like 4, 0.5 or 500m");
}

Result<int64_t> ParseDurationMs(const std::string& text) {
  if (text.empty()) return Error{"empty duration: use a form like 30s, 10m or 1h30m"};
  bool plain = true;
  for (char c : text) plain = plain && (std::isdigit(static_cast<unsigned char>(c)) || c == '.');
  if (plain) return ParseScaledDecimal(text, 3, "a duration in seconds");
  int64_t total = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') continue;
    int64_t unit_ms = 0;
    size_t unit_len = 1;
    if (c == 'm' && i + 1 < text.size() && text[i + 1] == 's') {
      unit_ms = 1;
      unit_len = 2;
    } else if (c == 'h') {
      unit_ms = 3600 * 1000;
    } else if (c == 'm') {
      unit_ms = 60 * 1000;
    } else if (c == 's') {
      unit_ms = 1000;
    } else {
      return Error{"'" + text + "' is not a duration: use a form like 30s, 10m or 1h30m"};
    }
    auto number = ParseScaledDecimal(text.substr(start, i - start), 3, "a duration");
    if (!number) {
      return Error{"'" + text + "' is not a duration: use a form like 30s, 10m or 1h30m"};
    }
    int64_t part = 0;
    if (__builtin_mul_overflow(*number, unit_ms, &part) ||
        __builtin_add_overflow(total, part / 1000, &total)) {
      return Error{"'" + text + "' is too long a duration"};
    }
    i += unit_len - 1;
    start = i + 1;
  }
  if (start != text.size()) {
    return Error{"'" + text + "' ends without a unit: use s, m or h (30s, 10m, 1h)"};
  }
  return total;
}

std::string FormatDurationMs(int64_t ms) {
  if (ms != 0 && ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string FormatMilli(int64_t milli) {
  std::string text = std::to_string(milli / 1000);
  int64_t frac = (milli < 0 ? -milli : milli) % 1000;
  if (frac == 0) return text;
  if (milli < 0 && milli > -1000) text = "-0";
  std::string digits = std::to_string(1000 + frac).substr(1);
  while (digits.back() == '0') digits.pop_back();
  return text + "." + digits;
}

std::string FormatMebibytes(int64_t mib) {
  if (mib != 0 && mib % (1024 * 1024) == 0) return std::to_string(mib / (1024 * 1024)) + "Ti";
  if (mib != 0 && mib % 1024 == 0) return std::to_string(mib / 1024) + "Gi";
  return std::to_string(mib) + "Mi";
}

std::string FormatMillicores(int64_t millicores) {
  if (millicores % 1000 == 0) return std::to_string(millicores / 1000);
  if (millicores % 100 == 0) return FormatMilli(millicores);
  return std::to_string(millicores) + "m";
}

}  // namespace allot
