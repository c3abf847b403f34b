// loom's public C++ API: load a GGUF model, generate text from it, score text with it.
// The only layer where text and tokens meet. The server and the CLI use nothing else.
//
//   auto model = loom::Model::load("model.gguf");
//   loom::Engine engine(model, {.threads = 2, .context = 2048});
//   loom::Request req{.prompt = "Once upon a time", .max_tokens = 64};
//   engine.generate(req, [](const loom::TokenEvent& ev) { std::cout << ev.text; });
//
// Every function reports bad input (a corrupt file, an out-of-range parameter, a prompt
// longer than the context) by throwing loom::Error with a message naming the problem.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "loom/error.h"

namespace loom {

// Errors: loom::Error (loom/error.h).

struct ModelInfo {
  std::string path;
  std::string architecture;
  std::string name;
  std::string tokenizer;  // tokenizer.ggml.model, e.g. "llama" (SentencePiece)
  int64_t file_bytes = 0;
  int64_t n_params = 0;
  int64_t weight_bytes = 0;  // bytes of weights read per generated token
  // Bytes of quantized weights repacked into panels for the SIMD kernels: at load, and
  // (Q8_0) in the background after it, counted here once finish_loading() returns. The
  // copy replaces the file's pages in memory (they are released), it does not add.
  int64_t repacked_bytes = 0;
  int64_t locked_bytes = 0;  // bytes of weights locked in memory (LoadOptions::mlock)
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_ff = 0;
  // What loom applies for this architecture, one line each (norm, activation, RoPE kind
  // and scaling, windows, soft-caps ...), as `loom info` lists it.
  std::vector<std::string> features;
};

// ModelInfo::features for the GGUF file at `path`, read from its metadata without loading
// the weights. loom::Error naming what loom does not run (architecture, RoPE scaling, key).
std::vector<std::string> architecture_features(const std::string& path);

struct LoadOptions {
  // Lock the weights in memory (mlock) so they are never paged out; loom::Error naming the
  // limit to raise (ulimit -l) when the system refuses.
  bool mlock = false;
};

class Model {
 public:
  // Maps and validates the file, builds the tokenizer and the weight views.
  static std::shared_ptr<Model> load(const std::string& path, const LoadOptions& options = {});
  ~Model();

  const ModelInfo& info() const;
  // Waits for the work load() leaves to a background thread (repacking Q8_0 weights for
  // the SIMD kernels; until it is done they run from the file's layout, with the same
  // results, more slowly), then counts it in info().repacked_bytes. Benchmarks call it so
  // that they measure the steady state; nothing else needs to.
  void finish_loading();
  std::vector<int32_t> tokenize(std::string_view text, bool add_special = true,
                                bool parse_special = false) const;
  std::string detokenize(std::span<const int32_t> tokens) const;
  int32_t bos_token() const;  // -1 when the vocabulary has none
  int32_t n_vocab() const;
  // The token's text as stored in the vocabulary (e.g. "▁the", "<0x0A>", "<s>").
  std::string token_text(int32_t token) const;
  // The bytes the token stands for in output text (may be part of a UTF-8 sequence).
  std::string token_piece(int32_t token) const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct EngineOptions {
  int threads = 0;              // 0 = one per core
  int64_t context = 0;          // positions per sequence; 0 = min(training context, 4096)
  int32_t max_sequences = 1;    // sequences that run at once (continuous batching)
  int32_t max_queue = 64;       // requests that may wait for a free sequence; more are refused
  int64_t batch_tokens = 512;   // most positions computed in one step
  std::string kv_type = "f16";  // "f16", "f32" or "q8_0"
  // KV cache budget in positions, shared by all sequences in blocks of 16; 0 = enough
  // for max_sequences sequences at the full context.
  int64_t kv_tokens = 0;
  // Prefix caching: a prompt that starts with the tokens of an earlier request (a system
  // prompt, the earlier turns of a chat) reuses their KV cache blocks instead of computing
  // them again. Replies are the same with it on or off.
  bool prefix_cache = true;
  // Speculative decoding: "ngram" drafts tokens by looking the latest few tokens up in the
  // prompt and the output so far, and the model checks up to draft_max of them in one
  // step. Output is token for token what decoding without drafts gives, for any sampling
  // settings (a draft token is kept only when it is the token sampled there).
  // "" or "none": off. With draft_model set, "" or "model".
  std::string draft;
  int32_t draft_max = 8;
  // Speculative decoding with a small model of the same vocabulary (e.g. a smaller member
  // of the family, or a lower quantization of the same model): it proposes up to
  // draft_max tokens, sampled as the request samples, and the standard speculative
  // sampling rule keeps each with probability min(1, p/q), so replies follow the target's
  // distribution exactly (greedy replies are token for token the same).
  std::shared_ptr<const Model> draft_model;
  // Fewest tokens drafted whenever a draft is made (llama.cpp's --draft-min). 0 lets the
  // engine choose each step's draft length from the acceptance rate and the measured step
  // costs, so drafting never makes decoding slower; more forces longer drafts.
  int32_t draft_min = 0;
};

// Every decoding control, under the names llama.cpp / vLLM / OpenAI use. Values out of
// range are errors (loom::Error naming the field), never clamped.
struct SamplingOptions {
  float temperature = 0.8f;         // 0 = greedy
  int32_t top_k = 40;               // 0 = off
  float top_p = 0.95f;              // 1 = off
  float min_p = 0.05f;              // 0 = off
  float typical_p = 1.0f;           // 1 = off
  float repetition_penalty = 1.0f;  // llama.cpp/CTRL: positive logits / p, negative * p
  int32_t repeat_last_n = 64;       // window of the repetition penalty; -1 = whole context
  float presence_penalty = 0.0f;    // OpenAI semantics, over generated tokens
  float frequency_penalty = 0.0f;
  std::map<int32_t, float> logit_bias;  // token -> added bias; <= -100 bans the token
  std::optional<uint64_t> seed;         // none: a random seed, reported in the Completion
};

// Where a lazy grammar switches on (Request::grammar_triggers).
struct GrammarTrigger {
  std::string text;
  bool at_start = false;  // only when the output, after leading whitespace, begins with it
};

struct Request {
  std::string prompt;
  std::vector<int32_t> prompt_tokens;  // when not empty: used as is instead of `prompt`
  int64_t max_tokens = 128;
  int64_t min_tokens = 0;  // end-of-generation and stop tokens are banned before this many
  SamplingOptions sampling;
  std::vector<std::string> stop;     // stop strings; the matched string is not returned
  std::vector<int32_t> stop_tokens;  // stop token ids (not returned)
  bool add_special = true;           // BOS/EOS as the model's metadata says
  bool parse_special = false;        // recognise control-token text in the prompt
  bool ignore_eos = false;
  // Most draft tokens per step for this request when the engine drafts (0: none); unset:
  // the engine's draft_max. Not more than the engine's.
  std::optional<int32_t> draft_max;
  int32_t logprobs = -1;        // -1: none; 0..20: each token's log-probability and this many top
                                // alternatives, from the distribution before truncation
  int32_t n = 1;                // completions returned
  int32_t best_of = 0;          // 0: n; else sample best_of and return the n best by mean logprob
  int32_t num_beams = 0;        // > 0: beam search with this many beams, returning the n best
  float length_penalty = 1.0f;  // beam score = sum logprob / length^length_penalty
  bool early_stopping = false;  // beam search ends once num_beams beams have finished
  // Structured output: every completion matches the constraint (at most one of these).
  std::string grammar;              // GBNF (as llama.cpp users write it)
  std::string json_schema;          // a JSON Schema (the text of a JSON object)
  bool json_schema_strict = false;  // OpenAI strict: no extra object members by default
  bool json_object = false;         // JSON mode: any JSON object
  // A lazy `grammar` (tool calls with tool_choice "auto"): when not empty, the output is
  // free until it reaches one of these, and the grammar (whose language starts with the
  // trigger text) constrains it from the trigger's first character on. A trigger that is
  // the text of one control token fires on that token, the grammar starting after it.
  std::vector<GrammarTrigger> grammar_triggers;
  // Seconds from submit after which the request ends wherever it is: every unfinished
  // choice finishes with kLength and `timed_out` set. Unset: no limit; else > 0.
  std::optional<double> timeout;
};

enum class FinishReason { kStop, kLength };
const char* to_string(FinishReason reason);

struct TokenLogprob {
  int32_t token = -1;
  std::string bytes;  // the token's piece (may be part of a UTF-8 sequence)
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // most likely alternatives, best first
};

// One generated token of choice `index`; `text` is the UTF-8 that became complete and
// safe to show with it (possibly empty: held back for a pending stop string or an
// incomplete character). The last event of a choice has `finished` set.
struct TokenEvent {
  int32_t index = 0;
  int32_t token = -1;
  std::string text;
  std::optional<TokenLogprob> logprob;
  bool finished = false;
  FinishReason finish_reason = FinishReason::kLength;
  bool timed_out = false;  // finished because Request::timeout passed (reason kLength)
};

struct Timings {
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // of prompt_tokens, taken from the prefix cache
  int64_t generated_tokens = 0;      // over all choices
  double queue_s = 0;                // submit to start of prefill
  double time_to_first_token_s = 0;  // submit to first sampled token
  double decode_s = 0;               // first to last sampled token
  double prefill_tokens_per_s = 0;   // prompt tokens computed (not cached) per second
  double decode_tokens_per_s = 0;
  int64_t prefill_steps = 0;       // forward passes that computed prompt positions
  int64_t draft_tokens = 0;        // speculative decoding: tokens proposed
  int64_t draft_accepted = 0;      // of those, kept (each saved a forward pass)
  int64_t prompt_evaluations = 0;  // times the prompt was computed (1 for any n / beams)
};

struct Choice {
  int32_t index = 0;
  std::string text;
  std::vector<int32_t> tokens;  // generated tokens (not the prompt)
  FinishReason finish_reason = FinishReason::kLength;
  std::vector<TokenLogprob> logprobs;  // when requested
  double cumulative_logprob = 0;       // sum of the chosen tokens' log-probabilities
  double score = 0;                    // beam search: the length-penalised score
  bool timed_out = false;              // ended by Request::timeout (reason kLength)
};

struct Completion {
  std::vector<Choice> choices;
  uint64_t seed = 0;
  Timings timings;

  const Choice& first() const { return choices.at(0); }
};

using RequestId = uint64_t;

struct RequestCallbacks {
  std::function<void(const TokenEvent&)> on_token;   // called on the engine's thread
  std::function<void(Completion)> on_done;           // after the last token event
  std::function<void(const std::string&)> on_error;  // a failure after submit
};

struct EngineStats {
  int32_t max_sequences = 0;
  int32_t running = 0;  // sequences being computed
  int32_t waiting = 0;  // requests queued for a free sequence
  int64_t kv_capacity_tokens = 0;
  int64_t kv_bytes_per_token = 0;  // one KV position: K and V rows of every layer, as stored
  int64_t kv_used_tokens = 0;      // held by running sequences
  int64_t kv_cached_tokens = 0;    // held only by the prefix cache (reusable, evictable)
  int64_t prefix_cache_queried_tokens = 0;  // prompt tokens looked up in the prefix cache
  int64_t prefix_cache_hit_tokens = 0;      // of those, found there
  int64_t prompt_tokens_total = 0;
  int64_t generated_tokens_total = 0;
  int64_t requests_finished = 0;
};

// Thrown by submit() when every sequence is busy and the queue is full: try again later.
class QueueFullError : public Error {
 public:
  using Error::Error;
};

class Engine {
 public:
  Engine(std::shared_ptr<const Model> model, const EngineOptions& options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  int64_t context() const;
  int threads() const;
  const EngineOptions& options() const;

  // Generates synchronously, calling on_token for every token as it is produced.
  Completion generate(const Request& request,
                      const std::function<void(const TokenEvent&)>& on_token = {});

  // Queues a request; it joins the running batch at the next step (continuous batching).
  // Thread-safe. Validates the request first (loom::Error naming the field); throws
  // QueueFullError when the queue is full. Callbacks run on the engine's thread.
  RequestId submit(Request request, RequestCallbacks callbacks);
  // Stops a request at once and frees its cache; its on_done is not called. Thread-safe.
  void cancel(RequestId id);
  EngineStats stats() const;

  // Logits (tokens.size() rows of n_vocab) of every position, from an empty cache.
  std::vector<float> evaluate(std::span<const int32_t> tokens);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct PerplexityOptions {
  int64_t chunk = 128;  // tokens per chunk; the second half of each chunk is scored
};

struct PerplexityResult {
  double perplexity = 0;
  int64_t n_chunks = 0;
  int64_t n_scored = 0;
  double seconds = 0;
};

// Perplexity as llama.cpp computes it: the text tokenized with BOS, cut into chunks of
// `chunk` tokens, each chunk's first token replaced by BOS and run from an empty cache,
// tokens of its second half scored. progress(done, total) is called per chunk.
PerplexityResult perplexity(Engine& engine, const Model& model, std::string_view text,
                            const PerplexityOptions& options,
                            const std::function<void(int64_t, int64_t)>& progress = {});

// Peak resident memory of this process so far, in bytes.
int64_t peak_memory_bytes();

// Read bandwidth of this machine's memory in bytes/s with `threads` threads: the best of a
// few streaming passes over 1 GiB, plain and prefetching ahead (core/stream_read.h). Decode speed is bounded by it (weight bytes per token x
// tokens/s <= bandwidth), so `loom bench --bandwidth` reports decode as a fraction of it.
double measure_read_bandwidth(int threads);

}  // namespace loom
