#include "tokenizer/pcre_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"

namespace loom {
namespace {

// Matching needs per-thread scratch (match data, JIT stack), kept thread_local so a
// const tokenizer can be shared between threads.
struct Scratch {
  Scratch() {
    match_data = pcre2_match_data_create(16, nullptr);
    // Long runs (e.g. a megabyte of spaces) can need more than the default 32 KiB.
    jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    context = pcre2_match_context_create(nullptr);
    pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~Scratch() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_data_free(match_data);
  }
  pcre2_match_data* match_data;
  pcre2_jit_stack* jit_stack;
  pcre2_match_context* context;
};

Scratch& thread_scratch() {
  thread_local Scratch scratch;
  return scratch;
}

}  // namespace

Regex::Regex(std::string_view pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  // UCP: \s \p{L} etc. by Unicode properties. DOLLAR_ENDONLY: `$` means the end of the
  // piece, not "before a final newline". MATCH_INVALID_UTF: arbitrary bytes are legal
  // input and simply never match.
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                        PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_INVALID_UTF,
                        &error, &offset, nullptr);
  if (code_ == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    fail("tokenizer: regex /{}/ does not compile at offset {}: {}", pattern, offset,
         reinterpret_cast<const char*>(message));
  }
  pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
}

Regex::~Regex() {
  pcre2_code_free(code_);
}

bool Regex::find(std::string_view subject, size_t start, size_t& begin, size_t& end) const {
  Scratch& scratch = thread_scratch();
  const int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(),
                             start, 0, scratch.match_data, scratch.context);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(rc, message, sizeof(message));
    fail("tokenizer: regex failed on a {}-byte piece: {}", subject.size(),
         reinterpret_cast<const char*>(message));
  }
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.match_data);
  begin = ovector[0];
  end = ovector[1];
  return true;
}

std::string Regex::escape(std::string_view literal) {
  std::string pattern;
  for (const char c : literal) {
    // Every ASCII punctuation character may be escaped in PCRE2; other bytes stand for
    // themselves (UTF-8 continuation bytes included).
    if (std::string_view(R"(\^$.|?*+()[]{}-/#&~'"<>=!:,%@`;)").find(c) != std::string_view::npos) {
      pattern += '\\';
    }
    pattern += c;
  }
  return pattern;
}

}  // namespace loom
