#!/usr/bin/env node
// Keeps docs/openapi.json true (a ctest test): starts real `forkrun serve` processes, fetches
// GET /openapi.json, validates the document against the OpenAPI 3.1 schema, then makes requests
// that produce every documented answer and checks each one (status, headers, body, events)
// against the document. Fails listing every mismatch, and every documented answer no request
// produced. Needs FORKRUN_BIN (and FORKRUN_ANVIL for the forks); the validators are pinned in
// tools/package.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { send, startServer } from './openapi-check/http.mjs';
import { runScenario } from './openapi-check/scenario-runs.mjs';
import { simulationScenario } from './openapi-check/scenario-sim.mjs';
import { edgeScenario } from './openapi-check/scenario-edges.mjs';

// The validators come from npm (tools/package.json): say how to get them when they are missing.
let Contract;
let documentProblems;
try {
  ({ Contract, documentProblems } = await import('./openapi-check/contract.mjs'));
} catch (e) {
  if (e.code !== 'ERR_MODULE_NOT_FOUND') throw e;
  console.error(
    `openapi-check: ${e.message}\nInstall the pinned packages: (cd tools && npm ci), ` +
      'which tools/setup.sh (and so tools/test.sh) does.',
  );
  process.exit(1);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.join(here, '..', 'docs', 'openapi.json');

// Answers no request from outside can produce, and why.
const UNREACHABLE = {
  InternalError: 'a 500 means a bug; nothing a client sends produces one',
};

const TOKENS = { aRw: 'tok_a_rw', aRo: 'tok_a_ro', aWo: 'tok_a_wo', bRw: 'tok_b_rw' };
const ALLOWED_ORIGIN = 'http://app.example.test:8080';

function writeFixtures(dir) {
  const tokens = [
    {
      token: TOKENS.aRw,
      organizationId: 'org_a',
      subject: 'alice',
      scopes: ['runs:read', 'runs:write'],
    },
    { token: TOKENS.aRo, organizationId: 'org_a', subject: 'alice-reader', scopes: ['runs:read'] },
    { token: TOKENS.aWo, organizationId: 'org_a', subject: 'alice-writer', scopes: ['runs:write'] },
    {
      token: TOKENS.bRw,
      organizationId: 'org_b',
      subject: 'bob',
      scopes: ['runs:read', 'runs:write'],
    },
  ];
  fs.writeFileSync(path.join(dir, 'tokens.json'), JSON.stringify(tokens));
  // Chain 31337 is a fresh local chain, forked per run (no pool, none started ahead): its anvils
  // are the runs' own.
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ chains: { 31337: { poolSize: 0, spawnAhead: 0 } } }),
  );
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkrun-openapi-fixtures-'));
  writeFixtures(dir);
  const common = ['--tokens', path.join(dir, 'tokens.json'), '--no-access-log'];
  if (process.env.FORKRUN_ANVIL) common.push('--anvil', process.env.FORKRUN_ANVIL);
  const servers = [];
  const problems = [];
  try {
    const main = await startServer([
      ...common,
      '--config',
      path.join(dir, 'config.json'),
      '--cors-origin',
      ALLOWED_ORIGIN,
    ]);
    main.cors = [ALLOWED_ORIGIN];
    servers.push(main);
    // Quotas and the connection cap, kept apart from the main server's work.
    const limits = await startServer([
      ...common,
      '--max-active-runs-per-org',
      '1',
      '--max-connections',
      '4',
      // One HTTP thread: one accept queue, so connections are admitted in the order they came.
      '--threads',
      '1',
      // One finished run kept: the idempotency scenario sees a key outlive its run.
      '--retain-runs',
      '1',
    ]);
    limits.cors = [];
    servers.push(limits);

    const served = await send(main.base, { path: '/openapi.json' });
    const doc = JSON.parse(served.body);
    if (JSON.stringify(doc) !== JSON.stringify(JSON.parse(fs.readFileSync(source, 'utf8')))) {
      problems.push('the served document differs from docs/openapi.json: rebuild forkrun');
    }
    for (const p of await documentProblems(doc))
      problems.push(`the document is not valid OpenAPI 3.1: ${p}`);
    const contract = new Contract(doc);

    const ctx = {
      contract,
      main,
      limits,
      doc,
      tokens: TOKENS,
      origin: ALLOWED_ORIGIN,
      problem: (text) => problems.push(text),
      // Sends, checks the answer against the document and that it is `expect`; the exchange.
      async call(label, server, req, { expect, undocumentedQuery = false } = {}) {
        const x = await send(server.base, req);
        Object.assign(x, { label, cors: server.cors, undocumentedQuery });
        contract.check(x);
        if (expect !== undefined && x.status !== expect) {
          problems.push(`${label}: expected ${expect}, got ${x.status}: ${x.body.slice(0, 300)}`);
        }
        return x;
      },
      // Checks an answer got some other way (raw bytes) against the document.
      checkRaw(label, server, req, answer, expect) {
        const x = {
          ...answer,
          label,
          cors: server.cors,
          method: req.method,
          path: req.path,
          reqHeaders: req.headers ?? {},
          reqBody: undefined,
        };
        contract.check(x);
        if (x.status !== expect)
          problems.push(`${label}: expected ${expect}, got ${x.status}: ${x.body.slice(0, 300)}`);
        return x;
      },
    };
    const health = await ctx.call('health', main, { path: '/healthz' }, { expect: 200 });
    if (health.json?.data?.version !== doc.info.version) {
      problems.push(
        `info.version ${doc.info.version} is not the server's version ${health.json?.data?.version}`,
      );
    }
    for (const scenario of [runScenario, simulationScenario, edgeScenario]) {
      try {
        await scenario(ctx);
      } catch (e) {
        problems.push(`${scenario.name} stopped: ${e.stack}`);
      }
    }

    const uncovered = [...contract.responseKeys()].filter(
      (k) => !contract.covered.has(k) && !(k in UNREACHABLE),
    );
    for (const k of uncovered) problems.push(`documented but never produced by a request: ${k}`);
    problems.push(...contract.mismatches);
    console.log(
      `openapi-check: ${contract.checked} answers checked against the document, ` +
        `${contract.covered.size} documented answers produced, ${Object.keys(UNREACHABLE).length} unreachable: ` +
        Object.entries(UNREACHABLE)
          .map(([k, why]) => `${k} (${why})`)
          .join('; '),
    );
  } catch (e) {
    problems.push(`stopped: ${e.stack}`);
  } finally {
    for (const s of servers) {
      const status = await s.stop();
      if (status.code !== 0) {
        problems.push(
          `a server exited with ${status.code ?? status.signal}:\n${status.stderr.slice(-2000)}`,
        );
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (problems.length) {
    console.error(`openapi-check: ${problems.length} problems:\n- ${problems.join('\n- ')}`);
    process.exit(1);
  }
  console.log('openapi-check: ok');
}

await main();
