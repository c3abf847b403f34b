// A conversation as a file: OpenAI-style messages,
// [{"role": "system", "content": "..."}, {"role": "user", ...}, {"role": "assistant", ...}],
// as `loom chat` writes with /save and reads with /load.
#pragma once

#include <string>
#include <vector>

#include "loom/chat.h"

namespace loom::cli {

std::string transcript_to_json(const std::vector<ChatMessage>& messages);

// The messages of a transcript, checked: a JSON array of objects with string "role" and
// "content" (other members are ignored), an optional system message first, then user and
// assistant messages alternating from a user message, ending with an assistant message (so
// the next line typed is the next user turn). loom::Error naming the message at fault.
std::vector<ChatMessage> transcript_from_json(const std::string& text);

void save_transcript(const std::string& path, const std::vector<ChatMessage>& messages);
std::vector<ChatMessage> load_transcript(const std::string& path);

}  // namespace loom::cli
