// GBNF for the decimal integers in [lo, hi] (either bound may be open), as JSON writes
// them: no leading zeros, no "-0". Digit-by-digit ranges, so the grammar stays small.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace loom::grammar {

// |lo| and |hi| at most 1e15; an open upper bound allows up to 16 digits.
std::string integer_range_gbnf(std::optional<int64_t> lo, std::optional<int64_t> hi);

}  // namespace loom::grammar
