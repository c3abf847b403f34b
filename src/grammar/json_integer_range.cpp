#include "grammar/json_integer_range.h"

#include <fmt/format.h>

#include <vector>

namespace loom::grammar {
namespace {

constexpr int kMaxDigits = 16;

std::string join_alternatives(const std::vector<std::string>& parts) {
  if (parts.size() == 1) return parts[0];
  std::string out = "(";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? " | " : "") + parts[i];
  return out + ")";
}

std::string digits_any(size_t n) {
  if (n == 0) return "";
  return n == 1 ? "[0-9]" : fmt::format("[0-9]{{{}}}", n);
}

std::string digit_range(char lo, char hi) {
  return lo == hi ? fmt::format("\"{}\"", lo) : fmt::format("[{}-{}]", lo, hi);
}

std::string concat(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + " " + b;
}

// Digit strings of one length between a and b (a <= b, same length).
std::string same_length(const std::string& a, const std::string& b) {
  if (a.empty()) return "";
  if (a == b) return fmt::format("\"{}\"", a);
  const std::string a_rest = a.substr(1), b_rest = b.substr(1);
  if (a[0] == b[0]) return concat(digit_range(a[0], a[0]), same_length(a_rest, b_rest));
  const size_t rest = a_rest.size();
  const bool low_zeros = a_rest.find_first_not_of('0') == std::string::npos;
  const bool high_nines = b_rest.find_first_not_of('9') == std::string::npos;
  std::vector<std::string> parts;
  const char first_lo = static_cast<char>(a[0] + (low_zeros ? 0 : 1));
  const char first_hi = static_cast<char>(b[0] - (high_nines ? 0 : 1));
  if (!low_zeros) {
    parts.push_back(concat(digit_range(a[0], a[0]), same_length(a_rest, std::string(rest, '9'))));
  }
  if (first_lo <= first_hi)
    parts.push_back(concat(digit_range(first_lo, first_hi), digits_any(rest)));
  if (!high_nines) {
    parts.push_back(concat(digit_range(b[0], b[0]), same_length(std::string(rest, '0'), b_rest)));
  }
  return join_alternatives(parts);
}

// Non-negative integers in [lo, hi]; hi < 0 means unbounded (up to kMaxDigits digits).
std::string unsigned_range(int64_t lo, int64_t hi) {
  const std::string lo_text = std::to_string(lo);
  std::vector<std::string> parts;
  if (hi < 0) {
    parts.push_back(same_length(lo_text, std::string(lo_text.size(), '9')));
    if (lo_text.size() < kMaxDigits) {
      parts.push_back(fmt::format("[1-9] [0-9]{{{},{}}}", lo_text.size(), kMaxDigits - 1));
    }
    return join_alternatives(parts);
  }
  const std::string hi_text = std::to_string(hi);
  for (size_t len = lo_text.size(); len <= hi_text.size(); ++len) {
    const std::string a =
        len == lo_text.size() ? lo_text : fmt::format("1{}", std::string(len - 1, '0'));
    const std::string b = len == hi_text.size() ? hi_text : std::string(len, '9');
    parts.push_back(same_length(a, b));
  }
  return join_alternatives(parts);
}

}  // namespace

std::string integer_range_gbnf(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  std::vector<std::string> parts;
  if (!lo || *lo < 0) {  // negative part: magnitudes [max(1, -hi), -lo]
    const int64_t mag_lo = hi && *hi < 0 ? -*hi : 1;
    const int64_t mag_hi = lo ? -*lo : -1;
    parts.push_back("\"-\" " + unsigned_range(mag_lo, mag_hi));
  }
  if (!hi || *hi >= 0) parts.push_back(unsigned_range(lo && *lo > 0 ? *lo : 0, hi ? *hi : -1));
  return join_alternatives(parts);
}

}  // namespace loom::grammar
