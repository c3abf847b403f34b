#include "api/sampling_run.h"

#include <algorithm>
#include <cmath>

#include "api/model_draft.h"
#include "api/tool_call_grammar.h"
#include "runtime/ngram_draft.h"
#include "sampling/logprobs.h"

namespace loom {

SamplingRun::SamplingRun(RequestState request, int32_t samples, int32_t draft_max,
                         const RunContext& context)
    : state_(std::move(request)), context_(context), samples_(samples), draft_max_(draft_max) {}

void SamplingRun::start(Scheduler& scheduler) {
  RequestState& r = state_;
  r.start(scheduler, *this);
  const Tokenizer& tokenizer = *context_.tokenizer;
  for (int32_t i = 0; i < samples_; ++i) {
    SamplingParams params = r.params;
    params.seed = r.params.seed + static_cast<uint64_t>(i);  // each sample its own stream
    auto choice = std::make_unique<ChoiceState>(i, params, tokenizer, r.request.stop);
    choice->sampler.set_prompt(r.prompt);
    if (r.request.min_tokens > 0) choice->sampler.set_banned(r.stop_tokens);
    if (r.grammar)
      choice->sampler.add_constraint(make_grammar_constraint(r.grammar, tokenizer, r.request));
    if (context_.drafts && draft_max_ > 0) {
      // The draft samples as the request does, minus the penalties (which need the
      // history); the acceptance rule corrects for whatever differs.
      SamplingParams draft = params;
      draft.repetition_penalty = 1.0f;
      draft.presence_penalty = 0.0f;
      draft.frequency_penalty = 0.0f;
      draft.seed = params.seed ^ 0x9e3779b97f4a7c15ull;
      choice->draft_sampler = std::make_unique<Sampler>(draft);
    }
    choices_.push_back(std::move(choice));
  }
  choices_[0]->sequence = r.primary;
  if (r.request.max_tokens == 0) {  // nothing to generate: the prompt is not even computed
    for (auto& c : choices_) end_choice(*c, FinishReason::kLength);
  }
}

void SamplingRun::on_output(int64_t sequence, const float* logits, int32_t n_rows) {
  state_.note_output();
  if (!forked_) {
    // The prompt is computed once; every other sample starts from a copy of its cache.
    forked_ = true;
    for (size_t i = 1; i < choices_.size(); ++i) {
      choices_[i]->sequence = state_.scheduler->fork_sequence(*this, state_.primary);
    }
    for (auto& c : choices_) sample_choice(*c, logits);
    return;
  }
  for (auto& c : choices_) {
    if (c->sequence == sequence) {
      sample_choice(*c, logits, n_rows);
      return;
    }
  }
}

void SamplingRun::on_error(std::string message) {
  state_.error_event(std::move(message));
  state_.done = true;
}

void SamplingRun::expire(double now) {
  if (!state_.overdue(now)) return;
  state_.timed_out = true;
  for (auto& c : choices_) {
    if (c->finished) continue;
    c->result.timed_out = true;
    end_choice(*c, FinishReason::kLength);
  }
}

void SamplingRun::release(Scheduler& scheduler) {
  for (auto& c : choices_) {
    if (c->sequence >= 0) {
      if (context_.drafts) context_.drafts->forget(c->sequence);
      scheduler.remove_sequence(c->sequence);
    }
  }
  if (state_.primary >= 0) scheduler.remove_sequence(state_.primary);
}

void SamplingRun::remove_sequence(int64_t sequence) {
  if (context_.drafts) context_.drafts->forget(sequence);
  state_.scheduler->remove_sequence(sequence);
}

bool SamplingRun::take_token(ChoiceState& c, const float* logits, int32_t& token_out, int32_t draft,
                             std::span<const float> q) {
  RequestState& r = state_;
  const Tokenizer* tokenizer = context_.tokenizer;
  const int32_t n_vocab = tokenizer->n_vocab();
  Choice& out = c.result;
  const int64_t n_generated = static_cast<int64_t>(out.tokens.size());
  c.sampler.set_ban_active(n_generated < r.request.min_tokens);
  const int32_t token =
      draft >= 0 ? c.sampler.verify(logits, n_vocab, draft, q) : c.sampler.sample(logits, n_vocab);
  token_out = token;
  c.sampler.accept(token);
  ++r.generated;

  const bool streams = r.request.best_of <= r.request.n;  // best_of > n picks at the end
  std::optional<TokenLogprob> logprob;
  const bool wants_logprob = r.request.logprobs >= 0 || samples_ > r.request.n;
  if (wants_logprob) {
    const LogprobResult lp =
        token_logprobs(logits, n_vocab, token, std::max(0, r.request.logprobs));
    out.cumulative_logprob += lp.logprob;
    const bool ends = r.ends_generation(token);
    if (r.request.logprobs >= 0 && !ends) {
      TokenLogprob t;
      t.token = token;
      t.bytes = tokenizer->token_to_piece(token, true);
      t.logprob = lp.logprob;
      t.top = lp.top;
      out.logprobs.push_back(t);
      logprob = std::move(t);
    }
  }

  if (r.ends_generation(token)) {
    end_choice(c, FinishReason::kStop);
    return false;
  }
  out.tokens.push_back(token);
  std::string text = c.stop.push(c.detokenizer.push(token));
  out.text += text;
  const bool stopped = c.stop.stopped();
  const bool full = static_cast<int64_t>(out.tokens.size()) >= r.request.max_tokens;
  if (streams && r.callbacks->on_token) {
    TokenEvent event;
    event.index = out.index;
    event.token = token;
    event.text = std::move(text);
    event.logprob = std::move(logprob);
    r.token_event(std::move(event));
  }
  if (stopped) {
    end_choice(c, FinishReason::kStop);
    return false;
  }
  if (full) {
    end_choice(c, FinishReason::kLength);
    return false;
  }
  return true;
}

void SamplingRun::sample_choice(ChoiceState& c, const float* logits, int32_t n_rows) {
  if (c.finished) return;
  RequestState& r = state_;
  EngineCore& core = r.scheduler->core();
  const int64_t sequence = c.sequence;
  const int32_t n_vocab = context_.tokenizer->n_vocab();
  std::vector<int32_t> draft;
  if (n_rows > 1) {
    const std::vector<int32_t>& tokens = core.sequence(sequence).tokens;
    draft.assign(tokens.end() - (n_rows - 1), tokens.end());
  }
  r.timings.draft_tokens += static_cast<int64_t>(draft.size());
  // Row i is the distribution after draft token i - 1. A draft that was not sampled
  // (n-grams, greedy) is kept while it is the token sampled: exactly the tokens and random
  // draws of decoding one token per step. A sampled draft (a draft model) goes through the
  // acceptance rule, which keeps the target's distribution.
  const std::vector<float> q = std::move(c.draft_q);
  c.draft_q.clear();
  size_t accepted = 0;
  for (int32_t row = 0; row < n_rows; ++row) {
    int32_t token = -1;
    const bool drafted = static_cast<size_t>(row) < draft.size();
    const std::span<const float> row_q =
        drafted && !q.empty()
            ? std::span<const float>(q.data() + static_cast<size_t>(row) * n_vocab, n_vocab)
            : std::span<const float>();
    if (!take_token(c, logits + static_cast<int64_t>(row) * n_vocab, token,
                    drafted ? draft[row] : -1, row_q)) {
      r.timings.draft_accepted += static_cast<int64_t>(accepted);
      return;  // the choice ended; its sequence is gone
    }
    if (accepted < draft.size() && token == draft[accepted]) {
      ++accepted;
      continue;
    }
    if (!draft.empty()) core.accept_draft(sequence, static_cast<int64_t>(accepted));
    core.append_token(sequence, token);
    break;
  }
  r.timings.draft_accepted += static_cast<int64_t>(accepted);
  c.draft_proposed += static_cast<int64_t>(draft.size());
  c.draft_kept += static_cast<int64_t>(accepted);
  if (draft_max_ > 0) {
    // Longer drafts while they are accepted, shorter when they are not.
    if (!draft.empty()) {
      c.draft_length = accepted == draft.size()
                           ? std::min(draft_max_, c.draft_length * 2)
                           : std::max<int32_t>(1, static_cast<int32_t>(accepted) + 1);
    }
    propose_draft(c);
  }
}

void SamplingRun::propose_draft(ChoiceState& c) {
  const RequestState& r = state_;
  const Scheduler& scheduler = *r.scheduler;
  EngineCore& core = r.scheduler->core();
  if (c.draft_length == 0) c.draft_length = std::min(draft_max_, 4);
  const Sequence& s = core.sequence(c.sequence);
  // Every kept draft token and the token sampled after them must fit in max_tokens.
  const int64_t room = r.request.max_tokens - static_cast<int64_t>(c.result.tokens.size()) - 1;
  // The draft length that maximises the expected tokens per second: k drafts each kept
  // with probability p (this choice's rate so far) give (1 - p^(k+1)) / (1 - p) tokens per
  // step of k + 1 positions, against one token per one-position step. A step's cost by
  // positions is measured as the engine runs; one not seen yet is taken as cheap, so it
  // gets measured. A model too small to be bound by reading its weights never drafts.
  const double p =
      (static_cast<double>(c.draft_kept) + 1) / (static_cast<double>(c.draft_proposed) + 2);
  // A draft model adds k of its own decode steps.
  const double one = scheduler.step_cost(1);
  const double draft_step = context_.drafts ? context_.drafts->decode_step_seconds() : 0;
  int64_t best = 0;
  double best_rate = 1.0;  // tokens per `one`
  double expected = 1.0, p_power = 1.0;
  // Until a plain one-position step has been timed there is nothing to compare against:
  // decode one first (a sequence that always drafted would never measure it).
  const int64_t longest = one > 0 ? std::min<int64_t>(c.draft_length, room) : 0;
  for (int64_t k = 1; k <= longest; ++k) {
    p_power *= p;
    expected += p_power;
    const double target = scheduler.step_cost(k + 1);
    const double cost = target > 0 ? target + static_cast<double>(k) * draft_step : 0;
    const double rate = one > 0 && cost > 0 ? expected * one / cost : expected;
    if (rate > best_rate) {
      best_rate = rate;
      best = k;
    }
  }
  best = std::max<int64_t>(
      best, std::min<int64_t>(context_.draft_min, std::min<int64_t>(draft_max_, room)));
  if (best <= 0) return;
  if (context_.drafts) {
    c.draft_wanted = static_cast<int32_t>(best);
    context_.drafts->request(r, c);
    return;
  }
  NgramDraftOptions ngram;
  ngram.max_tokens = static_cast<int32_t>(best);
  const std::vector<int32_t> draft = ngram_draft(s.tokens, ngram);
  if (!draft.empty()) core.add_draft(c.sequence, draft);
}

void SamplingRun::end_choice(ChoiceState& c, FinishReason reason) {
  RequestState& r = state_;
  c.finished = true;
  c.result.finish_reason = reason;
  // Whatever was held back: incomplete UTF-8 (as U+FFFD) and text that might have begun
  // a stop string, unless a stop string matched.
  std::string rest;
  if (!c.stop.stopped()) {
    rest = c.stop.push(c.detokenizer.flush());
    rest += c.stop.flush();
  }
  c.result.text += rest;
  if (c.sequence >= 0) {
    remove_sequence(c.sequence);
    if (c.sequence == r.primary) r.primary = -1;
    c.sequence = -1;
  }
  if (r.request.best_of <= r.request.n && r.callbacks->on_token) {
    TokenEvent event;
    event.index = c.result.index;
    event.text = std::move(rest);
    event.finished = true;
    event.finish_reason = reason;
    event.timed_out = c.result.timed_out;
    r.token_event(std::move(event));
  }
  if (std::all_of(choices_.begin(), choices_.end(), [](const auto& x) { return x->finished; })) {
    r.done = true;
    r.finish(build_completion());
  }
}

Completion SamplingRun::build_completion() {
  const RequestState& r = state_;
  Completion completion;
  std::vector<const ChoiceState*> picked;
  for (const auto& c : choices_) picked.push_back(c.get());
  if (samples_ > r.request.n) {
    // best_of: the n samples with the highest mean token log-probability.
    auto mean = [](const ChoiceState* c) {
      const size_t n = std::max<size_t>(1, c->result.tokens.size());
      return c->result.cumulative_logprob / static_cast<double>(n);
    };
    std::stable_sort(picked.begin(), picked.end(),
                     [&](const ChoiceState* a, const ChoiceState* b) { return mean(a) > mean(b); });
    picked.resize(static_cast<size_t>(r.request.n));
  }
  for (size_t i = 0; i < picked.size(); ++i) {
    Choice choice = picked[i]->result;
    choice.index = static_cast<int32_t>(i);
    if (r.request.logprobs < 0) choice.logprobs.clear();
    completion.choices.push_back(std::move(choice));
  }
  return completion;
}

}  // namespace loom
