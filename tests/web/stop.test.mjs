// Stopping a reply in the page (Escape, then the Stop button) aborts its request, and the
// server frees the sequence: /health falls back to no running request and no KV use.
// Uses a 2-layer model at TinyLlama's widths, slow enough to stop mid-way.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, openPage, setSettings, health, waitForHealth, slowModel } from "./helpers.mjs";

let server;
let browser;
before(async () => {
  const model = slowModel(process.env.LOOM_WEB_WORK_DIR ?? process.cwd());
  server = await startServer(["--parallel", "2", "--ctx-size", "2048", "--threads", "1"], { model });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

for (const how of ["Escape", "the Stop button"]) {
  test(`${how} stops a long reply and the server frees its sequence`, async () => {
    const p = await openPage(browser, server.base);
    await setSettings(p.page, { max_tokens: 2000, ignore_eos: true });
    await p.page.fill("#prompt", "Write a very long story.");
    await p.page.press("#prompt", "Enter");
    // Wait until text streams in and the server is generating it.
    await p.page.waitForFunction(() => document.querySelector("article.msg.assistant:last-of-type .content")?.textContent.length > 10);
    const busy = await health(server.base);
    assert.equal(busy.body.running, 1);
    if (how === "Escape") await p.page.keyboard.press("Escape");
    else await p.page.click("#stop");
    await p.page.waitForSelector("#send", { state: "visible", timeout: 5000 });
    const idle = await waitForHealth(server.base, (h) => h.running === 0 && h.kv_used_tokens === 0, 5000);
    assert.equal(idle.running, 0);
    assert.equal(idle.waiting, 0);
    assert.equal(idle.kv_used_tokens, 0);
    const stats = await p.page.textContent("article.msg.assistant:last-of-type .stats");
    assert.match(stats, /^\d+ tokens · .*stopped$/);
    const tokens = Number(/^(\d+)/.exec(stats)[1]);
    assert.ok(tokens > 0 && tokens < 2000, stats);
    // The page's live view shows the idle server too.
    await p.page.waitForFunction(() => document.getElementById("srv-running").textContent === "0 / 2");
    p.assertLocalOnly();
    p.assertNoErrors();
    await p.page.close();
  });
}
