// The forkrun dashboard: one page, no build step, no dependencies. The token lives in
// sessionStorage and travels only in the Authorization header; event streams are read with
// fetch() (EventSource cannot send headers) and parsed here, resuming with Last-Event-ID.
'use strict';

const TOKEN_KEY = 'forkrun.token';
const TERMINAL = new Set(['success', 'failure', 'cancelled']);
const $ = (id) => document.getElementById(id);

// ---- DOM helpers: text is always set as text, never parsed as HTML.
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}
const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const kid of kids) el.append(kid instanceof Node ? kid : String(kid));
  return el;
}
const badge = (status) => h('span', { class: `badge st-${status}` }, status || 'unknown');
const fmtTime = (t) => (t ? new Date(t).toLocaleString() : '—');
const json = (v) => JSON.stringify(v, null, 2);

// ---- The API.
const token = () => sessionStorage.getItem(TOKEN_KEY);

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${token()}`, Accept: 'application/json' };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method: options.method || 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: options.signal,
  });
  let env = null;
  try {
    env = await res.json();
  } catch {
    // not an envelope
  }
  if (res.status === 401) signOut('The token was refused (401).');
  if (!res.ok && !(options.accept || []).includes(res.status)) {
    throw new ApiError(res.status, (env && env.message) || `HTTP ${res.status}`);
  }
  return { status: res.status, data: env ? env.data : null, message: env ? env.message : '' };
}

// Reads a Server-Sent Events stream with fetch, calling onEvent({id, event, data}) for each
// event; reconnects with Last-Event-ID until `signal` aborts or an `end` event arrives.
// onOpen() runs each time a connection is answered.
async function streamEvents(path, { signal, onEvent, onOpen, onState }) {
  let lastId = null;
  let delay = 500;
  while (!signal.aborted) {
    let ended = false;
    try {
      const headers = { Authorization: `Bearer ${token()}`, Accept: 'text/event-stream' };
      if (lastId !== null) headers['Last-Event-ID'] = lastId;
      const res = await fetch(path, { headers, signal, cache: 'no-store' });
      if (res.status === 401) {
        signOut('The token was refused (401).');
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      onState && onState('live');
      delay = 500;
      onOpen && (await onOpen());
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      let ev = { id: null, event: 'message', data: [] };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + (buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1));
          if (line === '') {
            if (ev.data.length) {
              if (ev.id !== null) lastId = ev.id;
              let data = null;
              try {
                data = JSON.parse(ev.data.join('\n'));
              } catch {
                data = ev.data.join('\n');
              }
              onEvent({ id: ev.id, event: ev.event, data });
              if (ev.event === 'end') ended = true;
            }
            ev = { id: null, event: 'message', data: [] };
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let val = colon < 0 ? '' : line.slice(colon + 1);
          if (val.startsWith(' ')) val = val.slice(1);
          if (field === 'data') ev.data.push(val);
          else if (field === 'event') ev.event = val;
          else if (field === 'id') ev.id = val;
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError && e.status === 401) return;
    }
    if (ended || signal.aborted) return;
    onState && onState('reconnecting');
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10000);
  }
}

// ---- Views and routing.
let viewAbort = null;
let currentRun = null; // the run page shown: {id, ui, render, signal}

function show(id) {
  for (const v of ['login', 'runs-view', 'run-view']) $(v).hidden = v !== id;
  $('signout').hidden = id === 'login';
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (viewAbort) viewAbort.abort();
  viewAbort = null;
  $('login-error').textContent = message || '';
  show('login');
  $('token').focus();
}

function route() {
  if (viewAbort) viewAbort.abort();
  viewAbort = new AbortController();
  if (!token()) {
    show('login');
    return;
  }
  const m = location.hash.match(/^#\/runs\/([A-Za-z0-9_-]+)$/);
  if (m) runView(m[1], viewAbort.signal);
  else runsView(viewAbort.signal);
}

// ---- The runs list.
const runs = new Map();

function renderRuns() {
  const status = $('filter-status').value;
  const sim = $('filter-sim').value;
  const rows = [...runs.values()]
    .filter((r) => !status || r.status === status)
    .filter((r) => !sim || String(r.isSimulation) === sim)
    .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0));
  const body = $('runs').tBodies[0];
  body.replaceChildren(
    ...rows.map((r) =>
      h(
        'tr',
        { 'data-run': r.id, 'data-status': r.status },
        h('td', {}, h('a', { href: `#/runs/${r.id}` }, r.id)),
        h('td', {}, r.workflowId),
        h('td', {}, badge(r.status)),
        h('td', {}, r.isSimulation ? r.simulationMode || 'yes' : 'no'),
        h('td', { class: 'num' }, r.totalCu),
        h('td', {}, fmtTime(r.startedAt)),
      ),
    ),
  );
  $('runs-empty').hidden = rows.length > 0;
}

async function runsView(signal) {
  show('runs-view');
  runs.clear();
  delete $('runs').dataset.loaded;
  renderRuns();
  const state = (t) => ($('stream-state').textContent = `updates: ${t}`);
  state('connecting');
  const fetchSummary = async (id) => {
    try {
      const { data } = await api(`/v1/runs/${id}`, { signal });
      delete data.workflowDefinition;
      delete data.executionState;
      runs.set(id, Object.assign(runs.get(id) || {}, data));
      renderRuns();
    } catch {
      // gone or aborted; the list stays as it was
    }
  };
  let listed = false;
  await streamEvents('/v1/events', {
    signal,
    onState: state,
    // The list is read once the stream is open, so no run falls between the two.
    onOpen: async () => {
      if (listed) return;
      listed = true;
      try {
        const { data } = await api('/v1/runs?limit=200', { signal });
        for (const r of data.runs) runs.set(r.id, Object.assign(runs.get(r.id) || {}, r));
        renderRuns();
        $('runs').dataset.loaded = 'true';
      } catch (e) {
        if (!signal.aborted) state(`error: ${e.message}`);
      }
    },
    onEvent: ({ event, data }) => {
      if ((event !== 'run' && event !== 'end') || !data || !data.runId) return;
      const r = runs.get(data.runId);
      if (!r) {
        runs.set(data.runId, { id: data.runId, status: data.status, totalCu: data.totalCu });
        fetchSummary(data.runId);
        return;
      }
      r.status = data.status;
      r.totalCu = data.totalCu;
      if (data.finishedAt) r.finishedAt = data.finishedAt;
      renderRuns();
    },
  });
}

// ---- A run's page.

// Layers by longest path from root over `children`; within a layer, nodes are ordered by the
// mean position of their parents (one barycentre pass), which keeps most edges short.
function layout(nodes) {
  const ids = Object.keys(nodes);
  const parents = new Map(ids.map((id) => [id, []]));
  for (const id of ids) {
    for (const c of nodes[id].children || []) if (parents.has(c)) parents.get(c).push(id);
  }
  const layer = new Map();
  const visiting = new Set();
  const depth = (id) => {
    if (layer.has(id)) return layer.get(id);
    if (visiting.has(id)) return 0; // a cycle: the server refuses those, but never loop
    visiting.add(id);
    let d = 0;
    for (const p of parents.get(id)) d = Math.max(d, depth(p) + 1);
    visiting.delete(id);
    layer.set(id, d);
    return d;
  };
  for (const id of ids) depth(id);
  const layers = [];
  for (const id of ids) (layers[layer.get(id)] ||= []).push(id);
  const pos = new Map();
  layers.forEach((ls, li) => {
    if (li > 0) {
      const key = (id) => {
        const ps = parents.get(id);
        return ps.length ? ps.reduce((a, p) => a + pos.get(p), 0) / ps.length : 0;
      };
      const keys = new Map(ls.map((id) => [id, key(id)]));
      ls.sort((a, b) => keys.get(a) - keys.get(b) || (a < b ? -1 : 1));
    } else {
      ls.sort((a, b) => (a === 'root' ? -1 : b === 'root' ? 1 : a < b ? -1 : 1));
    }
    ls.forEach((id, i) => pos.set(id, i));
  });
  return { layers, pos, layer };
}

const NW = 150;
const NH = 46;
const GX = 60;
const GY = 18;

// What a graph's drawing depends on besides statuses: its nodes, their types and edges.
const shapes = new WeakMap();
function shapeOf(nodes) {
  let sig = shapes.get(nodes);
  if (sig === undefined) {
    sig = JSON.stringify(Object.entries(nodes).map(([id, n]) => [id, n.type, n.children || []]));
    shapes.set(nodes, sig);
  }
  return sig;
}

// The parts of a drawn node that change with its status.
function paintNode(el, id, type, st) {
  if (el.g.dataset.status === st) return;
  el.g.dataset.status = st;
  el.g.setAttribute('aria-label', `node ${id}, ${type}, ${st}`);
  el.title.textContent = `${id} (${type}): ${st}`;
  el.rect.setAttribute('class', `st-${st}`);
  el.detail.textContent = `${type} · ${st}`;
}

// Draws the graph once per shape; an event that changes statuses only repaints those nodes.
function drawGraph(container, definition, nodeStates, onSelect) {
  const nodes = (definition && definition.nodes) || {};
  const statusOf = (id) => (nodeStates[id] && nodeStates[id].status) || 'pending';
  const shape = shapeOf(nodes);
  const drawn = container.graph;
  if (drawn && drawn.shape === shape && drawn.onSelect === onSelect && drawn.svg.isConnected) {
    for (const [id, n] of Object.entries(nodes)) paintNode(drawn.els.get(id), id, n.type, statusOf(id));
    return;
  }
  const { layers, pos, layer } = layout(nodes);
  const tallest = Math.max(1, ...layers.map((l) => l.length));
  const width = layers.length * (NW + GX) - GX + 20;
  const height = tallest * (NH + GY) - GY + 20;
  const xy = (id) => {
    const l = layers[layer.get(id)];
    const offset = ((tallest - l.length) * (NH + GY)) / 2;
    return [10 + layer.get(id) * (NW + GX), 10 + offset + pos.get(id) * (NH + GY)];
  };
  const svg = s('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'group',
    'aria-label': 'Workflow graph, left to right',
  });
  const edges = s('g', { 'aria-hidden': 'true' });
  for (const [id, n] of Object.entries(nodes)) {
    const [x1, y1] = xy(id);
    for (const c of n.children || []) {
      if (!layer.has(c)) continue;
      const [x2, y2] = xy(c);
      const ax = x1 + NW;
      const ay = y1 + NH / 2;
      const by = y2 + NH / 2;
      const mx = (ax + x2) / 2;
      edges.append(
        s('path', { class: 'edge', d: `M${ax},${ay} C${mx},${ay} ${mx},${by} ${x2},${by}` }),
      );
    }
  }
  svg.append(edges);
  const els = new Map();
  for (const [id, n] of Object.entries(nodes)) {
    const [x, y] = xy(id);
    const label = id.length > 20 ? `${id.slice(0, 19)}…` : id;
    const el = {
      title: s('title', {}),
      rect: s('rect', { width: NW, height: NH, rx: 6 }),
      detail: s('text', { x: 8, y: 36 }),
    };
    el.g = s(
      'g',
      {
        class: 'gnode',
        tabindex: 0,
        role: 'button',
        'data-node': id,
        transform: `translate(${x},${y})`,
      },
      el.title,
      el.rect,
      s('text', { x: 8, y: 18 }, label),
      el.detail,
    );
    paintNode(el, id, n.type, statusOf(id));
    el.g.addEventListener('click', () => onSelect(id));
    el.g.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        onSelect(id);
      }
    });
    els.set(id, el);
    svg.append(el.g);
  }
  // A redraw keeps the keyboard focus on the node that had it.
  const active = document.activeElement;
  const focused = active && container.contains(active) ? active.getAttribute('data-node') : null;
  container.replaceChildren(svg);
  container.graph = { shape, onSelect, svg, els };
  if (focused !== null && els.has(focused)) els.get(focused).g.focus();
}

// A table body's rows, each rebuilt only when its content changed: `rows` is a list of
// [key, content, build]; rows whose content is the same stay the same elements.
function updateRows(tbody, rows) {
  const before = tbody.rowsByKey || new Map();
  const after = new Map();
  const els = rows.map(([key, content, build]) => {
    const was = before.get(key);
    const el = was && was.content === content ? was.el : build();
    after.set(key, { content, el });
    return el;
  });
  tbody.rowsByKey = after;
  const kids = tbody.children;
  if (els.length !== kids.length || els.some((el, i) => kids[i] !== el)) tbody.replaceChildren(...els);
}

function copyButton(text) {
  const b = h('button', { type: 'button', class: 'secondary', 'aria-label': 'Copy rpcUrl' }, 'Copy');
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = 'Copied';
    } catch {
      b.textContent = 'Select and copy';
    }
    setTimeout(() => (b.textContent = 'Copy'), 1500);
  });
  return b;
}

function renderRun(run, ui) {
  const es = run.executionState || {};
  $('run-title').textContent = `Run ${run.id}`;
  const item = (k, v) => h('div', {}, h('span', {}, k), v);
  $('run-summary').replaceChildren(
    item('Status', h('span', { id: 'run-status', 'data-status': run.status }, badge(run.status))),
    item('Workflow', `${run.workflowId} v${run.workflowVersion}`),
    item('Total CU', h('strong', { id: 'total-cu' }, run.totalCu)),
    item('Simulation', run.isSimulation ? run.simulationMode || 'yes' : 'no (live)'),
    item('Dust test', run.isDustTest ? 'yes' : 'no'),
    item('Triggered', `${run.triggeredBy || '—'} via ${run.triggerSource || '—'}`),
    item('Started', fmtTime(run.startedAt)),
    item('Finished', fmtTime(run.finishedAt)),
  );
  $('status-line').textContent = `Run ${run.status}`;
  const cancellable = run.status === 'waiting' || run.status === 'running';
  $('cancel').hidden = !cancellable;
  $('cancel').disabled = ui.cancelling || !cancellable;
  // A failed simulation's forks kept for inspection (keepForksOnFailure) can be let go early.
  const kept = Object.values(es.forks || {}).some((f) => f.state === 'kept');
  $('release').hidden = !kept;
  $('release').disabled = ui.releasing || !kept;

  const nodeStates = es.nodes || {};
  const defNodes = (run.workflowDefinition && run.workflowDefinition.nodes) || {};
  drawGraph($('graph'), run.workflowDefinition, nodeStates, ui.select);
  updateRows(
    $('nodes').tBodies[0],
    Object.entries(defNodes).map(([id, n]) => {
      const ns = nodeStates[id] || {};
      const st = ns.status || 'pending';
      const output = ns.output !== undefined && ns.output !== null ? json(ns.output) : null;
      const error = ns.error ? `${ns.error.code || 'error'}: ${ns.error.message || ''}` : null;
      const selected = ui.selected === id;
      const build = () => {
        const detail = [];
        if (output !== null) detail.push(h('pre', {}, output));
        if (error !== null) detail.push(h('pre', { class: 'error' }, error));
        return h(
          'tr',
          { id: `node-${id}`, 'data-node': id, class: selected ? 'selected' : '' },
          h('th', { scope: 'row' }, id),
          h('td', {}, n.type),
          h('td', {}, badge(st)),
          h('td', { class: 'num' }, ns.cu ?? 0),
          h('td', {}, detail.length ? detail : '—'),
        );
      };
      return [id, JSON.stringify([n.type, st, ns.cu ?? 0, output, error, selected]), build];
    }),
  );

  const forks = Object.entries(es.forks || {});
  const urls = new Map((run.simulationForks || []).map((f) => [f.forkId, f.rpcUrl]));
  for (const [id, url] of ui.rpcUrls) if (!urls.has(id)) urls.set(id, url);
  $('forks').tBodies[0].replaceChildren(
    ...forks.map(([id, f]) => {
      const url = urls.get(id);
      const err = f.error ? h('div', { class: 'error' }, JSON.stringify(f.error)) : null;
      return h(
        'tr',
        { 'data-fork': id, 'data-state': f.state },
        h('th', { scope: 'row' }, id),
        h('td', {}, f.chainId),
        h(
          'td',
          {},
          badge(f.state),
          f.state === 'kept' && f.keptUntil ? ` until ${fmtTime(f.keptUntil)}` : '',
          err,
        ),
        h('td', { class: 'num' }, f.cu ?? 0),
        h('td', {}, url ? h('div', { class: 'url' }, h('code', {}, url), copyButton(url)) : '—'),
      );
    }),
  );
  $('forks-empty').hidden = forks.length > 0;

  const changes = es.changes && Object.keys(es.changes).length ? es.changes : null;
  $('changes').replaceChildren(
    ...(changes
      ? [
          h('h2', {}, 'Balance changes'),
          ...Object.entries(changes).map(([chain, accounts]) =>
            h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                {},
                h('caption', {}, `Chain ${chain}`),
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    ...['Address', 'Before (wei)', 'After (wei)', 'Delta (wei)'].map((t) =>
                      h('th', { scope: 'col' }, t),
                    ),
                  ),
                ),
                h(
                  'tbody',
                  {},
                  ...Object.entries(accounts).map(([addr, c]) =>
                    h(
                      'tr',
                      {},
                      h('td', {}, h('code', {}, addr)),
                      h('td', { class: 'num' }, c.beforeWei),
                      h('td', { class: 'num' }, c.afterWei),
                      h('td', { class: 'num' }, c.deltaWei),
                    ),
                  ),
                ),
              ),
            ),
          ),
        ]
      : []),
  );

  const c = es.cancellation;
  const teardown = c ? c.forks || [] : [...ui.teardown.values()];
  $('cancellation').replaceChildren(
    ...(c || ui.cancelling || teardown.length
      ? [
          h('h2', {}, 'Cancellation'),
          c
            ? h(
                'p',
                { id: 'cancellation-record' },
                `Requested by ${c.requestedBy} at ${fmtTime(c.requestedAt)}`,
                c.reason ? ` (reason: ${c.reason})` : '',
                `; completed ${fmtTime(c.completedAt)}.`,
              )
            : h('p', {}, 'Cancelling: tearing down forks…'),
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { id: 'teardown' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ...['Fork', 'Chain', 'Result', 'Method', 'ms'].map((t) =>
                    h('th', { scope: 'col' }, t),
                  ),
                ),
              ),
              h(
                'tbody',
                {},
                ...teardown.map((f) =>
                  h(
                    'tr',
                    {},
                    h('td', {}, f.forkId),
                    h('td', {}, f.chainId),
                    h(
                      'td',
                      {},
                      f.ok === undefined ? badge(f.state) : f.ok ? 'torn down' : `failed: ${f.error}`,
                    ),
                    h('td', {}, f.method || '—'),
                    h('td', { class: 'num' }, typeof f.ms === 'number' ? f.ms.toFixed(1) : '—'),
                  ),
                ),
              ),
            ),
          ),
        ]
      : []),
  );
  $('run-error').replaceChildren(
    ...(es.error
      ? [
          h('h2', {}, 'Failure'),
          h(
            'p',
            { class: 'error' },
            `${es.error.code}: ${es.error.message}`,
            es.error.nodeId ? ` (node ${es.error.nodeId})` : '',
          ),
        ]
      : []),
  );
}

async function runView(id, signal) {
  show('run-view');
  for (const el of ['run-summary', 'graph', 'changes', 'cancellation', 'run-error']) {
    $(el).replaceChildren();
  }
  $('nodes').tBodies[0].replaceChildren();
  $('nodes').tBodies[0].rowsByKey = null;
  $('forks').tBodies[0].replaceChildren();
  $('run-title').textContent = `Run ${id}`;
  $('cancel-state').textContent = '';
  let run = null;
  const ui = {
    cancelling: false,
    releasing: false,
    selected: null,
    rpcUrls: new Map(),
    teardown: new Map(),
    select: (nodeId) => {
      ui.selected = nodeId;
      render();
      const row = $(`node-${nodeId}`);
      if (row) row.scrollIntoView({ block: 'nearest' });
    },
  };
  let scheduled = false;
  const render = () => {
    if (!run || scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      if (!signal.aborted) renderRun(run, ui);
    });
  };

  // Events seen while a GET is in flight are applied again on top of its answer, so an answer
  // older than an event never rolls the page back.
  let inFlight = null;
  const refetch = async () => {
    if (inFlight) {
      inFlight.again = true;
      return;
    }
    inFlight = { events: [], again: false };
    try {
      const { data } = await api(`/v1/runs/${id}`, { signal });
      const replay = inFlight.events;
      run = data;
      for (const e of replay) apply(e, false);
      render();
    } catch (e) {
      if (!signal.aborted) $('cancel-state').textContent = `Could not load the run: ${e.message}`;
    } finally {
      const again = inFlight.again;
      inFlight = null;
      if (again && !signal.aborted) refetch();
    }
  };

  const apply = (e, record) => {
    if (record && inFlight) inFlight.events.push(e);
    if (!run) return;
    const d = e.data || {};
    const es = (run.executionState ||= {});
    switch (e.event) {
      case 'snapshot':
        run = d;
        break;
      case 'run':
      case 'end':
        run.status = d.status;
        run.totalCu = d.totalCu;
        if (d.finishedAt) run.finishedAt = d.finishedAt;
        break;
      case 'cu':
        run.totalCu = d.totalCu;
        break;
      case 'node': {
        const n = ((es.nodes ||= {})[d.nodeId] ||= {});
        n.status = d.status;
        n.cu = d.cu;
        n.error = d.error;
        break;
      }
      case 'fork': {
        const f = ((es.forks ||= {})[d.forkId] ||= {});
        f.state = d.state;
        f.chainId = d.chainId;
        f.error = d.error;
        if (d.keptUntil !== undefined) f.keptUntil = d.keptUntil;
        if (d.rpcUrl) ui.rpcUrls.set(d.forkId, d.rpcUrl);
        if (ui.cancelling) ui.teardown.set(d.forkId, d);
        break;
      }
      case 'cancellation':
        es.cancellation = d;
        break;
      default:
        break;
    }
  };

  currentRun = { id, ui, render, signal };
  await refetch();
  await streamEvents(`/v1/runs/${id}/events`, {
    signal,
    onEvent: (e) => {
      apply(e, true);
      render();
      // Outputs, per-fork CU and the final record come with the Run, not the events.
      if (
        (e.event === 'node' && TERMINAL.has(e.data.status)) ||
        e.event === 'end' ||
        e.event === 'cancellation' ||
        (e.event === 'fork' && e.data.state === 'ready')
      ) {
        refetch();
      }
    },
  });

}

async function cancelRun() {
  const cur = currentRun;
  if (!cur || cur.signal.aborted) return;
  const btn = $('cancel');
  btn.disabled = true;
  cur.ui.cancelling = true;
  cur.render();
  $('cancel-state').textContent = 'Cancelling…';
  try {
    const { status, message } = await api(`/v1/runs/${cur.id}/cancel`, {
      method: 'POST',
      body: { reason: 'cancelled from the dashboard' },
      accept: [409],
    });
    $('cancel-state').textContent =
      status === 200 ? 'Cancelled.' : `Not cancelled: ${message}`;
  } catch (e) {
    $('cancel-state').textContent = `Cancel failed: ${e.message}`;
    cur.ui.cancelling = false;
    btn.disabled = false;
  }
}

// ---- Measuring: draws a synthetic graph of `n` nodes off screen and answers the time it took.
async function releaseForks() {
  const cur = currentRun;
  if (!cur || cur.signal.aborted) return;
  cur.ui.releasing = true;
  cur.render();
  $('cancel-state').textContent = 'Releasing kept forks…';
  try {
    const { status, message } = await api(`/v1/runs/${cur.id}/release`, {
      method: 'POST',
      accept: [409],
    });
    $('cancel-state').textContent =
      status === 200 ? 'Kept forks released.' : `Not released: ${message}`;
  } catch (e) {
    $('cancel-state').textContent = `Release failed: ${e.message}`;
  }
  cur.ui.releasing = false;
  cur.render();
}

function measureGraph(n) {
  const nodes = { root: { type: 'manual', children: [] } };
  const width = Math.max(1, Math.round(Math.sqrt(n)));
  for (let i = 1; i < n; i++) {
    const id = `n${i}`;
    nodes[id] = { type: 'wait', children: [] };
    const parent = i <= width ? 'root' : `n${i - width}`;
    nodes[parent].children.push(id);
    if (i > width && i % 3 === 0) nodes[`n${i - width - 1 > 0 ? i - width - 1 : 1}`].children.push(id);
  }
  const box = h('div', { class: 'measure', 'aria-hidden': 'true' });
  document.body.append(box);
  const t0 = performance.now();
  drawGraph(box, { nodes }, {}, () => {});
  box.getBoundingClientRect(); // include style and layout, not only building the elements
  const ms = performance.now() - t0;
  box.remove();
  return { nodes: Object.keys(nodes).length, ms };
}
window.forkrunDashboard = { measureGraph, layout };

// ---- Start.
document.addEventListener('DOMContentLoaded', () => {
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('token').value.trim();
    if (!t) return;
    sessionStorage.setItem(TOKEN_KEY, t);
    $('token').value = '';
    $('login-error').textContent = '';
    route();
  });
  $('signout').addEventListener('click', () => signOut(''));
  $('filter-status').addEventListener('change', renderRuns);
  $('filter-sim').addEventListener('change', renderRuns);
  $('filters').addEventListener('submit', (e) => e.preventDefault());
  $('cancel').addEventListener('click', cancelRun);
  $('release').addEventListener('click', releaseForks);
  window.addEventListener('hashchange', route);
  route();
});
