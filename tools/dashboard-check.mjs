#!/usr/bin/env node
// The dashboard at GET / driven in a real browser (a ctest test): starts `forkrun serve`,
// checks the page's headers and size, then in headless Chromium enters the token, watches a run
// created from here appear in the list live, opens it and sees its nodes go to success, then
// cancels a waiting simulation with the button and sees it cancelled with its fork torn down.
// Fails on any console error. Every wait is on a DOM condition, never a fixed sleep. Needs
// FORKRUN_BIN and FORKRUN_ANVIL (ctest sets them), Chromium at $CHROMIUM or /usr/bin/chromium,
// and puppeteer-core (pinned in tools/package.json). Writes a screenshot to
// $DASHBOARD_SCREENSHOT (default ./dashboard.png) and prints the time to draw a 200-node graph.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

import { startServer } from './openapi-check/http.mjs';

let puppeteer;
try {
  puppeteer = (await import('puppeteer-core')).default;
} catch (e) {
  if (e.code !== 'ERR_MODULE_NOT_FOUND') throw e;
  console.error(
    `dashboard-check: ${e.message}\nInstall the pinned packages: (cd tools && npm ci), ` +
      'which tools/setup.sh (and so tools/test.sh) does.',
  );
  process.exit(1);
}

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT = process.env.DASHBOARD_SCREENSHOT || path.resolve('dashboard.png');
const TOKEN = 'tok_dashboard_check_rw';
const WAIT = { timeout: 60000 };

const problems = [];
const started = Date.now();
const step = (what) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${what}`);
const check = (ok, what) => {
  if (!ok) problems.push(what);
};

function writeFixtures(dir) {
  fs.writeFileSync(
    path.join(dir, 'tokens.json'),
    JSON.stringify([
      {
        token: TOKEN,
        organizationId: 'org_dash',
        subject: 'dashboard-check',
        scopes: ['runs:read', 'runs:write'],
      },
    ]),
  );
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ chains: { 31337: { poolSize: 0 } } }),
  );
}

async function createRun(base, body) {
  const res = await fetch(`${base}/v1/runs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const env = await res.json();
  if (res.status !== 201) throw new Error(`POST /v1/runs: ${res.status} ${JSON.stringify(env)}`);
  return env.data;
}

const runBody = (workflowId, nodes, extra = {}) => ({
  workflowId,
  workflowVersion: 1,
  workflowDefinition: { nodes, inputSchema: [] },
  propValues: {},
  isSimulation: false,
  triggerSource: 'dashboard-check',
  ...extra,
});

// Follows a run's link in the list. The rows are redrawn as events arrive, so the click is made
// in the page, on the row there at that moment, rather than at coordinates found earlier.
async function openFromList(page, id) {
  await page.$eval(`#runs tr[data-run="${id}"] a`, (a) => a.click());
  await page.waitForFunction((i) => location.hash === `#/runs/${i}`, WAIT, id);
}

async function checkAssets(base) {
  let total = 0;
  for (const [p, type] of [
    ['/', 'text/html'],
    ['/assets/app.js', 'text/javascript'],
    ['/assets/app.css', 'text/css'],
  ]) {
    const res = await fetch(base + p); // no token: the files are public
    const body = Buffer.from(await res.arrayBuffer());
    const gz = zlib.gzipSync(body, { level: 9 }).length;
    total += gz;
    console.log(`asset ${p}: ${body.length} bytes, ${gz} gzip -9`);
    check(res.status === 200, `${p}: status ${res.status}`);
    check((res.headers.get('content-type') || '').startsWith(type), `${p}: content-type`);
    const csp = res.headers.get('content-security-policy') || '';
    check(
      csp.includes("default-src 'self'") && csp.includes("connect-src 'self'"),
      `${p}: Content-Security-Policy is "${csp}"`,
    );
    check(!!res.headers.get('cache-control'), `${p}: no Cache-Control`);
  }
  console.log(`assets total: ${total} bytes gzip -9 (limit 204800)`);
  check(total <= 200 * 1024, `assets are ${total} bytes compressed, over 200 KB`);
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkrun-dashboard-'));
  writeFixtures(dir);
  const args = [
    '--tokens',
    path.join(dir, 'tokens.json'),
    '--config',
    path.join(dir, 'config.json'),
    '--no-access-log',
  ];
  if (process.env.FORKRUN_ANVIL) args.push('--anvil', process.env.FORKRUN_ANVIL);
  const server = await startServer(args);
  const { base } = server;
  let browser;
  try {
    await checkAssets(base);

    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    const errors = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (r.url().includes(TOKEN)) errors.push(`the token is in a URL: ${r.url()}`);
    });

    step('sign in');
    await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#token', { visible: true, ...WAIT });
    await page.type('#token', TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#runs-view:not([hidden])', WAIT);
    await page.waitForFunction(
      () => document.getElementById('stream-state').textContent === 'updates: live',
      WAIT,
    );
    await page.waitForSelector('#runs[data-loaded="true"]', WAIT);
    check(
      (await page.evaluate(() => sessionStorage.getItem('forkrun.token'))) === TOKEN,
      'the token is not in sessionStorage',
    );

    step('a run created from outside appears in the list');
    // A run created from here shows up live; its wait node is long enough to be seen waiting.
    const quick = await createRun(
      base,
      runBody('wf_dash_quick', {
        root: { type: 'manual', children: ['w', 'b'] },
        w: { type: 'wait', children: ['a'], props: { seconds: 6 } },
        b: { type: 'assert', children: ['a'], props: { value: '2', gte: '1' } },
        a: { type: 'assert', props: { value: '1', equals: '1' } },
      }),
    );
    await page.waitForSelector(`#runs tr[data-run="${quick.id}"]`, WAIT);
    await openFromList(page, quick.id);
    await page.waitForSelector('#run-view:not([hidden]) #graph g[data-node="w"]', WAIT);
    step('its page: node colours follow the statuses');
    // Node colours: w is drawn waiting, then success; the fill changes with the status.
    await page.waitForSelector('#graph g[data-node="w"][data-status="waiting"]', WAIT);
    const fill = (id) =>
      page.$eval(`#graph g[data-node="${id}"] rect`, (r) => getComputedStyle(r).fill);
    const waitingFill = await fill('w');
    check(
      (await page.$eval('#graph g[data-node="a"]', (g) => g.dataset.status)) === 'pending',
      'node a is not pending while w waits',
    );
    await page.waitForSelector('#run-status[data-status="success"]', WAIT);
    await page.waitForSelector('#graph g[data-node="a"][data-status="success"]', WAIT);
    await page.waitForSelector('#graph g[data-node="w"][data-status="success"]', WAIT);
    check((await fill('w')) !== waitingFill, 'node w has the same colour waiting and success');
    check(
      (await page.$eval('#graph g[data-node="w"]', (g) => g.textContent)).includes('success'),
      'node w has no text label of its status',
    );
    // Outputs arrive with the Run read after the node event: the assert's is {value}.
    await page.waitForFunction(
      () => (document.querySelector('#node-a pre') || {}).textContent?.includes('"value"'),
      WAIT,
    );
    // Keyboard: a graph node is focusable and Enter selects its row.
    await page.$eval('#graph g[data-node="a"]', (g) => g.focus()); // an SVG element
    await page.waitForFunction(() => document.activeElement?.dataset?.node === 'a', WAIT);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#nodes tr.selected[data-node="a"]', WAIT);

    step('the list, filtered by status');
    await page.click('header nav a');
    await page.waitForSelector(`#runs tr[data-run="${quick.id}"][data-status="success"]`, WAIT);
    await page.select('#filter-status', 'cancelled');
    await page.waitForFunction(
      (id) => !document.querySelector(`#runs tr[data-run="${id}"]`),
      WAIT,
      quick.id,
    );
    await page.select('#filter-status', '');

    step('a waiting simulation, cancelled with the button');
    // A waiting simulation, cancelled with the button: its fork is torn down.
    const slow = await createRun(
      base,
      runBody(
        'wf_dash_cancel',
        {
          root: { type: 'manual', children: ['w'] },
          w: { type: 'wait', children: ['a'], props: { seconds: 300 } },
          a: { type: 'assert', props: { value: '1', equals: '1' } },
        },
        { isSimulation: true, simulationMode: 'fork', chains: [31337] },
      ),
    );
    await page.waitForSelector(`#runs tr[data-run="${slow.id}"]`, WAIT);
    await openFromList(page, slow.id);
    await page.waitForSelector('#graph g[data-node="w"][data-status="waiting"]', WAIT);
    await page.waitForSelector('#forks tr[data-state="ready"] code', WAIT);
    const url = await page.$eval('#forks tr[data-state="ready"] code', (c) => c.textContent);
    check(/^http:\/\/.+/.test(url), `fork rpcUrl is "${url}"`);
    await page.waitForSelector('#cancel:not([hidden]):not([disabled])', WAIT);
    await page.click('#cancel');
    await page.waitForSelector('#run-status[data-status="cancelled"]', WAIT);
    await page.waitForSelector('#cancellation-record', WAIT);
    await page.waitForFunction(
      () => document.querySelector('#teardown tbody')?.textContent.includes('torn down'),
      WAIT,
    );
    await page.waitForSelector('#graph g[data-node="w"][data-status="cancelled"]', WAIT);
    await page.waitForSelector('#graph g[data-node="a"][data-status="cancelled"]', WAIT);
    await page.waitForSelector('#cancel[hidden]', WAIT);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`screenshot: ${SCREENSHOT}`);

    step('back to the first run');
    await page.evaluate((id) => (location.hash = `#/runs/${id}`), quick.id);
    await page.waitForSelector('#run-status[data-status="success"]', WAIT);
    await page.waitForSelector('#node-a pre', WAIT);

    step('phone width');
    // Phone width: nothing wider than the screen but the scrolling boxes.
    await page.setViewport({ width: 390, height: 844 });
    await page.waitForFunction(
      () => document.documentElement.scrollWidth <= window.innerWidth,
      WAIT,
    );
    const phoneShot = SCREENSHOT.replace(/\.png$/, '') + '-phone.png';
    await page.screenshot({ path: phoneShot, fullPage: true });
    console.log(`screenshot: ${phoneShot}`);

    // Report only: the time to draw a 200-node graph.
    const m = await page.evaluate(() => window.forkrunDashboard.measureGraph(200));
    console.log(`graph render: ${m.nodes} nodes in ${m.ms.toFixed(1)} ms`);

    for (const e of errors) problems.push(e);
  } finally {
    if (browser) await browser.close();
    const status = await server.stop();
    if (problems.length) console.error(status.stderr.slice(-4000));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (e) {
  problems.push(`${e.stack || e}`);
}
if (problems.length) {
  console.error(`dashboard-check: ${problems.length} problem(s):\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log('dashboard-check: ok');
