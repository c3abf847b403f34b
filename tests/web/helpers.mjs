// Drives the chat page of a real `loom serve` in Debian's headless Chromium through
// playwright-core. Every test page records each request it makes (all must stay on
// 127.0.0.1) and every console error or uncaught exception (a test fails on any).
import { mkdtempSync, mkdirSync, rmSync, existsSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import assert from "node:assert/strict";

import { loomBin, sharedDir } from "../server/helpers.mjs";

export { startServer, health, waitForHealth, modelPath } from "../server/helpers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "npm/package.json"));
const { chromium } = require("playwright-core");

export const chromiumPath = process.env.LOOM_CHROMIUM ?? "/usr/bin/chromium";
export const screenshotDir = process.env.LOOM_WEB_SCREENSHOTS ?? join(tmpdir(), "loom-web-screenshots");

// A fresh browser profile in a temporary folder; close() removes it.
export async function launchBrowser() {
  assert.ok(existsSync(chromiumPath), `chromium is required for the web tests (${chromiumPath}); scripts/setup.sh --tests installs it`);
  const profile = mkdtempSync(join(tmpdir(), "loom-web-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 820 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// A new page on `base`, with an empty localStorage, recording requests and console errors. `allowedErrors` are regexps of
// console errors the test expects (e.g. the browser's note about an HTTP 400 or 401).
export async function openPage(browser, base, { allowedErrors = [] } = {}) {
  const page = await browser.context.newPage();
  const requests = [];
  const errors = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !allowedErrors.some((re) => re.test(msg.text()))) errors.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  await page.goto(base);
  // Start from an empty localStorage: no conversations, settings or key of earlier tests.
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.waitForSelector("#prompt");
  return {
    page,
    requests,
    errors,
    // Every request went to the server under test: nothing leaves the machine.
    assertLocalOnly() {
      assert.ok(requests.length > 0);
      for (const url of requests) assert.ok(url.startsWith(`${base}/`), `a request left the server: ${url}`);
    },
    assertNoErrors() {
      assert.deepEqual(errors, []);
    },
  };
}

export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

// Fills settings fields by name ({temperature: "0", ignore_eos: true, ...}); the panel
// is opened and closed around it.
export async function setSettings(page, values) {
  const panel = page.locator("#settings");
  if (await panel.isHidden()) await page.click("#open-settings");
  for (const [name, value] of Object.entries(values)) {
    const field = page.locator(`#set-${name}`);
    if (typeof value === "boolean") await field.setChecked(value);
    else if ((await field.evaluate((e) => e.tagName)) === "SELECT") await field.selectOption(String(value));
    else await field.fill(String(value));
  }
  await page.click("#close-settings");
}

// Types `text` into the composer, presses Enter, and waits for the reply to finish
// (the Send button is back). Returns the last assistant message's choice texts.
export async function sendAndWait(page, text, { timeout = 30000 } = {}) {
  await page.fill("#prompt", text);
  await page.press("#prompt", "Enter");
  await page.waitForSelector("#stop", { state: "visible", timeout: 5000 }).catch(() => {});
  await page.waitForSelector("#send", { state: "visible", timeout });
  return lastReply(page);
}

export async function lastReply(page) {
  return page.$$eval("article.msg.assistant:last-of-type .choice .content", (els) => els.map((e) => e.textContent));
}

// A model with real widths (random weights) that decodes slowly enough to stop mid-way;
// made once per build tree by `loom synth`.
export function slowModel(dir) {
  const path = join(dir, "tinyllama-2layers-q4_0.gguf");
  if (!existsSync(path)) {
    const partial = `${path}.partial-${process.pid}`;
    execFileSync(loomBin, ["synth", "--shape", "tinyllama-1.1b", "--type", "q4_0", "--layers", "2",
      "--tokenizer", join(sharedDir, "tokenizer-tests/ggml-vocab-llama-spm.gguf"), "-o", partial], { stdio: "ignore" });
    renameSync(partial, path);
  }
  return path;
}
