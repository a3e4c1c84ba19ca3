// Watches one node's live console through a failover: Debian's Chromium headless, driven by
// playwright-core, opens BASE/console, prints "CONSOLE-OPEN" once the page shows the cluster
// table, and keeps it open (the console reads /cluster every 2 s and lists each change of a
// partition's holder) until a line or EOF on stdin, or at most SECONDS. Then, after one more
// of the page's reads, it prints one JSON line, "CONSOLE {...}", with what the page shows:
//   rows:   node id -> {orders, inventory: the partitions it serves now (data-list),
//                       moved: ["orders/4", ...] taken over from their node (bold),
//                       away:  [...] of its own, served elsewhere or by nobody (struck through)}
//   moves:  [{slot: "orders/4", to: "node-3"}, ...] newest first
//   errors: uncaught page errors
// tests/e2e/test_cluster_failover.py runs it around a kill -9, tells it (stdin) once
// GET /cluster shows the moves, and checks what it printed against them. "CONSOLE-FAIL why"
// and exit code 1 when the page could not be opened or read.
//
// usage: node console_cluster.js BASE_URL SECONDS

"use strict";
const { chromium } = require("playwright-core");

const base = process.argv[2];
const seconds = Number(process.argv[3] || 60);

// Resolves at the first line or EOF on stdin (the test saw the moves, or it went away).
const told = new Promise((resolve) => {
  process.stdin.on("data", resolve);
  process.stdin.on("end", resolve);
  process.stdin.on("error", resolve);
});

(async () => {
  const killer = setTimeout(() => { console.log("CONSOLE-FAIL past its deadline"); process.exit(2); },
                            (seconds + 60) * 1000);
  let browser = null;
  let code = 0;
  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
             "--disable-dev-shm-usage"],
    });
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(base + "/console");
    await page.waitForSelector("#cluster tbody tr", { timeout: 15000 });
    console.log("CONSOLE-OPEN " + Date.now() / 1000);
    await Promise.race([told, page.waitForTimeout(seconds * 1000)]);
    await page.waitForTimeout(2500); // one more read of /cluster by the page
    const seen = await page.evaluate(() => {
      const rows = {};
      for (const tr of document.querySelectorAll("#cluster tbody tr")) {
        const list = (kind) => {
          const el = tr.querySelector(`[data-serves="${kind}"]`);
          return el ? el.dataset.list.split(",").filter((x) => x !== "").map(Number) : null;
        };
        rows[tr.dataset.node] = {
          orders: list("orders"), inventory: list("inventory"),
          moved: [...tr.querySelectorAll("[data-moved]")].map((x) => x.dataset.moved),
          away: [...tr.querySelectorAll("[data-away]")].map((x) => x.dataset.away),
        };
      }
      const moves = [...document.querySelectorAll("#cluster-moves .move")]
        .map((x) => ({ slot: x.dataset.move, to: x.dataset.to }));
      return { rows, moves };
    });
    seen.errors = errors;
    console.log("CONSOLE " + JSON.stringify(seen));
  } catch (e) {
    console.log("CONSOLE-FAIL " + e.message);
    code = 1;
  } finally {
    if (browser) await browser.close();
    clearTimeout(killer);
  }
  process.exit(code);
})();
