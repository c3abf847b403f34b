// One reply of `loom chat`: submitted to the engine, streamed to the terminal as it is
// generated (reasoning dimmed or hidden), stopped by Ctrl-C.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "loom/loom.h"

namespace loom::cli {

struct ReplyDisplay {
  bool colour = false;           // ANSI dim for reasoning; else it shows between its tags
  bool hide_thinking = false;    // leave <think>…</think> out
  bool starts_thinking = false;  // the prompt opened <think> already
};

struct Reply {
  std::string text;             // as generated (the history keeps it)
  std::vector<int32_t> tokens;  // generated tokens, as Choice::tokens
  bool interrupted = false;     // Ctrl-C stopped it
  std::string error;            // a failure after submit (e.g. the KV cache is full)
  FinishReason finish_reason = FinishReason::kLength;
  std::optional<Timings> timings;  // the engine's, when the reply finished
  // Measured here too, so an interrupted reply has them.
  double time_to_first_token_s = 0;
  double decode_tokens_per_s = 0;
};

// Submits `request` and prints the reply to `out` while it is generated, until it ends or
// Ctrl-C (interrupt.h) is seen, which cancels it. Does not end the line. loom::Error when
// the engine refuses the request.
Reply stream_reply(Engine& engine, const Request& request, const ReplyDisplay& display,
                   std::FILE* out);

}  // namespace loom::cli
