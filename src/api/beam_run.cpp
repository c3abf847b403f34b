#include "api/beam_run.h"

#include <algorithm>
#include <cmath>

#include "api/stop_matcher.h"
#include "sampling/logprobs.h"
#include "tokenizer/incremental_detokenizer.h"

namespace loom {
namespace {

double beam_score(double sum_logprob, size_t length, float length_penalty) {
  return sum_logprob / std::pow(static_cast<double>(std::max<size_t>(1, length)), length_penalty);
}

struct Candidate {
  double sum_logprob;
  size_t beam;
  int32_t token;
};

}  // namespace

BeamRun::BeamRun(RequestState request, const RunContext& context)
    : state_(std::move(request)), context_(context) {}

void BeamRun::start(Scheduler& scheduler) {
  state_.start(scheduler, *this);
  Beam first;
  first.sequence = state_.primary;
  if (state_.grammar) {
    first.grammar = grammar::make_grammar_processor(state_.grammar, *context_.tokenizer);
  }
  beams_.push_back(std::move(first));
}

void BeamRun::on_output(int64_t sequence, const float* logits, int32_t n_rows) {
  state_.note_output();
  beam_output(sequence, logits);
}

void BeamRun::on_error(std::string message) {
  state_.error_event(std::move(message));
  state_.done = true;
}

void BeamRun::release(Scheduler& scheduler) {
  for (Beam& b : beams_) {
    if (b.sequence >= 0) scheduler.remove_sequence(b.sequence);
  }
  if (state_.primary >= 0) scheduler.remove_sequence(state_.primary);
}

void BeamRun::finish() {
  state_.done = true;
  state_.finish(build_completion());
}

void BeamRun::beam_output(int64_t sequence, const float* logits) {
  const RequestState& r = state_;
  const int32_t n_vocab = context_.tokenizer->n_vocab();
  const int32_t k = std::min<int32_t>(2 * r.request.num_beams, n_vocab);
  for (Beam& b : beams_) {
    if (b.sequence != sequence) continue;
    // Keep this beam's 2k best continuations now: the logits row lives until the next step.
    if (b.grammar) {
      // Under a grammar the distribution is renormalised over the tokens it allows.
      Candidates allowed;
      allowed.assign(logits, n_vocab);
      b.grammar->apply(allowed);
      double max = -INFINITY;
      for (const TokenCandidate& c : allowed.items) max = std::max<double>(max, c.logit);
      double sum = 0;
      for (const TokenCandidate& c : allowed.items) sum += std::exp(c.logit - max);
      const double lse = max + std::log(sum);
      allowed.sort_top(static_cast<size_t>(k));
      b.candidates.clear();
      for (size_t i = 0; i < allowed.items.size() && static_cast<int32_t>(i) < k; ++i) {
        b.candidates.emplace_back(allowed.items[i].id,
                                  static_cast<float>(allowed.items[i].logit - lse));
      }
    } else {
      LogprobResult lp = token_logprobs(logits, n_vocab, 0, k);
      b.candidates = std::move(lp.top);
    }
    b.has_candidates = true;
  }
  if (std::all_of(beams_.begin(), beams_.end(), [](const Beam& b) { return b.has_candidates; })) {
    beam_step();
  }
}

void BeamRun::beam_step() {
  RequestState& r = state_;
  EngineCore& core = r.scheduler->core();
  const int32_t num_beams = r.request.num_beams;
  const float lp = r.request.length_penalty;
  const size_t length = beams_.front().tokens.size() + 1;  // after this step
  std::vector<Candidate> all;
  for (size_t i = 0; i < beams_.size(); ++i) {
    for (const auto& [token, logprob] : beams_[i].candidates) {
      all.push_back({beams_[i].sum_logprob + logprob, i, token});
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Candidate& a, const Candidate& b) {
    return a.sum_logprob > b.sum_logprob;
  });
  r.generated += static_cast<int64_t>(beams_.size());

  std::vector<Candidate> next;
  for (size_t rank = 0; rank < all.size() && static_cast<int32_t>(next.size()) < num_beams;
       ++rank) {
    const Candidate& c = all[rank];
    const bool ends = r.ends_generation(c.token);
    if (ends) {
      // Only ends among the top num_beams are kept, as in the usual implementations.
      if (static_cast<int32_t>(rank) < num_beams &&
          static_cast<int64_t>(length) > r.request.min_tokens) {
        Hypothesis h{beams_[c.beam].tokens, c.sum_logprob, beam_score(c.sum_logprob, length, lp),
                     FinishReason::kStop};
        finished_.push_back(std::move(h));
      }
      continue;
    }
    next.push_back(c);
  }

  // Decide whether the search is over.
  std::vector<double> finished_scores;
  for (const Hypothesis& h : finished_) finished_scores.push_back(h.score);
  std::sort(finished_scores.rbegin(), finished_scores.rend());
  bool done = next.empty();
  if (static_cast<int32_t>(finished_scores.size()) >= num_beams) {
    if (r.request.early_stopping) {
      done = true;
    } else {
      const double worst_kept = finished_scores[static_cast<size_t>(num_beams) - 1];
      const double best_running =
          next.empty() ? -INFINITY : beam_score(next[0].sum_logprob, length, lp);
      done = done || best_running <= worst_kept;
    }
  }
  const bool full = static_cast<int64_t>(length) >= r.request.max_tokens;
  if (full && !done) {
    for (const Candidate& c : next) {
      std::vector<int32_t> tokens = beams_[c.beam].tokens;
      tokens.push_back(c.token);
      finished_.push_back({std::move(tokens), c.sum_logprob, beam_score(c.sum_logprob, length, lp),
                           FinishReason::kLength});
    }
    done = true;
  }
  if (done) {
    finish();
    return;
  }

  // New beams: the first child of a parent keeps its sequence, the others copy it into a
  // sequence freed by a beam that did not survive (or a new fork).
  std::vector<Beam> old = std::move(beams_);
  std::vector<bool> parent_used(old.size(), false);
  std::vector<int64_t> spare;
  for (size_t i = 0; i < old.size(); ++i) {
    const bool survives =
        std::any_of(next.begin(), next.end(), [&](const Candidate& c) { return c.beam == i; });
    if (!survives) spare.push_back(old[i].sequence);
  }
  std::vector<Beam> beams;
  std::vector<std::pair<int64_t, int64_t>> copies;  // (from parent sequence, to sequence)
  for (const Candidate& c : next) {
    Beam b;
    b.tokens = old[c.beam].tokens;
    b.tokens.push_back(c.token);
    b.sum_logprob = c.sum_logprob;
    if (old[c.beam].grammar) {
      b.grammar = old[c.beam].grammar->clone();
      b.grammar->accept(c.token);
    }
    if (!parent_used[c.beam]) {
      parent_used[c.beam] = true;
      b.sequence = old[c.beam].sequence;
    } else if (!spare.empty()) {
      b.sequence = spare.back();
      spare.pop_back();
      copies.emplace_back(old[c.beam].sequence, b.sequence);
    } else {
      b.sequence = r.scheduler->fork_sequence(*this, old[c.beam].sequence);
    }
    beams.push_back(std::move(b));
  }
  // Copy before any parent gets its new token.
  for (const auto& [from, to] : copies) core.copy_sequence(from, to);
  for (int64_t s : spare) {
    r.scheduler->remove_sequence(s);
    if (s == r.primary) r.primary = -1;
  }
  for (Beam& b : beams) core.append_token(b.sequence, b.tokens.back());
  beams_ = std::move(beams);
}

void BeamRun::expire(double now) {
  if (!state_.overdue(now)) return;
  RequestState& r = state_;
  r.timed_out = true;
  const float lp = r.request.length_penalty;
  for (const Beam& b : beams_) {
    finished_.push_back({b.tokens, b.sum_logprob,
                         beam_score(b.sum_logprob, std::max<size_t>(1, b.tokens.size()), lp),
                         FinishReason::kLength});
  }
  finish();
}

Completion BeamRun::build_completion() {
  const RequestState& r = state_;
  std::stable_sort(finished_.begin(), finished_.end(),
                   [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
  Completion completion;
  for (int32_t i = 0; i < r.request.n && i < static_cast<int32_t>(finished_.size()); ++i) {
    const Hypothesis& h = finished_[static_cast<size_t>(i)];
    Choice choice;
    choice.index = i;
    choice.tokens = h.tokens;
    choice.cumulative_logprob = h.sum_logprob;
    choice.score = h.score;
    choice.finish_reason = h.finish_reason;
    StopMatcher stop(r.request.stop);
    IncrementalDetokenizer detokenizer(*context_.tokenizer);
    for (int32_t t : h.tokens) choice.text += stop.push(detokenizer.push(t));
    if (!stop.stopped()) {
      choice.text += stop.push(detokenizer.flush());
      choice.text += stop.flush();
    } else {
      choice.finish_reason = FinishReason::kStop;
    }
    choice.timed_out = r.timed_out && choice.finish_reason == FinishReason::kLength;
    if (r.callbacks->on_token) {
      TokenEvent event;
      event.index = i;
      event.text = choice.text;
      event.finished = true;
      event.finish_reason = choice.finish_reason;
      event.timed_out = choice.timed_out;
      r.token_event(std::move(event));
    }
    completion.choices.push_back(std::move(choice));
  }
  return completion;
}

}  // namespace loom
