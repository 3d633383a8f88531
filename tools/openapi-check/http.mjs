// A `forkrun serve` child process, and requests to it: whole answers, event streams cut short,
// and raw bytes for what an HTTP client refuses to send.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `$FORKRUN_BIN serve --listen 127.0.0.1:0 ...args`; resolves once it prints its URL. */
export async function startServer(args, { timeoutMs = 30000 } = {}) {
  const bin = process.env.FORKRUN_BIN;
  if (!bin) throw new Error('FORKRUN_BIN is not set (ctest sets it to the built forkrun)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkrun-openapi-'));
  const err = fs.openSync(path.join(dir, 'stderr.log'), 'w');
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', err],
  });
  fs.closeSync(err);
  let out = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no URL within ${timeoutMs} ms: ${out}`)),
      timeoutMs,
    );
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/[0-9.]+:[0-9]+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) =>
      reject(
        new Error(
          `forkrun serve exited (${code}): ${out}\n${fs.readFileSync(path.join(dir, 'stderr.log'), 'utf8')}`,
        ),
      ),
    );
  });
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    base,
    port: Number(base.split(':').pop()),
    pid: child.pid,
    stderr: () => fs.readFileSync(path.join(dir, 'stderr.log'), 'utf8'),
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
      const status = await exited;
      clearTimeout(timer);
      status.stderr = fs.readFileSync(path.join(dir, 'stderr.log'), 'utf8');
      fs.rmSync(dir, { recursive: true, force: true });
      return status;
    },
  };
}

function lower(headers) {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
}

/**
 * One request on a fresh connection. `body`: a string sent as is, or a value sent as JSON
 * (Content-Type application/json unless given). `until(text)`: stop reading once it holds (an
 * event stream), or after `timeoutMs`. `onHeaders(res)`: called once the head has arrived.
 */
export function send(
  base,
  { method = 'GET', path: target, headers = {}, body, until, onHeaders, timeoutMs = 30000 },
) {
  const reqHeaders = lower(headers);
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    if (typeof body !== 'string' && !reqHeaders['content-type'])
      reqHeaders['content-type'] = 'application/json';
    reqHeaders['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      base + target,
      { method, headers: reqHeaders, agent: false },
      (res) => {
        let text = '';
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          res.destroy();
          resolve({
            method,
            path: target,
            reqHeaders,
            reqBody: payload,
            status: res.statusCode,
            headers: lower(res.headers),
            body: text,
          });
        };
        const timer = setTimeout(finish, timeoutMs);
        if (onHeaders) onHeaders(res);
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
          if (until && until(text)) finish();
        });
        res.on('end', finish);
        res.on('error', finish);
        res.on('aborted', finish);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Raw bytes to the server; the answer as {status, headers, body} once it closes. */
export function sendRaw(port, bytes, { timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const at = text.indexOf('\r\n\r\n');
      if (!text.startsWith('HTTP/1.1 ') || at < 0) {
        reject(new Error(`no HTTP answer to a raw request: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const [statusLine, ...lines] = text.slice(0, at).split('\r\n');
      const headers = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: text.slice(at + 4) });
    });
    socket.write(bytes);
  });
}

/** A connection that has sent part of a request head and waits: it counts, but is not idle. */
export function halfRequest(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

/** The anvil processes whose parent is `pid` (Linux /proc). */
export function anvilChildren(pid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (comm === 'anvil' && Number(ppid) === pid && state !== 'Z') out.push(Number(entry));
  }
  return out;
}
