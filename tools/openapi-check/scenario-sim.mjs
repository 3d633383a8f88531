// A simulation with a fork of chain 31337: transfers, a block node, the rpcUrl gateway's answers
// (results, the fork's JSON-RPC errors, refusals, invalid bodies, limits, released and unreachable
// forks), its event stream, and its cancel.
import { anvilChildren, sleep } from './http.mjs';
import { auth, runBody, wf } from './scenario-runs.mjs';

const DEV0 = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
const ADDR_X = '0x00000000000000000000000000000000000000aa';
const jsonrpc = (id, method, params = []) => ({ jsonrpc: '2.0', id, method, params });

function simBody(nodes) {
  return {
    ...runBody(wf('sim'), nodes),
    isSimulation: true,
    simulationMode: 'fork',
    chains: [31337],
  };
}

// POST /v1/runs of a simulation of `nodes` (with `extra` request fields), expecting 201.
function createSim(call, A, label, nodes, extra = {}) {
  return call(
    label,
    { method: 'POST', path: '/v1/runs', headers: A, body: { ...simBody(nodes), ...extra } },
    { expect: 201 },
  );
}

// Polls GET until `done(run)`; the last run seen.
async function pollRun(ctx, path, done, label, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await ctx.call(
      label,
      ctx.main,
      { path, headers: auth(ctx.tokens.aRw) },
      { expect: 200 },
    );
    if (done(r.json.data) || Date.now() > deadline) return r.json.data;
    await sleep(200);
  }
}

export async function simulationScenario(ctx) {
  const { main } = ctx;
  const A = auth(ctx.tokens.aRw);
  const call = (label, req, opts) => ctx.call(label, main, req, opts);
  const created = await call(
    'create a simulation',
    {
      method: 'POST',
      path: '/v1/runs',
      headers: A,
      body: simBody({
        root: { type: 'manual', children: ['fund'] },
        fund: {
          type: 'setBalance',
          children: ['send'],
          props: { chainId: 31337, address: DEV0, valueWei: '100000000000000000000' },
        },
        send: {
          type: 'transfer',
          children: ['bal'],
          props: { chainId: 31337, to: ADDR_X, valueWei: '1000' },
        },
        bal: {
          type: 'rpc',
          children: ['check'],
          props: { chainId: 31337, method: 'eth_getBalance', params: [ADDR_X, 'latest'] },
        },
        check: {
          type: 'assert',
          children: ['head'],
          props: { value: '{{nodes.bal.output}}', equals: 1000 },
        },
        head: {
          type: 'block',
          children: ['hold'],
          props: { blockId: 'mine-and-read-head', props: { chainId: 31337, blocks: 2 } },
        },
        hold: { type: 'wait', props: { seconds: 120 } },
      }),
    },
    { expect: 201 },
  );
  const runPath = `/v1/runs/${created.json.data.id}`;
  const run = await pollRun(
    ctx,
    runPath,
    (r) => r.executionState.nodes.hold?.status === 'waiting' || r.finishedAt,
    'poll a simulation until it holds',
  );
  if (run.status !== 'waiting' || run.simulationForks.length !== 1) {
    ctx.problem(`the simulation did not reach its wait: ${JSON.stringify(run).slice(0, 600)}`);
    return;
  }
  const rpc = new URL(run.simulationForks[0].rpcUrl).pathname;
  const gw = (label, body, opts = {}, headers = {}) =>
    call(label, { method: 'POST', path: rpc, headers, body }, opts);

  await gw('rpcUrl: a call', jsonrpc(1, 'eth_blockNumber'), { expect: 200 });
  const batch = await gw(
    'rpcUrl: a batch with a refused call',
    [jsonrpc(1, 'eth_chainId'), jsonrpc('two', 'anvil_nodeInfo')],
    { expect: 200 },
  );
  if (
    !Array.isArray(batch.json) ||
    !batch.json.some((a) => a.id === 'two' && a.error?.code === -32601)
  ) {
    ctx.problem(`a refused call in a batch is answered -32601: ${batch.body.slice(0, 300)}`);
  }
  await gw('rpcUrl: a refused call', jsonrpc(7, 'anvil_setRpcUrl', ['http://example.com']), {
    expect: 200,
  });
  await gw("rpcUrl: the fork's own error", jsonrpc(8, 'eth_getBalance', ['not-an-address']), {
    expect: 200,
  });
  await gw(
    'rpcUrl: only refused notifications',
    { jsonrpc: '2.0', method: 'anvil_nodeInfo', params: [] },
    { expect: 204 },
  );
  const notJson = await gw(
    'rpcUrl: not JSON',
    'nope{',
    { expect: 400 },
    { 'Content-Type': 'application/json' },
  );
  if (notJson.json?.error?.code !== -32700)
    ctx.problem(`a body that is not JSON is -32700: ${notJson.body}`);
  const notRpc = await gw('rpcUrl: not JSON-RPC', { foo: 1 }, { expect: 400 });
  if (notRpc.json?.error?.code !== -32600)
    ctx.problem(`a request that is not JSON-RPC is -32600: ${notRpc.body}`);
  const many = Array.from({ length: 1001 }, (_, i) => jsonrpc(i, 'eth_chainId'));
  await gw('rpcUrl: a batch over the limit', many, { expect: 413 });
  await gw(
    'rpcUrl: a body over the limit',
    JSON.stringify(jsonrpc(1, 'eth_chainId', ['x'.repeat(1100000)])),
    { expect: 413 },
    { 'Content-Type': 'application/json' },
  );
  await call('rpcUrl: GET', { path: rpc }, { expect: 405 });
  await call(
    'rpcUrl: an unknown secret',
    { method: 'POST', path: '/rpc/AAAAAAAAAAAAAAAAAAAAAA', body: jsonrpc(1, 'eth_chainId') },
    { expect: 404 },
  );
  await gw(
    'rpcUrl from an allowed origin',
    jsonrpc(2, 'eth_chainId'),
    { expect: 200 },
    { Origin: ctx.origin },
  );

  // The run's stream so far: forks, nodes, and the CU of the gateway calls.
  const live = await call(
    "a running simulation's events, from an allowed origin",
    {
      path: `${runPath}/events`,
      headers: { ...A, Origin: ctx.origin },
      until: (text) => text.includes('event: cu'),
      timeoutMs: 5000,
    },
    { expect: 200 },
  );
  for (const kind of ['run', 'node', 'fork', 'cu']) {
    if (!live.events?.some((e) => e.event === kind))
      ctx.problem(`the simulation's stream has no ${kind} event`);
  }

  const cancelled = await call(
    'cancel a simulation',
    { method: 'POST', path: `${runPath}/cancel`, headers: A },
    { expect: 200 },
  );
  const teardowns = cancelled.json?.data?.executionState?.cancellation?.forks ?? [];
  if (teardowns.length !== 1 || !teardowns[0].ok)
    ctx.problem(`the fork's teardown: ${JSON.stringify(teardowns)}`);
  await gw('rpcUrl of a cancelled run', jsonrpc(3, 'eth_chainId'), { expect: 410 });
  await gw(
    'rpcUrl of a cancelled run, batch',
    [jsonrpc(3, 'eth_chainId'), jsonrpc(4, 'eth_blockNumber')],
    { expect: 410 },
  );
  const ended = await call(
    "a cancelled simulation's events",
    { path: `${runPath}/events`, headers: A, timeoutMs: 10000 },
    { expect: 200 },
  );
  if (!ended.events?.some((e) => e.event === 'cancellation'))
    ctx.problem("the cancelled simulation's stream has no cancellation event");

  await unreachableFork(ctx, call, A);
  await keptForks(ctx, call, A);
}

// A failed simulation that keeps its forks: they serve until released, then answer 410.
async function keptForks(ctx, call, A) {
  const created = await createSim(
    call,
    A,
    'create a simulation that fails and keeps its fork',
    {
      root: { type: 'manual', children: ['no'] },
      no: { type: 'assert', props: { value: '1', equals: '2' } },
    },
    { keepForksOnFailure: 600 },
  );
  const runPath = `/v1/runs/${created.json.data.id}`;
  const failed = await call(
    'long-poll the failing simulation',
    { path: `${runPath}?waitUntil=terminal&timeoutMs=60000`, headers: A },
    { expect: 200 },
  );
  const fork = Object.values(failed.json?.data?.executionState?.forks ?? {})[0];
  if (failed.json?.data?.status !== 'failure' || fork?.state !== 'kept' || !fork.keptUntil) {
    ctx.problem(`the failed simulation keeps its fork: ${failed.body.slice(0, 600)}`);
    return;
  }
  const rpc = new URL(failed.json.data.simulationForks[0].rpcUrl).pathname;
  await call(
    'rpcUrl of a kept fork',
    { method: 'POST', path: rpc, body: jsonrpc(1, 'eth_blockNumber') },
    { expect: 200 },
  );
  await call(
    "release another organization's run",
    { method: 'POST', path: `${runPath}/release`, headers: auth(ctx.tokens.bRw) },
    { expect: 404 },
  );
  await call('release GET', { path: `${runPath}/release`, headers: A }, { expect: 405 });
  const released = await call(
    'release the kept forks',
    { method: 'POST', path: `${runPath}/release`, headers: A },
    { expect: 200 },
  );
  const after = Object.values(released.json?.data?.executionState?.forks ?? {})[0];
  if (after?.state !== 'released' || !(released.json.data.executionState.inspectionCu > 0))
    ctx.problem(`the released run: ${released.body.slice(0, 600)}`);
  await call('release again', { method: 'POST', path: `${runPath}/release`, headers: A }, {
    expect: 409,
  });
  await call(
    'rpcUrl of a released kept fork',
    { method: 'POST', path: rpc, body: jsonrpc(2, 'eth_blockNumber') },
    { expect: 410 },
  );
  const events = await call(
    "a released simulation's events",
    { path: `${runPath}/events`, headers: A, timeoutMs: 10000 },
    { expect: 200 },
  );
  const states = (events.events ?? [])
    .filter((e) => e.event === 'fork')
    .map((e) => JSON.parse(e.data).state);
  if (!states.includes('kept') || states.at(-1) !== 'released')
    ctx.problem(`the kept fork's events: ${JSON.stringify(states)}`);
}

// A fork killed under a run: the gateway answers 502 until the run is cancelled.
async function unreachableFork(ctx, call, A) {
  const created = await createSim(call, A, 'create a simulation whose fork dies', {
    root: { type: 'manual', children: ['w'] },
    w: { type: 'wait', props: { seconds: 60 } },
  });
  const runPath = `/v1/runs/${created.json.data.id}`;
  const run = await pollRun(
    ctx,
    runPath,
    (r) => r.simulationForks.length === 1 || r.finishedAt,
    'poll until the fork is up',
  );
  const forks = anvilChildren(ctx.main.pid);
  if (forks.length !== 1 || !run.simulationForks.length) {
    ctx.problem(`expected one fork process, found ${forks.length}`);
  } else {
    process.kill(forks[0], 'SIGKILL');
    await sleep(100);
    const rpc = new URL(run.simulationForks[0].rpcUrl).pathname;
    await call(
      'rpcUrl of a dead fork',
      { method: 'POST', path: rpc, body: jsonrpc(1, 'eth_chainId') },
      { expect: 502 },
    );
  }
  await call(
    'cancel a simulation whose fork died',
    { method: 'POST', path: `${runPath}/cancel`, headers: A },
    { expect: 200 },
  );
}
