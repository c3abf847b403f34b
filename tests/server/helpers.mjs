// Starts a real `loom serve` on a free loopback port for one test file, and the openai
// client pointed at it. LOOM_BIN is the loom binary, LOOM_SHARED_DIR the test data.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "npm/package.json"));
export const OpenAI = require("openai").default ?? require("openai");

export const loomBin = process.env.LOOM_BIN;
export const sharedDir = process.env.LOOM_SHARED_DIR ?? join(here, "../../../shared");
export const modelPath = join(sharedDir, "models/stories260K.gguf");

export async function startServer(extraArgs = [], { apiKey, model = modelPath } = {}) {
  const args = ["serve", "-m", model, "--host", "127.0.0.1", "--port", "0", ...extraArgs];
  if (apiKey) args.push("--api-key", apiKey);
  const child = spawn(loomBin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`loom serve did not start:\n${log}`)), 20000);
    child.stderr.on("data", (data) => {
      log += data;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => reject(new Error(`loom serve exited with ${code}:\n${log}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; ++i) {
    const res = await fetch(`${base}/health`).catch(() => null);
    if (res && res.status === 200) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: apiKey ?? "none", maxRetries: 0, timeout: 60000 });
  return {
    base,
    client,
    log: () => log,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.on("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function health(base) {
  const res = await fetch(`${base}/health`);
  return { status: res.status, body: await res.json() };
}

// Waits until `predicate(health body)` holds (or the time runs out); returns the body.
export async function waitForHealth(base, predicate, ms = 10000) {
  const end = Date.now() + ms;
  let body;
  while (Date.now() < end) {
    body = (await health(base)).body;
    if (predicate(body)) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  return body;
}

export async function collectChatStream(stream) {
  let text = "";
  let role;
  let finish;
  let usage;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.delta.role) role = choice.delta.role;
      if (choice.delta.content) text += choice.delta.content;
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  return { text, role, finish, usage };
}
