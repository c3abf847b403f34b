// Two `loom serve` replicas behind HAProxy with deploy/haproxy.cfg, on loopback, under a
// steady load of streamed and whole completions: a replica restarted with SIGTERM (a rolling
// restart) fails no request; a replica killed with SIGKILL fails only the requests it was
// running; and the balancer's view (its stats CSV) follows each step. Then the same
// rolling restart through deploy/run-replicas.sh and deploy/rolling-restart.sh.
// LOOM_BIN is the loom binary, LOOM_SHARED_DIR the test data, LOOM_HAPROXY haproxy.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const deployDir = join(here, "../../deploy");
const config = join(deployDir, "haproxy.cfg");
const loomBin = process.env.LOOM_BIN;
const sharedDir = process.env.LOOM_SHARED_DIR ?? join(here, "../../../shared");
const modelPath = join(sharedDir, "models/stories260K.gguf");
const haproxyPath = process.env.LOOM_HAPROXY || "/usr/sbin/haproxy";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = new Set();
after(() => {
  for (const child of children) child.kill("SIGKILL");
});

// A free port, or with `consecutive` the first of that many free ports in a row (as
// run-replicas.sh uses them). The replicas need fixed ports: a restart comes back on its own.
const takenPorts = new Set();
async function freePort(consecutive = 1) {
  const listen = (port) => new Promise((resolve) => {
    const server = createServer();
    server.on("error", () => resolve(null));
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
  for (;;) {
    const servers = [await listen(0)];
    const first = servers[0].address().port;
    while (servers.length < consecutive && servers.at(-1)) servers.push(await listen(first + servers.length));
    await Promise.all(servers.filter(Boolean).map((server) => new Promise((r) => server.close(r))));
    const ports = servers.map((_, i) => first + i);
    if (servers.every(Boolean) && !ports.some((p) => takenPorts.has(p))) {
      ports.forEach((p) => takenPorts.add(p));
      return first;
    }
  }
}

// Starts a process and keeps its output (shown when an assertion fails).
function launch(command, args, env = {}) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  children.add(child);
  const proc = { child, log: "" };
  child.stdout.on("data", (d) => (proc.log += d));
  child.stderr.on("data", (d) => (proc.log += d));
  proc.exited = new Promise((resolve) =>
    child.on("exit", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }));
  return proc;
}

const replicaOptions = ["--parallel", "4", "--ctx-size", "2048"];

// Waits until the loom on `port` answers /health with 200 (ready); false if `proc` exits first.
async function waitReady(port, proc, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end && proc.child.exitCode === null) {
    const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
    if (res && res.status === 200) return true;
    await sleep(50);
  }
  return false;
}

async function startReplica(name, port) {
  const replica = launch(loomBin, ["serve", "-m", modelPath, "--host", "127.0.0.1", "--port", String(port),
    ...replicaOptions]);
  if (!(await waitReady(port, replica))) assert.fail(`replica ${name} did not become ready on port ${port}:\n${replica.log}`);
  return replica;
}

// The balancer's view: the `loom` backend's rows of the stats CSV, by server name.
async function balancer(statsPort) {
  const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
  const [header, ...lines] = csv.trim().split("\n");
  const columns = header.replace(/^# /, "").split(",");
  const rows = {};
  for (const line of lines) {
    const row = Object.fromEntries(line.split(",").map((v, i) => [columns[i], v]));
    if (row.pxname === "loom") rows[row.svname] = row;
  }
  return rows;
}

async function waitForBalancer(statsPort, want, ms = 15000) {
  const end = Date.now() + ms;
  let view;
  while (Date.now() < end) {
    view = await balancer(statsPort).catch(() => null);
    if (view && Object.entries(want).every(([server, status]) => view[server]?.status === status)) return view;
    await sleep(100);
  }
  const seen = view && Object.fromEntries(Object.entries(view).map(([s, r]) => [s, r.status]));
  assert.fail(`balancer never showed ${JSON.stringify(want)}; last seen ${JSON.stringify(seen)}`);
}

// One request through the balancer, streamed or not: its error, or null when it came back whole.
async function completion(base, stream, maxTokens) {
  const body = { model: "x", prompt: "Once upon a time", max_tokens: maxTokens, ignore_eos: true, stream };
  const res = await fetch(`${base}/v1/completions`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) return `HTTP ${res.status}: ${text.slice(0, 200)}`;
  if (!stream) {
    const reply = JSON.parse(text);
    return reply.usage?.completion_tokens === maxTokens ? null : `incomplete: ${text.slice(0, 200)}`;
  }
  const events = text.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
  if (events.at(-1) !== "[DONE]") return `stream cut after ${events.length} events`;
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  if (chunks.some((c) => c.error)) return `stream error: ${JSON.stringify(chunks.find((c) => c.error))}`;
  const finish = chunks.findLast((c) => c.choices?.[0]?.finish_reason)?.choices[0].finish_reason;
  return finish === "length" ? null : `stream ended with finish_reason ${finish}`;
}

// `clients` loops sending requests until stop(); each request is kept with its start and
// end times and its error (null when it succeeded).
function startLoad(base, clients) {
  const requests = [];
  let running = true;
  const loops = Array.from({ length: clients }, async (_, client) => {
    for (let i = 0; running; ++i) {
      const request = { client, stream: i % 2 === 0, start: Date.now() };
      requests.push(request);
      // 32 to 331 tokens: tens to hundreds of milliseconds, so the signals catch some running.
      request.error = await completion(base, request.stream, 32 + ((client * 37 + i * 61) % 300))
        .catch((e) => `${e.message}${e.cause ? ` (${e.cause.message ?? e.cause})` : ""}`);
      request.end = Date.now();
    }
  });
  return {
    requests,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

// Waits until the replica runs a request (so that a signal catches it at work).
async function waitRunning(port) {
  const end = Date.now() + 5000;
  let running = 0;
  while (Date.now() < end && running === 0) {
    running = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()).running;
    if (!running) await sleep(10);
  }
  assert.ok(running > 0, `replica on port ${port} never ran a request`);
  return running;
}

const failures = (requests) => requests.filter((r) => r.error);
const t0 = Date.now();
const describe = (requests) => requests.map((r) => `${r.stream ? "stream" : "whole"} at ${r.start - t0} ms: ${r.error}`).join("\n");
const tail = (log, lines = 40) => log.trimEnd().split("\n").slice(-lines).join("\n");

test("replicas behind HAProxy: SIGTERM drains without a failed request, SIGKILL fails only what ran there", async (t) => {
  assert.ok(loomBin, "LOOM_BIN must name the loom binary");
  assert.ok(existsSync(haproxyPath), `haproxy is required for this test (${haproxyPath}); scripts/setup.sh --tests installs it`);
  const [portA, portB, lbPort, statsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const replicas = { a: await startReplica("a", portA), b: await startReplica("b", portB) };

  // The server list run-replicas.sh would write; all the policy comes from deploy/haproxy.cfg.
  const dir = mkdtempSync(join(tmpdir(), "loom-deploy-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const servers = join(dir, "replicas.cfg");
  writeFileSync(servers, `backend loom\n    server a 127.0.0.1:${portA}\n    server b 127.0.0.1:${portB}\n`);
  const haproxy = launch(haproxyPath, ["-db", "-f", config, "-f", servers], {
    LOOM_LB_BIND: `127.0.0.1:${lbPort}`, LOOM_LB_STATS_BIND: `127.0.0.1:${statsPort}`,
  });
  const logs = () => ["a", "b"].map((n) => `--- replica ${n}:\n${tail(replicas[n].log)}`).join("\n") +
    `\n--- haproxy:\n${tail(haproxy.log)}`;
  let load;
  try {
    await waitForBalancer(statsPort, { a: "UP", b: "UP" });
    const base = `http://127.0.0.1:${lbPort}`;
    load = startLoad(base, 6);
    await sleep(1500);
    assert.equal(failures(load.requests).length, 0, `requests fail before anything happened:\n${describe(failures(load.requests))}`);

    // A rolling restart of A: it drains (its running requests finish, the ones that still
    // reach it get a 503 that HAProxy retries on B), exits 0, and comes back on its port.
    const runningA = await waitRunning(portA);
    replicas.a.child.kill("SIGTERM");
    const termAt = Date.now();
    const viewDraining = await waitForBalancer(statsPort, { a: "DOWN", b: "UP" });
    assert.deepEqual(await replicas.a.exited, { code: 0, signal: null }, replicas.a.log);
    assert.match(replicas.a.log, /draining/);
    replicas.a = await startReplica("a", portA);
    await waitForBalancer(statsPort, { a: "UP", b: "UP" });
    await sleep(1000);  // A takes requests again
    const failedAroundTerm = failures(load.requests);
    t.diagnostic(`SIGTERM: A ran ${runningA} requests, ${load.requests.length} requests so far, ` +
      `balancer retries ${viewDraining.a.wretr}, redispatches ${viewDraining.a.wredis}`);
    assert.equal(failedAroundTerm.length, 0, `a request failed around the SIGTERM:\n${describe(failedAroundTerm)}`);
    const servedByA = Number((await balancer(statsPort)).a.stot);

    // B is killed: what it was running may fail, every later request succeeds (HAProxy
    // retries a refused connection on A until its health checks take B out).
    await sleep(500);
    const runningB = await waitRunning(portB);
    replicas.b.child.kill("SIGKILL");
    const killAt = Date.now();
    const viewKilled = await waitForBalancer(statsPort, { a: "UP", b: "DOWN" });
    assert.equal((await replicas.b.exited).signal, "SIGKILL");
    await sleep(1000);  // requests while B is down
    replicas.b = await startReplica("b", portB);
    const servedByB = Number((await waitForBalancer(statsPort, { a: "UP", b: "UP" })).b.stot);
    await sleep(1000);
    await load.stop();

    const afterKill = load.requests.filter((r) => r.start >= killAt);
    const failed = failures(load.requests);
    const failedLate = failed.filter((r) => r.start >= killAt);
    const failedEarly = failed.filter((r) => r.start < termAt || (r.start < killAt && r.end < killAt));
    // Of B's running requests, only streams fail: one not answered yet is retried on A.
    t.diagnostic(`SIGKILL: B ran ${runningB} requests, ${failed.length} failed ` +
      `(${failed.filter((r) => r.stream).length} streams), ${afterKill.length} started after it; ` +
      `${load.requests.length} requests in all; B was ${viewKilled.b.status} (check ${viewKilled.b.check_status})`);
    assert.equal(failedLate.length, 0, `a request started after the SIGKILL failed:\n${describe(failedLate)}`);
    assert.equal(failedEarly.length, 0, `a request that ended before the SIGKILL failed:\n${describe(failedEarly)}`);
    assert.ok(afterKill.length >= 20, `only ${afterKill.length} requests after the SIGKILL`);
    const view = await balancer(statsPort);
    assert.ok(Number(view.a.stot) > servedByA, "A served nothing after its restart");
    assert.ok(Number(view.b.stot) > servedByB, "B served nothing after its restart");

    for (const name of ["a", "b"]) {
      replicas[name].child.kill("SIGTERM");
      assert.equal((await replicas[name].exited).code, 0, replicas[name].log);
    }
  } catch (error) {
    error.message += `\n${logs()}`;
    throw error;
  } finally {
    haproxy.child.kill("SIGTERM");  // first, so that no request of the load can hang
    await load?.stop();
    await haproxy.exited;
  }
});

test("deploy/run-replicas.sh and deploy/rolling-restart.sh: a rolling restart under load fails no request", async (t) => {
  assert.ok(existsSync(haproxyPath), `haproxy is required for this test (${haproxyPath}); scripts/setup.sh --tests installs it`);
  const [lbPort, statsPort, firstPort] = [await freePort(), await freePort(), await freePort(2)];
  const runDir = mkdtempSync(join(tmpdir(), "loom-deploy-"));
  const env = { LOOM_BIN: loomBin, LOOM_RUN_DIR: runDir, PATH: `${dirname(haproxyPath)}:${process.env.PATH}` };
  const pid = (name) => Number(readFileSync(join(runDir, `${name}.pid`), "utf8"));
  const pids = () => [pid("replica1"), pid("replica2")];
  const alive = (id) => { try { process.kill(id, 0); return true; } catch { return false; } };
  const run = launch(join(deployDir, "run-replicas.sh"), ["-m", modelPath, "-n", "2", "--port", String(lbPort),
    "--stats-port", String(statsPort), "--first-port", String(firstPort), "--", ...replicaOptions], env);
  t.after(() => {
    // The replicas and HAProxy run in their own sessions: after a failure, end them here.
    for (const name of ["replica1", "replica2", "haproxy"]) {
      const id = existsSync(join(runDir, `${name}.pid`)) && pid(name);
      if (id && alive(id)) process.kill(id, "SIGKILL");
    }
    rmSync(runDir, { recursive: true, force: true });
  });
  const logs = () => ["replica1.log", "replica2.log", "haproxy.log"].map((f) => {
    const path = join(runDir, f);
    return `--- ${f}:\n${existsSync(path) ? tail(readFileSync(path, "utf8")) : ""}`;
  }).join("\n") + `\n--- run-replicas.sh:\n${run.log}`;
  let load;
  try {
    for (const port of [firstPort, firstPort + 1]) assert.ok(await waitReady(port, run), `no replica ready on ${port}`);
    await waitForBalancer(statsPort, { replica1: "UP", replica2: "UP" });
    const before = pids();
    load = startLoad(`http://127.0.0.1:${lbPort}`, 4);
    await sleep(1000);
    const restart = launch(join(deployDir, "rolling-restart.sh"), ["--stats-port", String(statsPort), "--timeout", "30"], env);
    assert.deepEqual(await restart.exited, { code: 0, signal: null }, restart.log);
    assert.match(restart.log, /replica1 is back[^]*replica2 is back/);
    await sleep(1000);
    await load.stop();
    const restarted = pids();
    assert.ok(before.every((pid, i) => pid !== restarted[i] && !alive(pid)), `not restarted: ${before} -> ${restarted}`);
    const failed = failures(load.requests);
    t.diagnostic(`rolling restart: ${load.requests.length} requests`);
    assert.equal(failed.length, 0, `a request failed in the rolling restart:\n${describe(failed)}`);
    await waitForBalancer(statsPort, { replica1: "UP", replica2: "UP" });

    // SIGTERM (Ctrl-C) stops it all: the replicas drain and exit, HAProxy too.
    run.child.kill("SIGTERM");
    assert.equal((await run.exited).code, 0);
    assert.ok(!restarted.some(alive), "a replica outlived run-replicas.sh");
    assert.equal(await fetch(`http://127.0.0.1:${lbPort}/health`).then(() => "up", () => "gone"), "gone");
  } catch (error) {
    error.message += `\n${logs()}`;
    throw error;
  } finally {
    if (run.child.exitCode === null) run.child.kill("SIGTERM");
    await load?.stop();
    await Promise.race([run.exited, sleep(10000)]);
  }
});
