// Live runs through the whole API: service endpoints, auth, bad input, create, long-poll, re-run,
// cancel and its conflicts, lists with cursors, and the event streams.
import { randomBytes } from 'node:crypto';

export const auth = (token) => ({ Authorization: `Bearer ${token}` });
export const wf = (prefix) => `wf_${prefix}_${randomBytes(4).toString('hex')}`;
export const UNKNOWN_RUN = 'run_AAAAAAAAAAAAAAAAAAAAAA';

export function runBody(workflowId, nodes, extra = {}) {
  return { workflowId, workflowVersion: 1, workflowDefinition: { nodes }, ...extra };
}
export const quickRun = (workflowId) =>
  runBody(workflowId, {
    root: { type: 'manual', children: ['a'] },
    a: { type: 'assert', props: { value: '1', equals: '1' } },
  });
export const waitRun = (workflowId, seconds) =>
  runBody(workflowId, {
    root: { type: 'manual', children: ['w'] },
    w: { type: 'wait', props: { seconds } },
  });

export async function runScenario(ctx) {
  const { main, tokens: t } = ctx;
  const call = (label, req, opts) => ctx.call(label, main, req, opts);
  const A = auth(t.aRw);
  const post = (path, body, headers = A) => ({ method: 'POST', path, headers, body });

  await call('metrics', { path: '/metrics' }, { expect: 200 });
  await call(
    'openapi with a request id',
    { path: '/openapi.json', headers: { 'X-Request-Id': 'doc.1' } },
    { expect: 200 },
  );
  await call('healthz POST', { method: 'POST', path: '/healthz' }, { expect: 405 });
  await call('metrics DELETE', { method: 'DELETE', path: '/metrics' }, { expect: 405 });
  await call('openapi PUT', { method: 'PUT', path: '/openapi.json' }, { expect: 405 });
  await call('the dashboard', { path: '/' }, { expect: 200 });
  await call('the dashboard script', { path: '/assets/app.js' }, { expect: 200 });
  await call('the dashboard style sheet', { path: '/assets/app.css' }, { expect: 200 });
  await call('dashboard POST', { method: 'POST', path: '/' }, { expect: 405 });
  await call('unknown route', { path: '/v2/nothing', headers: A }, { expect: 404 });
  await call(
    'unknown run sub-route',
    { path: `/v1/runs/${UNKNOWN_RUN}/bogus`, headers: A },
    { expect: 404 },
  );
  await call('runs DELETE', { method: 'DELETE', path: '/v1/runs', headers: A }, { expect: 405 });
  await call('cancel GET', { path: `/v1/runs/${UNKNOWN_RUN}/cancel`, headers: A }, { expect: 405 });
  await call('events POST', post(`/v1/runs/${UNKNOWN_RUN}/events`, {}), { expect: 405 });
  await call(
    'OPTIONS without CORS headers',
    { method: 'OPTIONS', path: '/v1/runs', headers: A },
    { expect: 405 },
  );

  // Auth: 401 before 403 before anything about the run or the body.
  await call('create without a token', post('/v1/runs', quickRun(wf('auth')), {}), { expect: 401 });
  await call(
    'list with an unknown token',
    { path: '/v1/runs', headers: auth('nope') },
    { expect: 401 },
  );
  await call('create with a read-only token', post('/v1/runs', quickRun(wf('auth')), auth(t.aRo)), {
    expect: 403,
  });
  await call(
    'list with a write-only token',
    { path: '/v1/runs', headers: auth(t.aWo) },
    { expect: 403 },
  );
  await call(
    'events with a write-only token',
    { path: '/v1/events', headers: auth(t.aWo) },
    { expect: 403 },
  );

  // Bodies that are refused.
  await call(
    'create as text/plain',
    post('/v1/runs', '{}', { ...A, 'Content-Type': 'text/plain' }),
    { expect: 415 },
  );
  await call(
    'create with malformed JSON',
    post('/v1/runs', '{"workflowId":', { ...A, 'Content-Type': 'application/json' }),
    { expect: 400 },
  );
  const invalid = await call(
    'create with invalid fields',
    post('/v1/runs', {
      workflowId: '',
      workflowVersion: 0,
      isSimulaton: true,
      workflowDefinition: { nodes: { root: { type: 'wait' }, x: { type: 'bogus' } } },
    }),
    { expect: 400 },
  );
  if ((invalid.json?.data?.errors?.length ?? 0) < 4)
    ctx.problem(`a 400 lists every problem: ${invalid.body}`);

  // Create, long-poll, re-run.
  const quick = await call(
    'create a quick run',
    post(
      '/v1/runs',
      { ...quickRun(wf('quick')), triggerSource: 'schedule', propValues: {} },
      { ...A, 'X-Request-Id': 'create.quick-1' },
    ),
    { expect: 201 },
  );
  if (quick.headers['x-request-id'] !== 'create.quick-1') ctx.problem('X-Request-Id is not echoed');
  const quickId = quick.json.data.id;
  const done = await call(
    'long-poll until terminal',
    { path: `/v1/runs/${quickId}?waitUntil=terminal&timeoutMs=10000`, headers: A },
    { expect: 200 },
  );
  if (done.json.data.status !== 'success')
    ctx.problem(`the quick run ended ${done.json.data.status}`);
  const failed = await call(
    'create a run with inputs that fails',
    post('/v1/runs', {
      workflowId: wf('fail'),
      workflowVersion: 2,
      isDustTest: true,
      propValues: { amount: 3 },
      workflowDefinition: {
        inputSchema: [
          { key: 'amount', type: 'number', required: true, description: 'at least 10' },
        ],
        nodes: {
          root: { type: 'manual', children: ['a'] },
          a: { type: 'assert', props: { value: '{{props.amount}}', gte: 10 }, children: ['b'] },
          b: { type: 'assert', props: { value: '1', equals: '1' } },
        },
      },
    }),
    { expect: 201 },
  );
  const failedRun = await call(
    'long-poll a failing run',
    { path: `/v1/runs/${failed.json.data.id}?waitUntil=terminal&timeoutMs=10000`, headers: A },
    { expect: 200 },
  );
  if (failedRun.json.data.status !== 'failure' || !failedRun.json.data.executionState.error) {
    ctx.problem(`the failing run: ${failedRun.body.slice(0, 300)}`);
  }
  await call(
    're-run from a source run',
    post('/v1/runs', { sourceRunId: quickId, simulationMode: null }),
    { expect: 201 },
  );

  // A run to cancel, and every way a cancel is refused.
  const slow = await call('create a waiting run', post('/v1/runs', waitRun(wf('slow'), 60)), {
    expect: 201,
  });
  const slowPath = `/v1/runs/${slow.json.data.id}`;
  await call(
    'long-poll that times out',
    { path: `${slowPath}?waitUntil=terminal&timeoutMs=300`, headers: A },
    { expect: 200 },
  );
  const bad = await call(
    'long-poll with bad parameters',
    { path: `${slowPath}?waitUntil=soon&timeoutMs=99999999`, headers: A },
    { expect: 400 },
  );
  if ((bad.json?.data?.errors?.length ?? 0) !== 2)
    ctx.problem(`both long-poll problems are listed: ${bad.body}`);
  await call(
    "get another organization's run",
    { path: slowPath, headers: auth(t.bRw) },
    { expect: 404 },
  );
  await call(
    'get an unknown run',
    { path: `/v1/runs/${UNKNOWN_RUN}`, headers: A },
    { expect: 404 },
  );
  await call('get a malformed run id', { path: '/v1/runs/not-a-run', headers: A }, { expect: 404 });
  await call(
    'cancel as text/plain',
    post(`${slowPath}/cancel`, 'stop', { ...A, 'Content-Type': 'text/plain' }),
    { expect: 415 },
  );
  await call(
    'cancel with an invalid body',
    post(`${slowPath}/cancel`, { reason: 5, force: true }),
    { expect: 400 },
  );
  await call('cancel with a long reason', post(`${slowPath}/cancel`, { reason: 'x'.repeat(501) }), {
    expect: 400,
  });
  await call(
    "cancel another organization's run",
    post(`${slowPath}/cancel`, undefined, auth(t.bRw)),
    { expect: 404 },
  );
  await call('cancel with a read-only token', post(`${slowPath}/cancel`, undefined, auth(t.aRo)), {
    expect: 403,
  });
  const cancelled = await call('cancel', post(`${slowPath}/cancel`, { reason: 'openapi-check' }), {
    expect: 200,
  });
  if (cancelled.json?.data?.executionState?.cancellation?.reason !== 'openapi-check')
    ctx.problem(`cancel record: ${cancelled.body.slice(0, 300)}`);
  await call('cancel again', post(`${slowPath}/cancel`), { expect: 409 });
  await call('cancel an unknown run', post(`/v1/runs/${UNKNOWN_RUN}/cancel`), { expect: 404 });

  // Lists and cursors.
  const page1 = await call(
    'list, first page',
    { path: '/v1/runs?limit=2', headers: A },
    { expect: 200 },
  );
  const cursor = page1.json?.data?.nextCursor;
  if (typeof cursor !== 'string') ctx.problem('a first page of 2 of 5 runs has a nextCursor');
  const page2 = await call(
    'list, next page',
    { path: `/v1/runs?limit=2&cursor=${encodeURIComponent(cursor)}`, headers: A },
    { expect: 200 },
  );
  const seen = new Set(page1.json.data.runs.map((r) => r.id));
  if (page2.json.data.runs.some((r) => seen.has(r.id))) ctx.problem('pages overlap');
  const full = await call(
    'list, filtered, full view',
    {
      path: `/v1/runs?status=success,failure,cancelled&isSimulation=false&isDustTest=false&workflowId=${quick.json.data.workflowId}&view=full&limit=200`,
      headers: A,
    },
    { expect: 200 },
  );
  if (!full.json.data.runs.length || !full.json.data.runs.every((r) => r.executionState))
    ctx.problem('view=full lists full runs');
  const listBad = await call(
    'list with bad parameters',
    {
      path: '/v1/runs?limit=0&status=done&isSimulation=maybe&cursor=garbage&view=everything',
      headers: A,
    },
    { expect: 400 },
  );
  if ((listBad.json?.data?.errors?.length ?? 0) < 5)
    ctx.problem(`every list problem is listed: ${listBad.body}`);
  await call(
    "list with another organization's cursor",
    { path: `/v1/runs?cursor=${encodeURIComponent(cursor)}`, headers: auth(t.bRw) },
    { expect: 400 },
  );
  await call(
    'list ignores unknown parameters',
    { path: '/v1/runs?color=blue', headers: A },
    { expect: 200, undocumentedQuery: true },
  );

  await eventScenario(ctx, call, A, quickId, slowPath);
}

async function eventScenario(ctx, call, A, quickId, slowPath) {
  const events = `/v1/runs/${quickId}/events`;
  const all = await call(
    "a finished run's events",
    { path: events, headers: A, timeoutMs: 10000 },
    { expect: 200 },
  );
  const kinds = (all.events ?? []).map((e) => e.event);
  if (kinds[0] !== 'run' || kinds.at(-1) !== 'end')
    ctx.problem(`a run's stream replays from its first event to end: ${kinds}`);
  const resumed = await call(
    'events after Last-Event-ID',
    { path: events, headers: { ...A, 'Last-Event-ID': '2' }, timeoutMs: 10000 },
    { expect: 200 },
  );
  if (resumed.events?.[0]?.id !== '3')
    ctx.problem(`Last-Event-ID: 2 resumes at 3: ${resumed.body.slice(0, 200)}`);
  await call(
    'events after ?lastEventId',
    { path: `${events}?lastEventId=1`, headers: A, timeoutMs: 10000 },
    { expect: 200 },
  );
  const snap = await call(
    'events after an id past the end',
    { path: events, headers: { ...A, 'Last-Event-ID': '999999' }, timeoutMs: 10000 },
    { expect: 200 },
  );
  if (snap.events?.map((e) => e.event).join() !== 'snapshot,end')
    ctx.problem(`a resume past the end is snapshot, end: ${snap.body.slice(0, 200)}`);
  await call(
    "a cancelled run's events",
    { path: `${slowPath}/events`, headers: A, timeoutMs: 10000 },
    { expect: 200 },
  );
  await call(
    'events with a bad Last-Event-ID',
    { path: events, headers: { ...A, 'Last-Event-ID': 'abc' } },
    { expect: 400 },
  );
  await call(
    'events with a bad lastEventId',
    { path: `${events}?lastEventId=x`, headers: A },
    { expect: 400 },
  );
  await call(
    'events of an unknown run',
    { path: `/v1/runs/${UNKNOWN_RUN}/events`, headers: A },
    { expect: 404 },
  );
  await call(
    "events of another organization's run",
    { path: events, headers: auth(ctx.tokens.bRw) },
    { expect: 404 },
  );

  // The organization's stream is live: it shows a run created after it opened.
  const workflowId = wf('org');
  let opened;
  const headersIn = new Promise((resolve) => {
    opened = resolve;
  });
  const stream = call(
    "the organization's events",
    {
      path: `/v1/events?isSimulation=false&workflowId=${workflowId}`,
      headers: A,
      onHeaders: opened,
      until: (text) => text.includes('event: end'),
      timeoutMs: 15000,
    },
    { expect: 200 },
  );
  await headersIn;
  await call(
    'create a run while the organization stream is open',
    {
      method: 'POST',
      path: '/v1/runs',
      headers: A,
      body: quickRun(workflowId),
    },
    { expect: 201 },
  );
  const org = await stream;
  if (!org.events?.some((e) => e.event === 'end'))
    ctx.problem(`the organization stream showed no end: ${org.body.slice(0, 300)}`);
  const orgSnap = await call(
    'organization events after an id past the end',
    {
      path: '/v1/events',
      headers: { ...A, 'Last-Event-ID': '999999' },
      until: (text) => text.includes('event: snapshot'),
      timeoutMs: 5000,
    },
    { expect: 200 },
  );
  if (orgSnap.events?.[0]?.event !== 'snapshot')
    ctx.problem("a resume past the organization's latest id starts with a snapshot");
  await call(
    'organization events with a bad filter',
    { path: '/v1/events?isSimulation=perhaps', headers: A },
    { expect: 400 },
  );
}
