// BERT's text normalisation and word splitting, as Hugging Face's BertNormalizer and
// BertPreTokenizer do it for uncased models: control characters removed, whitespace
// unified, CJK ideographs isolated, accents stripped (NFD, drop marks of category Mn),
// lower-cased, then split at whitespace with every punctuation character a word of its
// own. Unicode data comes from utf8proc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace loom {

// The normalised words of `text`, in order, as UTF-8. Invalid UTF-8 becomes U+FFFD,
// which BERT's cleaning then removes.
std::vector<std::string> bert_words(std::string_view text);

}  // namespace loom
