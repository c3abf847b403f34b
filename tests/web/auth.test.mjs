// With --api-key the page and its files load without the key, the page asks for it,
// refuses a wrong one, keeps the right one in localStorage, and then chats.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, openPage, sendAndWait, setSettings } from "./helpers.mjs";

const key = "web-test-key";
let server;
let browser;
before(async () => {
  server = await startServer([], { apiKey: key });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the page is public, the API needs the key", async () => {
  for (const path of ["/", "/app.js", "/style.css"]) assert.equal((await fetch(`${server.base}${path}`)).status, 200, path);
  assert.equal((await fetch(`${server.base}/v1/models`)).status, 401);
  assert.equal((await fetch(`${server.base}/health`)).status, 200);
});

test("the page asks for the key, refuses a wrong one, then works and keeps it", async () => {
  // The browser reports each refused call (HTTP 401) as a console error: expected here.
  const p = await openPage(browser, server.base, { allowedErrors: [/status of 401/] });
  const dialog = p.page.locator("#key-dialog");
  await dialog.waitFor({ state: "visible" });
  await p.page.fill("#key-input", "wrong");
  await p.page.click("#key-save");
  await p.page.waitForFunction(() => document.getElementById("key-error").textContent.length > 0);
  assert.match(await p.page.textContent("#key-error"), /refused/);
  assert.ok(await dialog.isVisible());
  await p.page.fill("#key-input", key);
  await p.page.click("#key-save");
  await dialog.waitFor({ state: "hidden" });
  assert.match(await p.page.textContent("#model-name"), /stories260K/);
  await setSettings(p.page, { max_tokens: 20 });
  const [reply] = await sendAndWait(p.page, "Once upon a time");
  assert.ok(reply.length > 0);
  assert.equal(await p.page.evaluate(() => localStorage.getItem("loom.apiKey")), key);
  // A new load uses the kept key: no dialog.
  await p.page.reload();
  await p.page.waitForFunction(() => document.getElementById("model-name").textContent.length > 0);
  assert.ok(!(await dialog.isVisible()));
  p.assertLocalOnly();
  p.assertNoErrors();
  await p.page.close();
});
