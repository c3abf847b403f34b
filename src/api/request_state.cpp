#include "api/request_state.h"

#include <algorithm>

#include "core/timing.h"

namespace loom {

void RequestState::start(Scheduler& s, Job& job) {
  scheduler = &s;
  start_time = now_seconds();
  timings.queue_s = start_time - submit_time;
  start_steps = s.core().counters().steps;
  primary = s.add_sequence(job, prompt, request.max_tokens);
  timings.cached_prompt_tokens = s.core().sequence(primary).n_cached;
  timings.prompt_evaluations = 1;
}

void RequestState::note_output() {
  const double now = now_seconds();
  if (first_token_time == 0) {
    first_token_time = now;
    timings.prefill_steps = scheduler->core().counters().steps - start_steps;
  }
  last_token_time = now;
}

void RequestState::token_event(TokenEvent event) const {
  if (!callbacks->on_token) return;
  scheduler->defer(
      [callbacks = callbacks, event = std::move(event)] { callbacks->on_token(event); });
}

void RequestState::error_event(std::string message) const {
  if (!callbacks->on_error) return;
  scheduler->defer(
      [callbacks = callbacks, message = std::move(message)] { callbacks->on_error(message); });
}

void RequestState::finish(Completion c) {
  c.seed = params.seed;
  Timings& t = timings;
  t.generated_tokens = generated;
  if (first_token_time > 0) {
    t.time_to_first_token_s = first_token_time - submit_time;
    const double prefill_s = first_token_time - start_time;
    const auto computed = static_cast<double>(t.prompt_tokens - t.cached_prompt_tokens);
    t.prefill_tokens_per_s = prefill_s > 0 ? computed / prefill_s : 0;
    t.decode_s = last_token_time - first_token_time;
    const int64_t per_choice = generated / std::max<int64_t>(1, slots);
    if (per_choice > 1 && t.decode_s > 0) t.decode_tokens_per_s = (per_choice - 1) / t.decode_s;
  }
  c.timings = t;
  if (callbacks->on_done) {
    scheduler->defer(
        [callbacks = callbacks, c = std::move(c)]() mutable { callbacks->on_done(std::move(c)); });
  }
}

bool RequestState::ends_generation(int32_t token) const {
  return std::find(stop_tokens.begin(), stop_tokens.end(), token) != stop_tokens.end();
}

}  // namespace loom
