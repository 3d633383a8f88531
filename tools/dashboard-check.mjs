#!/usr/bin/env node
// The dashboard at GET / driven in a real browser (a ctest test): starts `forkrun serve`,
// checks the page's headers and size, then in headless Chromium enters the token, watches a run
// created from here appear in the list live, opens it and sees its nodes go to success, then
// cancels a waiting simulation with the button and sees it cancelled with its fork torn down,
// and releases a failed simulation's kept fork with the Release button.
// Fails on any console error. Every wait is on a DOM condition, never a fixed sleep. Needs
// FORKRUN_BIN and FORKRUN_ANVIL (ctest sets them), Chromium at $CHROMIUM or /usr/bin/chromium,
// and puppeteer-core (pinned in tools/package.json). Writes a screenshot to
// $DASHBOARD_SCREENSHOT (default ./dashboard.png) and prints the time to draw a 200-node graph
// and how a run page keeps up with about 50 events a second (long tasks, frame gaps, the time of
// an Enter on a node; reported, never asserted: the page must only show the run's end).
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

// Reads a run's event stream from here, noting when each event arrived; `done` resolves at `end`.
function readEvents(base, id) {
  const events = [];
  const done = (async () => {
    const res = await fetch(`${base}/v1/runs/${id}/events`, {
      headers: { Authorization: `Bearer ${TOKEN}`, Accept: 'text/event-stream' },
      signal: AbortSignal.timeout(WAIT.timeout),
    });
    if (res.status !== 200) throw new Error(`GET /v1/runs/${id}/events: ${res.status}`);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      buf += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!type || data === undefined) continue; // a comment
        events.push({ type, data: JSON.parse(data), t: performance.now() });
        if (type === 'end') return events;
      }
    }
    throw new Error(`the event stream of ${id} closed before its end event`);
  })();
  done.catch(() => {}); // awaited later; a page step failing first must not leave it unhandled
  return { events, done };
}

// A live run whose events come at about 50 a second for about 5 s once `lead` has waited: five
// chains of 0.3 s waits (3 events a node: running, waiting, success), each chain started 0.06 s
// after the one before, so the events are spread out rather than arriving five at a time.
const STREAM = { chains: 5, length: 17, seconds: 0.3, stagger: 0.06, lead: 3 };
function streamNodes() {
  const { chains, length, seconds, stagger, lead } = STREAM;
  const nodes = {
    root: { type: 'manual', children: ['lead'] },
    lead: { type: 'wait', children: [], props: { seconds: lead } },
  };
  for (let c = 0; c < chains; c++) {
    let prev = 'lead';
    if (c > 0) {
      nodes[`c${c}s`] = { type: 'wait', children: [], props: { seconds: c * stagger } };
      nodes.lead.children.push(`c${c}s`);
      prev = `c${c}s`;
    }
    for (let i = 0; i < length; i++) {
      const id = `c${c}n${i}`;
      nodes[id] = { type: 'wait', children: [], props: { seconds } };
      nodes[prev].children.push(id);
      prev = id;
    }
  }
  return nodes;
}

// Installed in the page before the run starts: long tasks (PerformanceObserver), the gaps between
// animation frames, and the time from a keydown to the selected row being in the DOM.
function installObservers() {
  const obs = {
    armed: false,
    from: Infinity,
    longTasks: [],
    frames: [],
    key: null,
    selected: null,
  };
  window.dashboardCheckObs = obs;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) obs.longTasks.push({ at: e.startTime, ms: e.duration });
  }).observe({ type: 'longtask' });
  const frame = (t) => {
    if (obs.stopped) return;
    // The window opens at the first frame that shows the stream begun (c0n0 no longer pending).
    if (obs.armed && obs.from === Infinity) {
      const g = document.querySelector('#graph g[data-node="c0n0"]');
      if (g && g.dataset.status !== 'pending') obs.from = t;
    }
    if (t >= obs.from) obs.frames.push(t);
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  document.addEventListener('keydown', (e) => (obs.key = e.timeStamp), true);
  new MutationObserver(() => {
    if (obs.key !== null && obs.selected === null && obs.want) {
      if (document.querySelector(`#nodes tr.selected[data-node="${obs.want}"]`)) {
        obs.selected = performance.now();
      }
    }
  }).observe(document.getElementById('nodes'), {
    subtree: true,
    childList: true,
    attributes: true,
  });
}

function collectObservers() {
  const obs = window.dashboardCheckObs;
  obs.stopped = true;
  const tasks = obs.longTasks.filter((e) => e.at >= obs.from);
  const gaps = obs.frames.slice(1).map((t, i) => t - obs.frames[i]);
  gaps.sort((a, b) => a - b);
  const q = (p) => gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))] ?? NaN;
  return {
    seconds: (performance.now() - obs.from) / 1000,
    longTasks: tasks.length,
    longest: Math.max(0, ...tasks.map((e) => e.ms)),
    frames: obs.frames.length,
    gapMedian: q(0.5),
    gapP99: q(0.99),
    gapMax: gaps.length ? gaps[gaps.length - 1] : NaN,
    interaction: obs.selected !== null && obs.key !== null ? obs.selected - obs.key : NaN,
  };
}

// Report only, never asserted: a run page open while about 50 events a second arrive.
async function streamCheck(page, base) {
  await page.setViewport({ width: 1200, height: 900 });
  await page.evaluate(installObservers);
  const run = await createRun(base, runBody('wf_dash_stream', streamNodes()));
  const reader = readEvents(base, run.id);
  await page.evaluate((id) => (location.hash = `#/runs/${id}`), run.id);
  await page.waitForSelector('#run-view:not([hidden]) #graph g[data-node="c0n0"]', WAIT);
  await page.waitForSelector('#graph g[data-node="lead"][data-status="waiting"]', WAIT);
  // `ready`: the page was showing the run before the stream began (the lead still waiting).
  const ready = await page.evaluate(() => {
    window.dashboardCheckObs.armed = true;
    return document.querySelector('#graph g[data-node="c0n0"]').dataset.status === 'pending';
  });
  // A user's interaction in the middle of the stream: focus a node, Enter, its row is selected.
  const { chains, length } = STREAM;
  const mid = `c0n${Math.floor(length / 2)}`;
  const pick = `c${chains - 1}n2`;
  await page.waitForSelector(`#graph g[data-node="${mid}"]:not([data-status="pending"])`, WAIT);
  const during = await page.evaluate(
    (id) => document.querySelector(`#graph g[data-node="${id}"]`).dataset.status !== 'success',
    `c0n${length - 1}`,
  );
  // The graph is redrawn as events arrive, so the node is found and focused in one go, again
  // until it holds the focus.
  await page.waitForFunction(
    (id) => {
      if (document.activeElement?.dataset?.node !== id) {
        document.querySelector(`#graph g[data-node="${id}"]`).focus();
      }
      return document.activeElement?.dataset?.node === id;
    },
    WAIT,
    pick,
  );
  await page.evaluate((id) => {
    const obs = window.dashboardCheckObs;
    obs.want = id;
    obs.key = null;
    obs.selected = null;
  }, pick);
  await page.keyboard.press('Enter');
  await page.waitForSelector(`#nodes tr.selected[data-node="${pick}"]`, WAIT);
  // The page keeps up: the final status and every last node's success appear.
  await page.waitForSelector('#run-status[data-status="success"]', WAIT);
  for (let c = 0; c < chains; c++) {
    const last = `c${c}n${length - 1}`;
    await page.waitForSelector(`#graph g[data-node="${last}"][data-status="success"]`, WAIT);
  }
  const m = await page.evaluate(collectObservers);
  const events = await reader.done;
  const start = events.findIndex(
    (e) => e.type === 'node' && e.data.nodeId === 'lead' && e.data.status === 'success',
  );
  check(start >= 0, 'the stream run has no success event of its lead node');
  const n = events.length - start;
  const s = (events[events.length - 1].t - events[start].t) / 1000;
  console.log(
    `events: ${n} in ${s.toFixed(2)} s (${(n / s).toFixed(1)}/s), read alongside the page ` +
      `(page ready before the stream: ${ready ? 'yes' : 'no'})`,
  );
  console.log(
    `long tasks: ${m.longTasks}, longest ${m.longest.toFixed(0)} ms; frames: ${m.frames} in ` +
      `${m.seconds.toFixed(2)} s, gap median ${m.gapMedian.toFixed(1)} ms, p99 ` +
      `${m.gapP99.toFixed(1)} ms, max ${m.gapMax.toFixed(1)} ms; interaction ` +
      `${m.interaction.toFixed(1)} ms (Enter to the selected row` +
      `${during ? '' : ', after the stream'})`,
  );
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

    step("a failed simulation's kept forks, released with the button");
    // keepForksOnFailure: the failed run's fork stays up, shown as kept; the button lets it go.
    const failed = await createRun(
      base,
      runBody(
        'wf_dash_kept',
        {
          root: { type: 'manual', children: ['bad'] },
          bad: { type: 'assert', props: { value: '1', equals: '2' } },
        },
        {
          isSimulation: true,
          simulationMode: 'fork',
          chains: [31337],
          keepForksOnFailure: 120,
        },
      ),
    );
    await page.evaluate((id) => (location.hash = `#/runs/${id}`), failed.id);
    await page.waitForSelector('#run-status[data-status="failure"]', WAIT);
    await page.waitForSelector('#forks tr[data-state="kept"]', WAIT);
    await page.waitForFunction(
      () => document.querySelector('#forks tr[data-state="kept"]')?.textContent.includes('until'),
      WAIT,
    );
    await page.waitForSelector('#release:not([hidden]):not([disabled])', WAIT);
    await page.click('#release');
    await page.waitForSelector('#forks tr[data-state="released"]', WAIT);
    await page.waitForSelector('#release[hidden]', WAIT);
    const said = await page.$eval('#cancel-state', (e) => e.textContent);
    check(said === 'Kept forks released.', `after Release the page says "${said}"`);

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

    step('a run page while 50 events a second arrive');
    await streamCheck(page, base);

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
