// The console and the widget in a real browser: Debian's chromium driven by playwright-core
// against the real leadbot binary on a fresh PostgreSQL database.
//   node .ci/browser/console.mjs <path to leadbot> <screenshot dir>
// Needs DATABASE_URL (a PostgreSQL server URL) and psql (to age one lead into "stuck").
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createServer } from "node:http";
import { chromium } from "playwright-core";

const [bin, shots] = process.argv.slice(2);
if (!bin || !shots) throw new Error("usage: console.mjs <leadbot> <screenshot dir>");
mkdirSync(shots, { recursive: true });
const server = process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const dbName = `leadbot_browser_${process.pid}`;
const dbUrl = server.replace(/\/[^/]*$/, `/${dbName}`);
const port = 20000 + (process.pid % 20000);
const base = `http://127.0.0.1:${port}`;
// The business's site: another origin on the loopback (Chromium keeps public pages off loopback).
const site = `http://127.0.0.1:${port + 1}`;
const OP = "browser-test-operator-token-0123456789";
const dir = mkdtempSync(path.join(tmpdir(), "leadbot-browser-"));
const env = {
  ...process.env,
  DATABASE_URL: dbUrl,
  LEADBOT_LISTEN: `127.0.0.1:${port}`,
  LEADBOT_OPERATOR_TOKEN: OP,
  LEADBOT_CONFIG_DIR: path.resolve("config"),
  LEADBOT__WIDGET__NAME: "Окна Юг",
  LEADBOT__WIDGET__COLOR: "#e11d48",
  LEADBOT__WIDGET__PRIVACY_URL: `${site}/privacy`,
  LEADBOT__WIDGET__ALLOWED_ORIGINS: `["${site}"]`,
  RUST_LOG: "warn",
};

function check(cond, what) {
  if (!cond) throw new Error(`browser test: ${what}`);
  console.log(`ok - ${what}`);
}
function user(name, role, extra) {
  execFileSync(bin, ["user", "add", name, "--role", role, ...extra], {
    cwd: dir, env: { ...env, LEADBOT_NEW_PASSWORD: `${name}-password` }, stdio: ["ignore", "ignore", "inherit"],
  });
}
function psql(sql) {
  execFileSync("psql", [dbUrl, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], { stdio: ["ignore", "ignore", "inherit"] });
}
async function api(method, p, body, headers = {}) {
  const r = await fetch(base + p, {
    method, headers: { "content-type": "application/json", authorization: `Bearer ${OP}`, ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, f, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`browser test: timed out waiting for ${what}`);
    await sleep(100);
  }
}

let service;
let browser;
let siteServer;
try {
  // Users first (the command creates and migrates the database).
  user("boss", "admin", []);
  user("anna", "manager", ["--manager-id", "1"]);
  service = spawn(bin, ["serve"], { cwd: dir, env, stdio: ["ignore", "ignore", "inherit"] });
  await until("leadbot ready", async () => (await fetch(`${base}/readyz`).catch(() => null))?.ok);

  // Leads: two with phones (one per manager), one the bot holds, made stuck by a day's silence.
  const ids = {};
  for (const [ext, phone] of [["b1", "+7 918 123-45-67"], ["b2", "+7 918 765-43-21"]]) {
    const made = await api("POST", "/api/v1/leads", { source: "site", external_id: ext, channel: "webchat", text: `мой номер ${phone}` });
    const lead = await until("assignment", async () => {
      const l = (await api("GET", `/api/v1/leads/${made.body.id}`)).body;
      return l.status === "assigned" && l;
    });
    ids[lead.manager_id] = lead.id;
  }
  const stuck = await api("POST", "/api/v1/leads", { source: "site", external_id: "b3", channel: "webchat", name: "Ольга", text: "здравствуйте, есть доставка?" });
  const stuckId = stuck.body.id;
  const chatToken = stuck.body.chat_token;
  await until("bot processing", async () => (await api("GET", `/api/v1/leads/${stuckId}`)).body.status === "bot_processing");
  psql(`UPDATE leads SET updated_at = now() - interval '1 day' WHERE id = ${stuckId}`);

  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    // playwright gives every launch a fresh temporary profile (its own --user-data-dir).
  });

  // The admin signs in and finds the stuck lead on top.
  const admin = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await admin.newPage();
  await page.goto(`${base}/console`);
  check(page.url().endsWith("/console/login"), "an anonymous visitor is sent to sign in");
  await page.fill("input[name=username]", "boss");
  await page.fill("input[name=password]", "boss-password");
  await Promise.all([page.waitForURL(`${base}/console`), page.click("button[type=submit]")]);
  const first = await page.locator("table.leads tbody tr").first();
  check((await first.getAttribute("data-lead")) === String(stuckId), "the stuck lead is listed first");
  check((await first.getAttribute("class")) === "stuck", "and marked stuck");
  await page.screenshot({ path: path.join(shots, "console-leads-1280x800.png"), fullPage: true });
  await first.locator("a").click();
  await page.waitForURL(`${base}/console/leads/${stuckId}`);
  await page.click("text=Перезапустить актор");
  await page.waitForURL(`${base}/console/leads/${stuckId}`);
  check((await page.textContent("#actor")).includes("работает"), "the restarted actor runs");

  // Take over and answer: the reply reaches the client's web chat, named.
  await page.click("text=Взять разговор на себя");
  await page.waitForSelector("#taken");
  await page.fill("form.reply textarea", "Да, доставляем по городу бесплатно");
  await page.click("form.reply button");
  await page.waitForSelector("text=Да, доставляем по городу бесплатно");
  const t = await fetch(`${base}/api/v1/leads/${stuckId}/transcript`, { headers: { "x-chat-token": chatToken } }).then((r) => r.json());
  const last = t.transcript[t.transcript.length - 1];
  check(last.text === "Да, доставляем по городу бесплатно" && last.author === "boss", "the reply reached the client's chat, from boss");
  await page.screenshot({ path: path.join(shots, "console-lead-1280x800.png"), fullPage: true });

  // A manager cannot open another manager's lead.
  const mgr = await browser.newContext();
  const mp = await mgr.newPage();
  await mp.goto(`${base}/console/login`);
  await mp.fill("input[name=username]", "anna");
  await mp.fill("input[name=password]", "anna-password");
  await Promise.all([mp.waitForURL(`${base}/console`), mp.click("button[type=submit]")]);
  const own = await mp.goto(`${base}/console/leads/${ids["1"]}`);
  check(own.status() === 200, "the manager opens their own lead");
  const other = await mp.goto(`${base}/console/leads/${ids["2"]}`);
  check(other.status() === 403, "another manager's lead is 403");

  // The widget on a business's site, at phone and desktop widths.
  const sitePage = `<!doctype html><html lang="ru"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Окна Юг</title></head>
    <body style="margin:0;font-family:sans-serif"><header style="padding:24px;background:#f1f5f9"><h1>Окна Юг</h1><p>Пластиковые окна в Ростове</p></header>
    <main style="padding:24px"><p>Каталог, цены, монтаж.</p></main>
    <script src="${base}/widget.js" async></script></body></html>`;
  // A real local server for the site's page (another origin than leadbot's).
  siteServer = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(sitePage);
  });
  await new Promise((r) => siteServer.listen(port + 1, "127.0.0.1", r));
  for (const [w, h] of [[390, 844], [1280, 800]]) {
    const ctx = await browser.newContext({ viewport: { width: w, height: h }, isMobile: w < 500, hasTouch: w < 500 });
    const wp = await ctx.newPage();
    await wp.goto(`${site}/`);
    const launcher = wp.locator("[data-leadbot-widget] >> .launcher");
    await launcher.waitFor();
    await wp.screenshot({ path: path.join(shots, `widget-closed-${w}x${h}.png`) });
    await launcher.click();
    await wp.locator("[data-leadbot-widget] >> .consent a").waitFor();
    check((await wp.locator("[data-leadbot-widget] >> .consent").textContent()).includes("персональных данных"), `the consent line shows before the first message (${w}px)`);
    await wp.screenshot({ path: path.join(shots, `widget-open-${w}x${h}.png`) });
    await wp.locator("[data-leadbot-widget] >> textarea").fill("Здравствуйте, сколько стоит окно?");
    await wp.locator("[data-leadbot-widget] >> form button").click();
    await wp.locator("[data-leadbot-widget] >> .m.out >> nth=1").waitFor({ timeout: 15000 });
    const box = await wp.locator("[data-leadbot-widget] >> .panel").boundingBox();
    check(box.width <= w && box.height <= h, `the panel fits the ${w}x${h} screen`);
    check(await wp.locator("[data-leadbot-widget] >> .consent").isHidden(), `the consent line goes after the first message (${w}px)`);
    await wp.screenshot({ path: path.join(shots, `widget-talk-${w}x${h}.png`) });
    await ctx.close();
  }
  console.log(`browser test passed; screenshots in ${shots}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (service) service.kill("SIGTERM");
  if (siteServer) siteServer.close();
  await sleep(300);
  try { psql(`SELECT 1`); } catch (e) {}
  try {
    execFileSync("psql", [server, "-q", "-c", `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`], { stdio: "ignore" });
  } catch (e) {}
}
