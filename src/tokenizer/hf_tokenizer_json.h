// Hugging Face tokenizer.json files as loom tokenizers (Tokenizer::from_hf_json), for
// models whose vocabulary comes as tokenizer.json rather than inside a GGUF.
//
// Supported, and anything else is a loom::Error naming the field (never ignored):
//   model          "BPE": vocab, merges ("a b" strings or ["a", "b"] pairs),
//                  byte_fallback, ignore_merges, unk_token, fuse_unk
//   pre_tokenizer  Sequence, Split (Regex or String pattern; behavior Isolated, Removed,
//                  MergedWithPrevious or MergedWithNext; not inverted; the regex runs
//                  through PCRE2 as written), ByteLevel (add_prefix_space only first,
//                  use_regex), Digits
//   normalizer     Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, Strip
//   decoder        ByteLevel, Sequence, Replace "▁" -> " ", ByteFallback, Fuse,
//                  Strip " " (1, 0), Metaspace
//   post_processor TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel,
//                  Sequence: which special tokens encode(add_special) puts around text
//   added_tokens   special -> CONTROL (matched only with parse_special), others ->
//                  USER_DEFINED (always matched); lstrip / rstrip
// tokenizer_config.json, when given, adds bos_token / eos_token / add_bos_token /
// add_eos_token (these override the post_processor, as transformers does).
// Added tokens are matched on the raw text, before normalisation.
#pragma once

#include <string_view>

namespace loom {

// True when a file starting with `head` is JSON (first non-blank byte '{'), not GGUF.
bool looks_like_json(std::string_view head);

}  // namespace loom
