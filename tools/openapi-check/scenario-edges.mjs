// What is answered before routing (framing, limits, the connection cap), CORS, and quotas.
import { halfRequest, send, sendRaw, sleep } from './http.mjs';
import { auth, quickRun, waitRun, wf } from './scenario-runs.mjs';

export async function edgeScenario(ctx) {
  const { main, limits } = ctx;
  const A = auth(ctx.tokens.aRw);
  const call = (label, req, opts) => ctx.call(label, main, req, opts);
  const raw = async (label, server, req, bytes, expect) =>
    ctx.checkRaw(label, server, req, await sendRaw(server.port, bytes), expect);

  // Framing and limits.
  await raw(
    'HTTP/1.1 without Host',
    main,
    { method: 'GET', path: '/healthz' },
    'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n',
    400,
  );
  await raw(
    'Transfer-Encoding gzip, chunked',
    main,
    { method: 'POST', path: '/v1/runs' },
    'POST /v1/runs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    501,
  );
  await raw(
    'an rpcUrl with Transfer-Encoding not ending in chunked',
    main,
    { method: 'POST', path: '/rpc/AAAA' },
    'POST /rpc/AAAA HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n',
    400,
  );
  await raw(
    'an rpcUrl with Transfer-Encoding gzip, chunked',
    main,
    { method: 'POST', path: '/rpc/AAAA' },
    'POST /rpc/AAAA HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    501,
  );
  await raw(
    'headers over the limit',
    main,
    { method: 'GET', path: '/healthz' },
    `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(17000)}\r\n\r\n`,
    431,
  );
  await call(
    'a body over the limit',
    { method: 'POST', path: '/v1/runs', headers: A, body: { workflowId: 'x'.repeat(1100000) } },
    { expect: 413 },
  );

  // CORS: only the listed origin.
  const preflight = (origin) => ({
    method: 'OPTIONS',
    path: '/v1/runs',
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization, content-type, idempotency-key',
    },
  });
  await call('a preflight from the allowed origin', preflight(ctx.origin), { expect: 204 });
  await call('a preflight from another origin', preflight('https://evil.example'), { expect: 403 });
  const allowed = await call(
    'a list from the allowed origin',
    { path: '/v1/runs?limit=1', headers: { ...A, Origin: ctx.origin } },
    { expect: 200 },
  );
  if (allowed.headers['access-control-allow-origin'] !== ctx.origin)
    ctx.problem('no Access-Control-Allow-Origin for the allowed origin');
  await call(
    'a 401 to the allowed origin',
    { path: '/v1/runs', headers: { Origin: ctx.origin } },
    { expect: 401 },
  );
  await call(
    'a list from another origin',
    { path: '/v1/runs?limit=1', headers: { ...A, Origin: 'https://evil.example' } },
    { expect: 200 },
  );
  await ctx.call('a preflight while CORS is off', limits, preflight(ctx.origin), { expect: 405 });

  // Quotas: one active run per organization on the limits server.
  const lim = (label, req, opts) => ctx.call(label, limits, req, opts);
  const first = await lim(
    'create under the quota',
    { method: 'POST', path: '/v1/runs', headers: A, body: waitRun(wf('quota'), 60) },
    { expect: 201 },
  );
  const over = await lim(
    'create over the quota',
    { method: 'POST', path: '/v1/runs', headers: A, body: waitRun(wf('quota'), 60) },
    { expect: 429 },
  );
  if (!/maxActiveRunsPerOrg/.test(over.json?.message ?? ''))
    ctx.problem(`a 429 names the limit: ${over.body}`);
  await lim(
    'cancel the run under the quota',
    { method: 'POST', path: `/v1/runs/${first.json.data.id}/cancel`, headers: A },
    { expect: 200 },
  );

  // Idempotency keys, on the limits server, which keeps one finished run (--retain-runs 1).
  const key = `check-${Date.now()}`;
  const keyed = quickRun(wf('idem'));
  const withKey = (k, body) => ({
    method: 'POST',
    path: '/v1/runs',
    headers: { ...A, 'Idempotency-Key': k },
    body,
  });
  const made = await lim('create with an Idempotency-Key', withKey(key, keyed), { expect: 201 });
  await lim(
    'wait for the keyed run',
    { path: `/v1/runs/${made.json.data.id}?waitUntil=terminal&timeoutMs=20000`, headers: A },
    { expect: 200 },
  );
  const replay = await lim('repeat with the key', withKey(key, keyed), { expect: 201 });
  const replayed = replay.headers['idempotent-replayed'] === 'true';
  if (!replayed || replay.json?.data?.id !== made.json.data.id)
    ctx.problem(`a repeat replays the first run with Idempotent-Replayed: ${replay.body}`);
  await lim('the key with another body', withKey(key, quickRun(wf('idem'))), { expect: 422 });
  await lim('a key of 256 characters', withKey('k'.repeat(256), keyed), { expect: 400 });
  // A later run makes retention drop the keyed one: the key's repeat can no longer answer it.
  const later = await lim(
    'a run that retention keeps instead',
    { method: 'POST', path: '/v1/runs', headers: A, body: quickRun(wf('idem')) },
    { expect: 201 },
  );
  await lim(
    'wait for it',
    { path: `/v1/runs/${later.json.data.id}?waitUntil=terminal&timeoutMs=20000`, headers: A },
    { expect: 200 },
  );
  await lim('repeat after its run was dropped', withKey(key, keyed), { expect: 409 });

  // The connection cap (4): with every connection in the middle of a request, the next is shed.
  const held = await Promise.all([1, 2, 3, 4].map(() => halfRequest(limits.port)));
  // Until the server has read their first bytes they count as idle, and idle ones make room.
  await sleep(300);
  try {
    await raw(
      'a connection past the cap',
      limits,
      { method: 'GET', path: '/healthz' },
      'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
      503,
    );
  } finally {
    for (const s of held) s.destroy();
  }
  // Served again once they are gone.
  for (let i = 0; i < 50; i += 1) {
    const r = await send(limits.base, { path: '/healthz' }).catch(() => ({ status: 0 }));
    if (r.status === 200) return;
    await sleep(100);
  }
  ctx.problem('the limits server did not serve /healthz again after its connections closed');
}
