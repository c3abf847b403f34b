// The chat page of `loom serve` (stories260K) in headless Chromium: streaming, markdown,
// seeds, the token view, n > 1, beam search, a rejected schema and the settings panel.
// Every test also checks that no request left 127.0.0.1 and that the console stayed clean.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startServer, launchBrowser, openPage, screenshot, setSettings, sendAndWait, lastReply,
} from "./helpers.mjs";

let server;
let browser;
before(async () => {
  server = await startServer(["--parallel", "4", "--ctx-size", "1024"]);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const freshPage = (options) => openPage(browser, server.base, options);

test("the page and its files are served with their types and a cache validator", async () => {
  const index = await fetch(`${server.base}/`);
  assert.equal(index.status, 200);
  assert.equal(index.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(index.headers.get("cache-control"), "no-cache");
  assert.match(await index.text(), /<title>loom chat<\/title>/);
  const etag = index.headers.get("etag");
  assert.match(etag, /^"[0-9a-f]{16}"$/);
  const again = await fetch(`${server.base}/`, { headers: { "If-None-Match": etag } });
  assert.equal(again.status, 304);
  for (const [file, type] of [["app.js", "text/javascript"], ["style.css", "text/css"], ["favicon.svg", "image/svg+xml"], ["index.html", "text/html"]]) {
    const res = await fetch(`${server.base}/${file}`);
    assert.equal(res.status, 200, file);
    assert.ok(res.headers.get("content-type").startsWith(type), `${file}: ${res.headers.get("content-type")}`);
    assert.match(res.headers.get("content-security-policy"), /default-src 'self'/);
  }
  assert.equal((await fetch(`${server.base}/nothing.js`)).status, 404);
});

test("a reply streams into the page in several updates, with its statistics", async () => {
  const p = await freshPage();
  await setSettings(p.page, { max_tokens: 600, ignore_eos: true, temperature: 0 });
  // Record the reply's length at every DOM change while it streams.
  await p.page.evaluate(() => {
    window.lengths = [];
    new MutationObserver(() => {
      const content = document.querySelector("article.msg.assistant .content");
      if (content) window.lengths.push(content.textContent.length);
    }).observe(document.getElementById("messages"), { childList: true, subtree: true, characterData: true });
  });
  const [text] = await sendAndWait(p.page, "Once upon a time");
  const lengths = await p.page.evaluate(() => window.lengths);
  const partial = new Set(lengths.filter((n) => n > 0 && n < text.length));
  assert.ok(partial.size >= 2, `the reply arrived in ${partial.size + 1} updates: ${lengths}`);
  assert.ok(text.length > 100);
  const stats = await p.page.textContent("article.msg.assistant .stats");
  assert.match(stats, /^600 tokens · TTFT \d+ ms · [\d.]+ tok\/s · max tokens reached$/);
  // The conversation is kept in localStorage and titled after the first message.
  const stored = await p.page.evaluate(() => JSON.parse(localStorage.getItem("loom.conversations")));
  assert.equal(stored[0].title, "Once upon a time");
  // (The page shows line breaks as <br>, which textContent leaves out.)
  assert.equal(stored[0].messages[1].choices[0].text.replace(/\n/g, ""), text);
  p.assertLocalOnly();
  p.assertNoErrors();
  await p.page.close();
});

test("markdown renders code blocks and lists, and model text never becomes markup", async () => {
  const p = await freshPage();
  const reply = [
    "Here is a function that reverses a string:",
    "",
    "```python",
    "def reverse(text: str) -> str:",
    '    """Return text backwards."""',
    "    return text[::-1]",
    "```",
    "",
    "How it works:",
    "",
    "1. `text[::-1]` takes a **slice** with step -1.",
    "2. Strings are *immutable*, so a new string is returned.",
    "",
    "| input | output |",
    "|---|---|",
    "| `loom` | `mool` |",
    "",
    "> Tip: <img src=x onerror=\"window.pwned=1\"> <script>window.pwned=2</script> stays text.",
    "[a link](javascript:alert(1)) and [docs](https://docs.python.org/3/)",
  ].join("\n");
  await p.page.evaluate((reply) => {
    localStorage.setItem("loom.conversations", JSON.stringify([{
      id: "c1", title: "Reverse a string in Python", updated: Date.now(),
      messages: [
        { role: "user", content: "How do I reverse a string in Python?" },
        { role: "assistant", choices: [{ text: reply, tokens: [], finish: "stop" }], selected: 0, stats: { tokens: 87, ttft_ms: 12, tokens_per_s: 41.7 } },
      ],
    }]));
  }, reply);
  await p.page.reload();
  await p.page.waitForSelector(".markdown pre code");
  const md = p.page.locator(".msg.assistant .markdown");
  assert.equal(await md.locator("pre code").textContent(), 'def reverse(text: str) -> str:\n    """Return text backwards."""\n    return text[::-1]');
  assert.equal(await md.locator(".code-lang").textContent(), "python");
  assert.equal(await md.locator("ol > li").count(), 2);
  assert.equal(await md.locator("strong").textContent(), "slice");
  assert.equal(await md.locator("em").textContent(), "immutable");
  assert.equal(await md.locator("td code").first().textContent(), "loom");
  assert.equal(await md.locator("img, script").count(), 0);
  assert.match(await md.locator("blockquote").textContent(), /<img src=x onerror="window.pwned=1"> <script>/);
  assert.equal(await md.locator('a[href^="javascript"]').count(), 0);
  assert.equal(await md.locator('a[href="https://docs.python.org/3/"]').count(), 1);
  assert.equal(await p.page.evaluate(() => window.pwned), undefined);
  console.log(`screenshot: ${await screenshot(p.page, "conversation-markdown")}`);
  await p.page.emulateMedia({ colorScheme: "dark" });
  console.log(`screenshot: ${await screenshot(p.page, "conversation-markdown-dark")}`);
  await p.page.emulateMedia({ colorScheme: "light" });
  p.assertLocalOnly();
  p.assertNoErrors();
  await p.page.close();
});

test("the same seed gives the same reply; another seed may differ", async () => {
  const p = await freshPage();
  await setSettings(p.page, { seed: 42, temperature: 1, max_tokens: 40 });
  const [first] = await sendAndWait(p.page, "Once upon a time");
  assert.ok(first.length > 0);
  const regenerate = async () => {
    await p.page.click("article.msg.assistant:last-of-type .regenerate");
    await p.page.waitForSelector("#stop", { state: "visible", timeout: 5000 }).catch(() => {});
    await p.page.waitForSelector("#send", { state: "visible" });
    return (await lastReply(p.page))[0];
  };
  assert.equal(await regenerate(), first);
  const others = [];
  for (const seed of [43, 44]) {
    await setSettings(p.page, { seed });
    others.push(await regenerate());
  }
  assert.ok(others.every((t) => t.length > 0));
  assert.ok(others.some((t) => t !== first), "three seeds gave the same 40 tokens");
  assert.equal(await p.page.locator("article.msg").count(), 2);  // regenerate replaces the reply
  p.assertLocalOnly();
  p.assertNoErrors();
  await p.page.close();
});

test("the token view tints tokens and shows alternatives with the sampler's cuts", async () => {
  const prompt = "Once upon a time";
  // The first token's alternatives for this prompt (raw model probabilities, so they do
  // not depend on the settings): bias the fifth one to see it marked as boosted.
  const probe = await (await fetch(`${server.base}/v1/chat/completions`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: prompt }], max_tokens: 1, logprobs: true, top_logprobs: 8 }),
  })).json();
  const boosted = probe.choices[0].logprobs.content[0].top_logprobs[4].id;

  const p = await freshPage();
  await setSettings(p.page, { top_k: 3, top_logprobs: 8, max_tokens: 30, logit_bias: `${boosted}: 1.5` });
  await sendAndWait(p.page, prompt);
  await p.page.click("article.msg.assistant .token-toggle");
  const tokens = p.page.locator(".content.tokens .tok");
  assert.ok(await tokens.count() >= 10);
  const classes = await tokens.evaluateAll((els) => els.map((e) => e.className));
  assert.ok(classes.every((c) => /\btok t[0-9]\b/.test(c)), classes.join(","));
  await tokens.first().click();
  const panel = p.page.locator("#token-panel");
  await panel.waitFor({ state: "visible" });
  const rows = await panel.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => ({
    id: Number(tr.children[1].textContent), status: tr.lastElementChild.textContent, chosen: tr.classList.contains("chosen"),
  })));
  assert.ok(rows.length >= 8, JSON.stringify(rows));
  const cut = rows.filter((r) => /cut by top-k/.test(r.status));
  assert.equal(cut.length, rows.length - 3, JSON.stringify(rows));
  const chosen = rows.find((r) => r.chosen);
  assert.ok(chosen && !/cut/.test(chosen.status), JSON.stringify(rows));
  assert.match(rows.find((r) => r.id === boosted).status, /boosted \+1\.5/);
  assert.match(await panel.locator(".help-text").textContent(), /before logit bias, penalties/);
  console.log(`screenshot: ${await screenshot(p.page, "token-view")}`);
  await p.page.keyboard.press("Escape");
  await panel.waitFor({ state: "hidden" });
  p.assertLocalOnly();
  p.assertNoErrors();
  await p.page.close();
});

test("n = 2 shows the two choices side by side", async () => {
  const p = await freshPage();
  await setSettings(p.page, { n: 2, max_tokens: 60, temperature: 1 });
  const texts = await sendAndWait(p.page, "Tell me a story about a cat.");
  assert.equal(texts.length, 2);
  assert.ok(texts.every((t) => t.length > 0));
  const boxes = await p.page.locator("article.msg.assistant .choice").evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON()));
  assert.ok(boxes[1].left >= boxes[0].right - 1, "choice 2 is to the right of choice 1");
  assert.ok(Math.abs(boxes[1].top - boxes[0].top) < 2, "the choices start at the same height");
  // "Use" picks the choice the conversation continues with.
  await p.page.click("article.msg.assistant .choice[data-choice='1'] .use");
  assert.equal(await p.page.getAttribute("article.msg.assistant .choice[data-choice='1'] .use", "aria-pressed"), "true");
  console.log(`screenshot: ${await screenshot(p.page, "n2-side-by-side")}`);
  p.assertLocalOnly();
  p.assertNoErrors();
  await p.page.close();
});

test("beam search (not streamed) shows its choices when complete", async () => {
  const p = await freshPage();
  await setSettings(p.page, { n: 2, use_beam_search: true, max_tokens: 12 });
  const texts = await sendAndWait(p.page, "Once upon a time");
  assert.equal(texts.length, 2);
  assert.ok(texts.every((t) => t.length > 0));
  assert.match(await p.page.textContent("article.msg.assistant .stats"), /tokens/);
  p.assertNoErrors();
  await p.page.close();
});

test("a JSON schema the server rejects shows the server's 400 message", async () => {
  const p = await freshPage({ allowedErrors: [/status of 400/] });
  const schema = JSON.stringify({ type: "object", properties: { tags: { type: "array", minItems: 5000 } } });
  await setSettings(p.page, { format: "json_schema", schema, max_tokens: 20 });
  await sendAndWait(p.page, "List some tags");
  const error = p.page.locator("article.msg.assistant .error");
  await error.waitFor({ state: "visible" });
  assert.match(await error.textContent(), /minItems.*above 1000 is not supported/);
  p.assertLocalOnly();
  p.assertNoErrors();
  await p.page.close();
});

test("every control is labelled; the settings panel", async () => {
  const p = await freshPage();
  await p.page.click("#open-settings");
  const unlabelled = await p.page.evaluate(() => [...document.querySelectorAll("input, select, textarea")]
    .filter((e) => !(e.id && document.querySelector(`label[for="${e.id}"]`)) && !e.getAttribute("aria-label"))
    .map((e) => e.id || e.outerHTML));
  assert.deepEqual(unlabelled, []);
  const nameless = await p.page.evaluate(() => [...document.querySelectorAll("button")]
    .filter((b) => !b.textContent.trim() && !b.getAttribute("aria-label")).map((b) => b.outerHTML));
  assert.deepEqual(nameless, []);
  // Every decoding control of the API is there.
  for (const name of ["system", "temperature", "top_k", "top_p", "min_p", "typical_p", "repetition_penalty", "presence_penalty",
    "frequency_penalty", "seed", "max_tokens", "stop", "logit_bias", "n", "use_beam_search", "format", "top_logprobs"]) {
    assert.equal(await p.page.locator(`#set-${name}`).count(), 1, name);
  }
  await p.page.fill("#set-system", "You are a storyteller for children.");
  await p.page.fill("#set-temperature", "0.7");
  await p.page.fill("#set-top_k", "40");
  await p.page.fill("#set-seed", "1234");
  console.log(`screenshot: ${await screenshot(p.page, "settings-panel")}`);
  // Settings survive a reload.
  await p.page.reload();
  await p.page.click("#open-settings");
  assert.equal(await p.page.inputValue("#set-temperature"), "0.7");
  p.assertNoErrors();
  await p.page.close();
});

test("keyboard, edit-and-resend, delete and copy", async () => {
  const p = await freshPage();
  await setSettings(p.page, { max_tokens: 8 });
  // Shift+Enter is a new line, not a send.
  await p.page.fill("#prompt", "first line");
  await p.page.press("#prompt", "Shift+Enter");
  await p.page.keyboard.type("second line");
  assert.equal(await p.page.inputValue("#prompt"), "first line\nsecond line");
  assert.equal(await p.page.locator("article.msg").count(), 0);
  await p.page.press("#prompt", "Enter");
  await p.page.waitForSelector("article.msg.assistant");
  await p.page.waitForSelector("#send", { state: "visible" });
  assert.equal(await p.page.textContent("article.msg.user .bubble"), "first line\nsecond line");
  // Edit the question: the conversation is cut there and answered again.
  await p.page.click("article.msg.user [aria-label='Edit and resend']");
  await p.page.fill("article.msg.user textarea", "Once upon a time");
  await p.page.press("article.msg.user textarea", "Enter");
  await p.page.waitForSelector("#send", { state: "visible" });
  await p.page.waitForSelector("article.msg.assistant .stats:has-text('tokens')");
  assert.equal(await p.page.locator("article.msg").count(), 2);
  assert.equal(await p.page.textContent("article.msg.user .bubble"), "Once upon a time");
  await p.page.click("article.msg.assistant [aria-label='Copy reply']");
  await p.page.waitForSelector("#toast:has-text('Copied')");
  // New chat, then delete the first conversation.
  await p.page.click("#new-chat");
  assert.equal(await p.page.locator("#conversation-list li").count(), 2);
  await p.page.click("#conversation-list [aria-label^='Delete conversation \"first line']");
  assert.equal(await p.page.locator("#conversation-list li").count(), 1);
  p.assertLocalOnly();
  p.assertNoErrors();
  await p.page.close();
});
