#!/usr/bin/env node
// WebSocket gateway latency: eth_blockNumber round trips over one kept socket through a
// simulation's ws:// rpcUrl, against a socket straight to the same anvil fork behind it, in the
// same run (rounds alternate between the two so that drift hits both alike).
//
// Starts `forkrun serve` (a fresh local chain, pool of 1), leases the pooled fork with a pool run,
// finds the fork's own port from /proc, and prints p50/p99/mean of each and the gateway's
// overhead.
//
// Usage: node tools/bench-ws.mjs [--build DIR] [--calls N] [--rounds N]
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(path.join(root, 'tools', 'package.json'));
const WebSocket = require('ws');
const anvil = path.join(root, 'tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
};
const build = opt('--build', path.join(root, 'build'));
const calls = Number(opt('--calls', 5000));
const rounds = Number(opt('--rounds', 10));

function startServer() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ws-'));
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(config, JSON.stringify({ chains: { 31337: { poolSize: 1 } } }));
    const child = spawn(path.join(build, 'forkrun'),
        ['serve', '--listen', '127.0.0.1:0', '--anvil', anvil, '--config', config, '--no-access-log'],
        { stdio: ['ignore', 'pipe', 'ignore'] });
    return new Promise((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
            out += d;
            const url = out.match(/listening on (http:\/\/\S+)/);
            const token = out.match(/dev token .*?\): (\S+)/);
            if (url && token) resolve({ child, base: url[1], token: token[1] });
        });
        child.on('exit', (code) => reject(new Error(`forkrun exited with ${code}: ${out}`)));
    });
}

async function api(base, token, method, p, body) {
    const r = await fetch(base + p, {
        method,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: body && JSON.stringify(body),
    });
    return (await r.json()).data;
}

// The TCP port anvil `pid` listens on, from its socket inodes and /proc/net/tcp.
function listeningPort(pid) {
    const inodes = new Set();
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        let link = '';
        try {
            link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
            continue; // closed meanwhile
        }
        const m = link.match(/socket:\[(\d+)\]/);
        if (m) inodes.add(m[1]);
    }
    for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f[3] === '0A' && inodes.has(f[9])) return parseInt(f[1].split(':')[1], 16);
    }
    return null;
}

function forkPort(serverPid) {
    for (const entry of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (comm === 'anvil' && ppid === serverPid) return listeningPort(Number(entry));
    }
    return null;
}

function open(url) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(url, { perMessageDeflate: false });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
    });
}

// Times `n` sequential eth_blockNumber round trips on `ws`; milliseconds each.
function roundTrips(ws, n) {
    return new Promise((resolve) => {
        const out = [];
        let id = 0;
        let t0;
        const sendOne = () => {
            t0 = process.hrtime.bigint();
            ws.send(JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'eth_blockNumber', params: [] }));
        };
        const onMessage = () => {
            out.push(Number(process.hrtime.bigint() - t0) / 1e6);
            if (out.length === n) {
                ws.off('message', onMessage);
                resolve(out);
            } else {
                sendOne();
            }
        };
        ws.on('message', onMessage);
        sendOne();
    });
}

const pct = (xs, p) => xs[Math.max(0, Math.min(xs.length - 1, Math.round((p / 100) * (xs.length - 1))))];
const summary = (xs) => {
    xs.sort((a, b) => a - b);
    return { p50: pct(xs, 50), p99: pct(xs, 99), mean: xs.reduce((a, b) => a + b, 0) / xs.length };
};

const { child, base, token } = await startServer();
try {
    const run = await api(base, token, 'POST', '/v1/runs', {
        workflowId: 'bench-ws', workflowVersion: 1, isSimulation: true, simulationMode: 'pool', chains: [31337],
        workflowDefinition: { nodes: { root: { type: 'manual', children: ['w'] }, w: { type: 'wait', props: { seconds: 600 } } } },
    });
    let rpcUrl;
    for (let i = 0; i < 600 && !rpcUrl; i++) {
        rpcUrl = (await api(base, token, 'GET', `/v1/runs/${run.id}`)).simulationForks?.[0]?.rpcUrl;
        if (!rpcUrl) await new Promise((r) => setTimeout(r, 50)); // polling for the lease
    }
    const port = forkPort(child.pid);
    if (!rpcUrl || !port) throw new Error(`no lease (${rpcUrl}) or fork port (${port})`);
    const gateway = await open(rpcUrl.replace(/^http/, 'ws'));
    const direct = await open(`ws://127.0.0.1:${port}`);
    await roundTrips(gateway, 500); // warm-up of both paths
    await roundTrips(direct, 500);
    const g = [];
    const d = [];
    const per = Math.ceil(calls / rounds);
    for (let r = 0; r < rounds; r++) {
        g.push(...(await roundTrips(gateway, per)));
        d.push(...(await roundTrips(direct, per)));
    }
    const sg = summary(g);
    const sd = summary(d);
    const f = (x) => x.toFixed(3);
    console.log(`ws eth_blockNumber round trips, ${g.length} each over one kept socket, ${rounds} alternating rounds`);
    console.log(`gateway: p50 ${f(sg.p50)} ms, p99 ${f(sg.p99)} ms, mean ${f(sg.mean)} ms`);
    console.log(`direct:  p50 ${f(sd.p50)} ms, p99 ${f(sd.p99)} ms, mean ${f(sd.mean)} ms`);
    console.log(`overhead: p50 ${f(sg.p50 - sd.p50)} ms, p99 ${f(sg.p99 - sd.p99)} ms`);
    gateway.close();
    direct.close();
    await api(base, token, 'POST', `/v1/runs/${run.id}/cancel`);
} finally {
    child.kill('SIGTERM');
}
