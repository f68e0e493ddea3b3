// Screenshots of the dashboard with Debian's Chromium, driven by playwright-core.
//
//   node scripts/ui/shoot.mjs DASHBOARD_URL OUT_DIR [--check]
//
// DASHBOARD_URL is the URL `switchboard serve` prints (with #token=…). Writes, for light and dark:
//   OUT_DIR/dashboard-{light,dark}.png       1280 px wide, the whole page
// Fails when the page logs an error or a Content-Security-Policy violation, never goes live, keeps
// the token in the URL, or is wider than a 900 px window. --check also writes
//   OUT_DIR/dashboard-{light,dark}-900.png   900 px wide, the first 800 px
//   OUT_DIR/check-{session,cleanup,connect-claude,connect-codex,no-token}-{light,dark}.png
// after opening the session dialog, the clean-up confirmation and the page without a token.
//
// playwright-core is resolved from NODE_PATH (scripts/ui-screenshot.sh installs it in a cache dir).

import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const [url, outDir, ...flags] = process.argv.slice(2);
if (!url || !outDir) {
  console.error('usage: shoot.mjs DASHBOARD_URL OUT_DIR [--check]');
  process.exit(2);
}
const check = flags.includes('--check');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ownProfile = !process.env.CHROMIUM_PROFILE;
const userDataDir = process.env.CHROMIUM_PROFILE ?? fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-chromium-'));
// With SHOOT_INFLIGHT=BASE_URL a slow streamed request is started once the page is live, so that
// the feed shows one in flight.
const inflightBase = process.env.SHOOT_INFLIGHT;
const inflight = [];

function startInflight() {
  if (!inflightBase) return;
  const controller = new AbortController();
  inflight.push(controller);
  fetch(`${inflightBase}/v1/chat/completions`, {
    method: 'POST',
    signal: controller.signal,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'cursor/0.48.6',
      'x-mock-chunks': '60',
      'x-mock-chunk-gap-ms': '1000',
    },
    body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Walk me through the borrow checker error' }] }),
  }).then((r) => r.body?.getReader().read()).catch(() => {});
}

const args = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-default-apps',
  '--disable-extensions', '--hide-scrollbars', '--font-render-hinting=none',
];

const problems = [];
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  args,
  viewport: { width: 1280, height: 800 },
  deviceScaleFactor: 1,
});

function watch(page, label) {
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`${label}: console ${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`${label}: page error: ${err.message}`));
}

async function openDashboard(page, scheme, width) {
  await page.emulateMedia({ colorScheme: scheme, reducedMotion: 'reduce' });
  await page.setViewportSize({ width, height: 800 });
  await page.goto(url);
  await page.waitForSelector('#conn[data-state="live"]', { timeout: 15000 });
  // Let the first refresh settle, and the relative times render.
  await page.waitForFunction(() => document.querySelectorAll('#feed-body tr:not(.empty)').length > 0, null, { timeout: 15000 });
  if (width === 1280) {
    startInflight();
    await page.waitForSelector('#feed-body tr.pending', { timeout: 5000 }).catch(() => problems.push(`${scheme}: no in-flight row`));
  }
  await page.waitForTimeout(1200);
  if ((await page.evaluate(() => location.href)).includes('token=')) problems.push(`${scheme}: the token is still in the URL`);
}

for (const scheme of ['light', 'dark']) {
  const page = await context.newPage();
  watch(page, scheme);
  await openDashboard(page, scheme, 1280);
  await page.screenshot({ path: path.join(outDir, `dashboard-${scheme}.png`), fullPage: true });
  await openDashboard(page, scheme, 900);
  if (check) await page.screenshot({ path: path.join(outDir, `dashboard-${scheme}-900.png`) });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) problems.push(`${scheme}: the page is ${overflow} px wider than a 900 px window`);

  if (check) {
    await page.setViewportSize({ width: 1280, height: 800 });
    // The session dialog.
    await page.click('#active-body button.link');
    await page.waitForFunction(() => document.querySelectorAll('#session-requests tr:not(.empty)').length > 0);
    await page.screenshot({ path: path.join(outDir, `check-session-${scheme}.png`) });
    await page.keyboard.press('Escape');
    // The clean-up confirmation, cancelled.
    await page.click('#cleanup-btn');
    await page.waitForSelector('#confirm-dialog[open]');
    await page.screenshot({ path: path.join(outDir, `check-cleanup-${scheme}.png`) });
    await page.click('#confirm-cancel');
    // The Claude Code and Codex set-up tabs.
    for (const tab of ['claude', 'codex']) {
      await page.click(`#tab-${tab}`);
      const pane = page.locator(`#pane-${tab}`);
      await pane.scrollIntoViewIfNeeded();
      await pane.screenshot({ path: path.join(outDir, `check-connect-${tab}-${scheme}.png`) });
    }
    // The page without a token (sessionStorage is per tab, so a fresh tab has none).
    const bare = await context.newPage();
    watch(bare, `${scheme} (no token)`);
    await bare.emulateMedia({ colorScheme: scheme });
    await bare.goto(url.replace(/#.*$/, ''));
    await bare.waitForSelector('#no-token:not([hidden])');
    await bare.screenshot({ path: path.join(outDir, `check-no-token-${scheme}.png`) });
    await bare.close();
  }
  await page.close();
}

await context.close();
for (const controller of inflight) controller.abort();
if (ownProfile) fs.rmSync(userDataDir, { recursive: true, force: true });
// Chromium logs a 404 for nothing else; anything here is a real problem.
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`screenshots written to ${outDir}`);
