// Browser test of the live console: a real sagad on 127.0.0.1, Debian's Chromium headless
// driven by playwright-core. It opens /console, places an order through the API and
// checks that the order shows up in the live feed and that its sequence diagram gains the
// saga's steps as they happen (pushed over /inspect/stream, no reload), and that an order
// past its step budget is listed as stuck. Screenshots go to $ARTIFACT_DIR.
//
// usage: node console.test.js SAGAD_BINARY [ARTIFACT_DIR]

"use strict";
const { chromium } = require("playwright-core");
const { spawn } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");

const sagad = process.argv[2];
const artifacts = process.argv[3] || process.env.ARTIFACT_DIR || path.join(os.tmpdir(), "sagad-console");
const SECRET = "browser-test-secret";
const TOKEN = "browser-test-token";
const deadline = Date.now() + 120000; // the whole test stops by itself
let failures = 0;

function check(cond, what) {
  console.log((cond ? "ok   " : "FAIL ") + what);
  if (!cond) failures++;
}

function startNode() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sagad-browser-"));
  const proc = spawn(sagad, [
    "--set", "http.port=0", "--set", "storage.dir=" + dir,
    "--set", "payment.provider_secret=" + SECRET, "--set", "security.admin_token=" + TOKEN,
    // small budget: an order left waiting for its payment turns stuck within a second
    "--set", "inspect.budget_ms.awaiting_payment=800", "--set", "inspect.tick_ms=200",
    "--set", "log.level=warn",
  ], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("sagad did not get ready")), 30000);
    proc.stdout.on("data", (chunk) => {
      out += chunk;
      const m = /SAGAD READY http_port=(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, dir, base: "http://127.0.0.1:" + m[1] });
      }
    });
    proc.on("exit", (code) => reject(new Error("sagad exited with " + code)));
  });
}

async function api(base, method, p, body, headers = {}) {
  const r = await fetch(base + p, {
    method, headers: { "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

const sign = (o, p, s) => crypto.createHmac("sha256", SECRET).update(`${o}|${p}|${s}`).digest("hex");

async function waitFor(page, selector, what, timeout = 10000) {
  try {
    await page.waitForSelector(selector, { timeout, state: "attached" });
    check(true, what);
  } catch (e) {
    check(false, what + " (" + selector + " not seen in " + timeout + " ms)");
  }
}

(async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  const killer = setTimeout(() => { console.log("FAIL test ran past its deadline"); process.exit(2); },
                            deadline - Date.now());
  const node = await startNode();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
           "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    await page.goto(node.base + "/console");
    await page.waitForSelector("#conn.live", { timeout: 10000 });
    check(true, "console connected to /inspect/stream");
    await page.waitForFunction(() => document.getElementById("s-live").textContent === "0");
    check(true, "summary rendered (0 live orders)");

    const admin = { Authorization: "Bearer " + TOKEN };
    check((await api(node.base, "PUT", "/inventory/sku-console", { on_hand: 50, price_cents: 1250 }, admin)).status === 200,
          "stock set through the API");
    const created = await api(node.base, "POST", "/orders", { customer_id: "cust-browser", items: [{ sku: "sku-console", quantity: 2 }] });
    check(created.status === 201, "order placed through the API");
    const id = created.body.order_id;
    await waitFor(page, `#feed div[data-order="${id}"]`, "the order appears in the live saga feed");

    await page.click(`#feed div[data-order="${id}"]`);
    await waitFor(page, '#seq g[data-event="ordercreated"]', "diagram: ORDER_CREATED arrow");
    await waitFor(page, '#seq g[data-event="inventory_reserved"]', "diagram: INVENTORY_RESERVED arrow");
    await waitFor(page, '#seq g[data-event="payment_initiated"]', "diagram: PAYMENT_INITIATED arrow");
    await waitFor(page, '#seq g[data-pending="awaiting_payment"]', "diagram: waiting for the payment");
    check(!(await page.$('#seq g[data-event="payment_succeeded"]')), "no PAYMENT_SUCCEEDED before the verification");
    await page.screenshot({ path: path.join(artifacts, "console-awaiting-payment.png") });

    // Past its 800 ms budget the order is stuck: listed first, counted in the header.
    await waitFor(page, `#stuck tr[data-order="${id}"]`, "the waiting order is listed as stuck", 8000);
    const stuckCount = await page.textContent("#s-stuck");
    check(Number(stuckCount) >= 1, "header counts stuck sagas (" + stuckCount + ")");

    // The payment arrives: the diagram grows without a reload (pushed by the stream).
    const pid = "pay_" + id;
    const v = await api(node.base, "POST", "/payment/verify",
                        { order_id: id, payment_id: pid, status: "succeeded", signature: sign(id, pid, "succeeded") });
    check(v.status === 200, "payment verified through the API");
    await waitFor(page, '#seq g[data-event="payment_succeeded"]', "diagram: PAYMENT_SUCCEEDED appears live");
    await waitFor(page, '#seq g[data-event="order_completed"]', "diagram: ORDER_COMPLETED appears live");
    await waitFor(page, '#seq g[data-event="inventory_committed"]', "diagram: INVENTORY_COMMITTED appears live");
    await page.waitForFunction(() => (document.getElementById("order-step") || {}).textContent === "completed",
                               null, { timeout: 10000 }).then(() => check(true, "order header shows step completed"),
                                                              () => check(false, "order header shows step completed"));
    const lanes = await page.$$eval("#seq svg > text", (xs) => xs.map((x) => x.textContent));
    check(JSON.stringify(lanes) === JSON.stringify(["gateway", "order", "inventory", "payment", "kafka"]),
          "diagram participants: " + lanes.join(", "));
    // Which node each participant ran on, and the cluster panel (one node here).
    const laneNodes = await page.$$eval("#seq g.lane-node", (xs) => xs.map((x) => x.dataset.lane + "=" + x.textContent));
    check(laneNodes.includes("order=node-1") && laneNodes.includes("inventory=node-1")
          && laneNodes.includes("payment=node-1"), "diagram names each participant's node: " + laneNodes.join(", "));
    const clusterRow = await page.$$eval("#cluster tbody tr", (xs) => xs.map((x) => x.textContent));
    check(clusterRow.length === 1 && clusterRow[0].startsWith("node-1self"), "cluster panel: " + clusterRow.join(" | "));

    // The actors table pages through the API and filters by kind.
    await page.selectOption("#f-kind", "inventory_worker");
    await page.click("#f-go");
    await page.waitForFunction(() => document.querySelectorAll("#actors tbody tr").length === 2, null, { timeout: 5000 })
      .then(() => check(true, "actors table filtered by kind: 2 inventory partitions"),
            () => check(false, "actors table filtered by kind: 2 inventory partitions"));

    // More orders left waiting: all of them turn stuck and the page lists them live.
    const waiting = [];
    for (let i = 0; i < 3; i++) {
      const r = await api(node.base, "POST", "/orders", { customer_id: "cust-" + i, items: [{ sku: "sku-console", quantity: 1 }] });
      waiting.push(r.body.order_id);
    }
    await page.waitForFunction((ids) => ids.every((x) => document.querySelector(`#stuck tr[data-order="${x}"]`)),
                               waiting, { timeout: 10000 })
      .then(() => check(true, "three more waiting orders are listed as stuck"),
            () => check(false, "three more waiting orders are listed as stuck"));
    await page.selectOption("#f-kind", "order");
    await page.click("#f-go");
    await page.waitForFunction(() => document.querySelectorAll("#actors tbody tr").length === 3, null, { timeout: 5000 })
      .then(() => check(true, "actors table lists the 3 live orders"),
            () => check(false, "actors table lists the 3 live orders"));
    await page.screenshot({ path: path.join(artifacts, "console.png") });
    check(pageErrors.length === 0, "no JavaScript errors on the page " + JSON.stringify(pageErrors));
  } catch (e) {
    check(false, "unexpected: " + e.stack);
  } finally {
    await browser.close();
    // The node must have lived through the whole test (closing the browser hangs up its
    // event stream) and stop cleanly; a node that died already has no exit event to come.
    const died = node.proc.exitCode !== null || node.proc.signalCode !== null;
    check(!died, "sagad outlived the browser (exit " + node.proc.exitCode + ", signal "
                 + node.proc.signalCode + ")");
    if (!died) {
      const exited = new Promise((r) => node.proc.on("exit", (code, sig) => r([code, sig])));
      node.proc.kill("SIGTERM");
      const [code, sig] = await exited;
      check(code === 0, "sagad stopped cleanly on SIGTERM (exit " + code + ", signal " + sig + ")");
    }
    fs.rmSync(node.dir, { recursive: true, force: true });
    clearTimeout(killer);
  }
  console.log(failures === 0 ? "console browser test: all checks passed" : failures + " check(s) failed");
  console.log("screenshots in " + artifacts);
  process.exit(failures === 0 ? 0 : 1);
})().catch((e) => { console.error(e); process.exit(1); });
