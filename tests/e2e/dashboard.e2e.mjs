// Drives the dashboard in headless Chromium (Debian's, through
// playwright-core). Usage: node dashboard.e2e.mjs URL TOKEN WEB_DIR ARTIFACT_DIR
// with ALLOT set to the allot binary (the CLI submits while the page
// watches). Exits non-zero with the first failed check.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const [url, token, webDir, artifacts] = process.argv.slice(2);
const require = createRequire(resolve(webDir, "package.json"));
const { chromium } = require("playwright-core");

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const errors = [];
page.on("pageerror", (error) => errors.push(String(error)));
try {
  await page.goto(url);

  // Log in: a wrong token is refused with the API's message, the right one works.
  const tokenField = page.getByLabel("API token");
  await tokenField.fill("allot_bad.token");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("alert").filter({ hasText: "not valid" }).waitFor();
  check(true, "a wrong token is refused with the API's message");
  await page.getByLabel("API token").fill(token);
  await page.keyboard.press("Enter");
  await page.getByText("Signed in as admin").waitFor();
  check(true, "logged in with the admin token");

  // Overview: GPUs of the simulated node, allocation chart drawn.
  await page.getByRole("region", { name: "GPUs" }).getByText("4").waitFor();
  check(await page.locator("figure.chart canvas").count() >= 2, "overview draws its charts");
  await page.screenshot({ path: join(artifacts, "dashboard-overview.png"), fullPage: true });

  // Keyboard: the skip link first, then the sections; Enter opens one.
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement?.textContent) === "Skip to content",
    "Tab reaches the skip link first");
  let reached = false;
  for (let i = 0; i < 6 && !reached; ++i) {
    await page.keyboard.press("Tab");
    reached = await page.evaluate(() => document.activeElement?.textContent === "Workloads");
  }
  check(reached, "Tab reaches the Workloads link");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Workloads", level: 1 }).waitFor();
  check(true, "Enter on the link opens the Workloads section");

  // Submitted through the CLI while the page watches: appears, running.
  execFileSync(process.env.ALLOT, ["submit", "--name", "live-one", "--gpu", "1", "--",
    "sh", "-c", "echo hello-from-live-one; exec sleep 300"]);
  const liveRow = page.getByRole("row").filter({ hasText: "live-one" });
  await liveRow.filter({ hasText: "running" }).waitFor({ timeout: 20000 });
  check(true, "a workload submitted through the CLI shows up running, live");
  await page.getByRole("row").filter({ hasText: "frac" }).filter({ hasText: "running" }).waitFor();
  check(true, "the fraction runs");

  // GPU use, as an agent reports it (simulated GPUs report none: this
  // test speaks for the local agent with its own token).
  const { readFileSync } = await import("node:fs");
  const agentToken = JSON.parse(readFileSync(process.env.AGENT_STATE, "utf8")).agent_token;
  const beat = await fetch(`${url}/api/v1/nodes/local/heartbeat`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${agentToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ time_ms: Date.now(), tasks: [{ workload: "frac", task: 0, attempt: 1,
      pid: 1, gpu_utilization: 37, gpu_memory_used: "1Gi" }] }),
  });
  check(beat.status === 200, `a heartbeat with task GPU use is taken (${beat.status})`);
  await page.getByRole("row").filter({ hasText: "frac" }).getByText("37%").waitFor({ timeout: 20000 });
  check(true, "the workload list shows the fraction's GPU use");
  // The local agent's own heartbeats (every 5 s) measure nothing on
  // simulated GPUs: they must not turn the reading into an idle 0 %.
  await page.waitForTimeout(6000);
  await page.getByRole("row").filter({ hasText: "frac" }).getByText("37%").waitFor({ timeout: 1000 });
  check(true, "heartbeats from simulated GPUs never report a task idle");
  await page.getByRole("button", { name: "Show workload frac" }).click();
  await page.getByRole("figure", { name: "GPU use of the workload over time" }).locator("canvas").waitFor();
  check(true, "the workload's GPU use is charted");

  // A pending reason.
  const pendingRow = page.getByRole("row").filter({ hasText: "toobig" });
  await pendingRow.filter({ hasText: "pending" }).waitFor();
  const reason = (await pendingRow.locator("td").nth(9).textContent()) ?? "";  // the Reason column
  check(reason.trim().length > 10, `the pending workload shows why: "${reason.trim()}"`);

  // Where it may run and for how long, in its details.
  await page.getByRole("button", { name: "Show workload toobig" }).click();
  const facts = page.getByRole("region", { name: "Workload details" });
  await facts.getByText("default, spare (in this order)").waitFor();
  await facts.getByText("2h", { exact: true }).waitFor();
  check(true, "the details show the node pools in order and the maximum run time");

  // Filters: status=pending hides the running ones.
  await page.getByLabel("Status").selectOption("pending");
  await page.getByRole("row").filter({ hasText: "live-one" }).waitFor({ state: "detached" });
  check(await pendingRow.count() === 1, "the status filter keeps pending work only");
  await page.getByLabel("Status").selectOption("");

  // Details: events of the workload.
  await page.getByRole("button", { name: "Show workload live-one" }).click();
  await page.getByRole("heading", { name: "Workload live-one" }).waitFor();
  await page.getByRole("table", { name: "Events" }).getByText("Bound").first().waitFor({ timeout: 10000 })
    .catch(() => {});
  const events = await page.getByRole("table", { name: "Events" }).locator("tbody tr").count();
  check(events >= 1, "the workload's events are listed");
  await page.getByRole("button", { name: "Show logs" }).click();
  await page.getByLabel("Task log").getByText("hello-from-live-one").waitFor({ timeout: 10000 });
  check(true, "the task's log is shown");

  // A workspace from the page: created, opened through the gateway in a tab
  // of its own (the login's session cookie), its notebook's tree page.
  if (process.env.JUPYTER) {
    await page.getByText("New workspace").click();
    await page.getByLabel("Workspace name").fill("pagenb");
    await page.getByLabel("Serves").selectOption("jupyter");
    await page.getByRole("button", { name: "Create workspace" }).click();
    await page.getByText("workspace pagenb created").waitFor();
    const open = page.getByRole("link", { name: "Open workspace pagenb" });
    await open.waitFor({ timeout: 30000 });
    check(true, "a workspace created from the page runs, with Open on its row");
    let tree = null;
    for (let i = 0; i < 40 && !tree; ++i) {
      const [tab] = await Promise.all([page.context().waitForEvent("page"), open.click()]);
      await tab.waitForLoadState();
      if ((await tab.title()).includes("Home Page")) tree = tab;
      else {
        await tab.close();
        await page.waitForTimeout(500);
      }
    }
    check(tree !== null, "Open shows the notebook's tree page through the gateway");
    await tree.screenshot({ path: join(artifacts, "dashboard-workspace.png") });
    await tree.close();
    await page.getByRole("button", { name: "Stop workspace pagenb" }).click();
    await page.getByRole("button", { name: "Start workspace pagenb" }).waitFor({ timeout: 20000 });
    check(true, "Stop on the row stops it, and Start is offered");
  }

  // A service from the page: created, its replica ready on its row, deleted.
  await page.getByRole("link", { name: "Services" }).click();
  await page.getByText("New service").click();
  await page.getByLabel("Service name").fill("pagesvc");
  await page.getByLabel("Service port").fill("8000");
  await page.getByLabel("Service command").fill("exec /usr/bin/python3 -m http.server $PORT --bind 127.0.0.1");
  await page.getByRole("button", { name: "Create service" }).click();
  await page.getByText("service pagesvc created").waitFor();
  const serviceRow = page.getByRole("row").filter({ hasText: "pagesvc" });
  await serviceRow.filter({ hasText: "1 / 1" }).waitFor({ timeout: 30000 });
  check(true, "a service created from the page gets a ready replica on its row");
  await page.screenshot({ path: join(artifacts, "dashboard-services.png"), fullPage: true });
  await page.getByRole("button", { name: "Delete service pagesvc" }).click();
  await serviceRow.waitFor({ state: "detached", timeout: 10000 });
  check(true, "Delete on the row deletes the service");

  // The GPU map shows the fraction on its GPU.
  await page.getByRole("link", { name: "Nodes" }).click();
  const band = page.locator('.band[data-workload="frac"]');
  await band.waitFor();
  const gpu = page.locator(".gpu").filter({ has: band });
  const label = (await gpu.getAttribute("aria-label")) ?? "";
  check(/frac \(default\) 0\.5/.test(label) && /free 0\.5/.test(label),
    `the GPU map shows the fraction and what is free: "${label}"`);
  await page.screenshot({ path: join(artifacts, "dashboard-nodes.png"), fullPage: true });

  // Projects: the default project holds 1.5 GPUs, and its idle rule set
  // through the CLI shows.
  execFileSync(process.env.ALLOT, ["quota", "set", "default", "--idle-after", "45m"]);
  await page.getByRole("link", { name: "Projects" }).click();
  const project = page.getByRole("row").filter({ hasText: "default" }).filter({ hasText: "project" });
  await project.getByText("1.5").first().waitFor();
  check(true, "the project's allocated GPUs (1.5)");
  await project.getByText("stopped after 45m").waitFor();
  check(true, "the project's idle rule");

  // A project deep in the tree with GPUs per model, under its departments.
  execFileSync(process.env.ALLOT, ["quota", "set", "department/research", "--gpu", "2"]);
  execFileSync(process.env.ALLOT, ["quota", "set", "department/research/vision", "--gpu", "2"]);
  execFileSync(process.env.ALLOT,
    ["quota", "set", "research/vision/detection", "--gpu-model-quota", "A100-80GB=1"]);
  const deep = page.getByRole("row").filter({ hasText: "detection" });
  await deep.getByText("A100-80GB 0/1").waitFor({ timeout: 15000 });
  const order = await page.getByRole("table", { name: "Quotas and use by department and project" })
    .locator("tbody tr td:first-child").allTextContents();
  const at = (name) => order.findIndex((text) => text.trim() === name);
  check(at("research") < at("vision") && at("vision") < at("detection"),
    `departments nest above their projects: ${order.join(", ")}`);

  // Audit: the CLI's submissions are there.
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.getByRole("cell", { name: "POST /api/v1/workloads" }).first().waitFor();
  check(true, "the audit log lists the submissions");

  // Every control in every section has a name a screen reader can read.
  for (const section of ["overview", "projects", "workloads", "nodes", "audit"]) {
    await page.goto(`${url}/#/${section}`);
    await page.getByRole("heading", { level: 1 }).waitFor();
    const unnamed = await page.evaluate(() => {
      const out = [];
      for (const el of document.querySelectorAll("a, button, input, select, textarea, [tabindex]")) {
        if (el.getAttribute("tabindex") === "-1") continue;
        const labelled = el.id && document.querySelector(`label[for="${el.id}"]`);
        const name = el.getAttribute("aria-label") || labelled?.textContent || el.textContent;
        if (!name || !name.trim()) out.push(el.outerHTML.slice(0, 80));
      }
      return out;
    });
    check(unnamed.length === 0, `every control on ${section} has a label ${unnamed.join(" ")}`);
  }
  await page.goto(`${url}/#/workloads`);
  await page.getByRole("row").filter({ hasText: "live-one" }).waitFor();
  await page.screenshot({ path: join(artifacts, "dashboard-workloads.png"), fullPage: true });

  // A revoked token stops at once: a page signed in with it (its watch
  // open) returns to its login.
  const second = execFileSync(process.env.ALLOT, ["token", "create"], { stdio: ["ignore", "pipe", "ignore"] })
    .toString().trim();
  const context = await browser.newContext();
  const other = await context.newPage();
  await other.goto(url);
  await other.getByLabel("API token").fill(second);
  await other.keyboard.press("Enter");
  await other.getByText("Signed in as admin").waitFor();
  await other.waitForTimeout(500); // its watch is open
  execFileSync(process.env.ALLOT, ["token", "revoke", second.split("_")[1]]);
  await other.getByLabel("API token").waitFor({ timeout: 8000 });
  check(true, "a page signed in with a revoked token returns to its login");
  await context.close();
  check(errors.length === 0, `no script errors ${errors.join("; ")}`);
} catch (error) {
  await page.screenshot({ path: join(artifacts, "dashboard-failure.png"), fullPage: true }).catch(() => {});
  console.error(String(error));
  process.exitCode = 1;
} finally {
  await browser.close();
}
