// Writes vocabulary-only GGUF files (tokenizer.* keys, no tensors) from a Hugging Face
// tokenizer.json and tokenizer_config.json, as llama.cpp's converter lays them out, for
// the families whose tokenizer.json `loom synth` does not take itself (Qwen's NFC
// normaliser, Gemma's SentencePiece-style BPE). `loom synth --tokenizer FILE.gguf` then
// copies these keys into a random-weight model. Written independently of loom's code.
//
// What a tokenizer.json does not hold is marked where it is chosen: Gemma's SentencePiece
// scores (the rank of the merge that makes a piece stands in for them) and Qwen's BOS id
// (config.json's bos_token_id, <|endoftext|>).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// llama.cpp's token types.
export const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 };

const kU32 = 4;
const kF32 = 6;
const kBool = 7;
const kString = 8;
const kArray = 9;
const kI32 = 5;

// entries: [key, kind, value] with kind one of "string", "u32", "bool", "string[]",
// "i32[]", "f32[]".
export function writeGguf(path, entries) {
  const parts = [];
  const u32 = (v) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    parts.push(b);
  };
  const u64 = (v) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    parts.push(b);
  };
  const string = (s) => {
    const bytes = Buffer.from(s, "utf8");
    u64(bytes.length);
    parts.push(bytes);
  };
  const typedArray = (type, values, write) => {
    u32(kArray);
    u32(type);
    u64(values.length);
    const b = Buffer.alloc(4 * values.length);
    values.forEach((v, i) => write(b, v, 4 * i));
    parts.push(b);
  };
  parts.push(Buffer.from("GGUF", "latin1"));
  u32(3); // version
  u64(0); // tensors
  u64(entries.length);
  for (const [key, kind, value] of entries) {
    string(key);
    if (kind === "string") {
      u32(kString);
      string(value);
    } else if (kind === "u32") {
      u32(kU32);
      u32(value);
    } else if (kind === "bool") {
      u32(kBool);
      parts.push(Buffer.from([value ? 1 : 0]));
    } else if (kind === "string[]") {
      u32(kArray);
      u32(kString);
      u64(value.length);
      for (const s of value) string(s);
    } else if (kind === "i32[]") {
      typedArray(kI32, value, (b, v, o) => b.writeInt32LE(v, o));
    } else if (kind === "f32[]") {
      typedArray(kF32, value, (b, v, o) => b.writeFloatLE(v, o));
    } else {
      throw new Error(`writeGguf: unknown kind ${kind} for ${key}`);
    }
  }
  const size = parts.reduce((n, p) => n + p.length, 0);
  parts.push(Buffer.alloc((32 - (size % 32)) % 32)); // the (empty) data section's alignment
  writeFileSync(path, Buffer.concat(parts));
}

function readJson(path) {
  return JSON.parse(readFileSync(path, "utf8"));
}

// A token as tokenizer_config.json names it: a string, {content: ...}, or null.
function tokenText(token) {
  if (token === null || token === undefined) return undefined;
  return typeof token === "string" ? token : token.content;
}

// Token texts by id (model.vocab and added_tokens) and the added tokens' types.
function tokensById(tokenizer, typeOf) {
  const tokens = [];
  const types = [];
  for (const [text, id] of Object.entries(tokenizer.model.vocab)) {
    tokens[id] = text;
    types[id] = typeOf(text);
  }
  for (const added of tokenizer.added_tokens) {
    tokens[added.id] = added.content;
    types[added.id] = added.special ? TokenType.control : TokenType.userDefined;
  }
  for (let id = 0; id < tokens.length; ++id) {
    if (tokens[id] === undefined) throw new Error(`token id ${id} has no text`);
  }
  return { tokens, types };
}

const mergeText = (merge) => (typeof merge === "string" ? merge : merge.join(" "));

function idOf(tokens, text, what) {
  const id = tokens.indexOf(text);
  if (id < 0) throw new Error(`${what} ${JSON.stringify(text)} is not in the vocabulary`);
  return id;
}

function specialIds(tokens, config, names) {
  const entries = [];
  for (const [configKey, ggufKey] of names) {
    const text = tokenText(config[configKey]);
    if (text !== undefined) entries.push([`tokenizer.ggml.${ggufKey}_token_id`, "u32", idOf(tokens, text, configKey)]);
  }
  return entries;
}

// Qwen2 / Qwen2.5 / Qwen3: byte-level BPE with the "qwen2" pre-tokenizer.
export function writeQwenVocab(modelsDir, outPath) {
  const tokenizer = readJson(join(modelsDir, "tokenizer.json"));
  const config = readJson(join(modelsDir, "tokenizer_config.json"));
  const { tokens, types } = tokensById(tokenizer, () => TokenType.normal);
  writeGguf(outPath, [
    ["tokenizer.ggml.model", "string", "gpt2"],
    ["tokenizer.ggml.pre", "string", "qwen2"],
    ["tokenizer.ggml.tokens", "string[]", tokens],
    ["tokenizer.ggml.token_type", "i32[]", types],
    ["tokenizer.ggml.merges", "string[]", tokenizer.model.merges.map(mergeText)],
    // config.json's bos_token_id (tokenizer_config.json names none).
    ["tokenizer.ggml.bos_token_id", "u32", idOf(tokens, "<|endoftext|>", "bos")],
    ...specialIds(tokens, config, [["eos_token", "eos"], ["pad_token", "padding"]]),
    ["tokenizer.ggml.add_bos_token", "bool", config.add_bos_token ?? false],
    ["tokenizer.chat_template", "string", config.chat_template],
  ]);
  return { tokens };
}

// Gemma / Gemma 2 / Gemma 3: SentencePiece BPE (GGUF model "llama"), no space prefix.
// `chatTemplate` is given for a package whose tokenizer_config.json has none.
export function writeGemmaVocab(modelsDir, outPath, chatTemplate) {
  const tokenizer = readJson(join(modelsDir, "tokenizer.json"));
  const config = readJson(join(modelsDir, "tokenizer_config.json"));
  const unk = tokenText(config.unk_token);
  const { tokens, types } = tokensById(tokenizer, (text) =>
    text === unk ? TokenType.unknown : /^<0x[0-9A-F]{2}>$/.test(text) ? TokenType.byte : TokenType.normal,
  );
  // SentencePiece merges the pair whose piece scores highest; the tokenizer.json merges
  // are in that order, so minus the first merge that makes a piece orders pieces alike.
  const rank = new Map();
  tokenizer.model.merges.forEach((merge, i) => {
    const piece = typeof merge === "string" ? merge.replace(" ", "") : merge.join("");
    if (!rank.has(piece)) rank.set(piece, i);
  });
  const scores = tokens.map((t) => -(rank.get(t) ?? tokenizer.model.merges.length));
  writeGguf(outPath, [
    ["tokenizer.ggml.model", "string", "llama"],
    ["tokenizer.ggml.pre", "string", "default"],
    ["tokenizer.ggml.tokens", "string[]", tokens],
    ["tokenizer.ggml.scores", "f32[]", scores],
    ["tokenizer.ggml.token_type", "i32[]", types],
    ...specialIds(tokens, config, [
      ["bos_token", "bos"],
      ["eos_token", "eos"],
      ["unk_token", "unknown"],
      ["pad_token", "padding"],
    ]),
    ["tokenizer.ggml.add_bos_token", "bool", config.add_bos_token ?? true],
    ["tokenizer.ggml.add_eos_token", "bool", config.add_eos_token ?? false],
    ["tokenizer.ggml.add_space_prefix", "bool", false],
    ["tokenizer.chat_template", "string", config.chat_template ?? chatTemplate],
  ]);
  return { tokens };
}
