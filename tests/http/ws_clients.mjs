// What a wallet's library sees of a WebSocket rpcUrl: ethers' WebSocketProvider or viem's
// webSocket transport asks the chain id and block number, follows newHeads while a block is mined
// through the same socket, gets the policy's error for a refused method (and the fork still
// answers after it), then sees the socket closed with the release's reason once the run is
// cancelled. Prints one JSON line of what it saw; exits 1 (saying why) when something is off.
//
//   node ws_clients.mjs ethers|viem <ws rpcUrl> <cancel URL> <token>
//
// The packages come from tools/node_modules (tools/package.json pins them).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'tools', 'package.json'));
const [, , library, wsUrl, cancelUrl, token] = process.argv;
const deadline = (ms, what) =>
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms));
const within = (p, what, ms = 15000) => Promise.race([p, deadline(ms, what)]);

// One wallet library behind the same few operations.
async function ethersClient() {
    const { ethers } = require('ethers');
    const provider = new ethers.WebSocketProvider(wsUrl);
    return {
        chainId: async () => (await provider.getNetwork()).chainId,
        blockNumber: async () => BigInt(await provider.getBlockNumber()),
        onBlock: (cb) => provider.on('block', (n) => cb(BigInt(n))),
        send: (method, params = []) => provider.send(method, params),
        errorCode: (e) => e?.error?.code ?? e?.info?.error?.code ?? e?.code,
        socket: () => provider.websocket,
        destroy: () => provider.destroy().catch(() => {}),
    };
}

async function viemClient() {
    const { createPublicClient, webSocket } = require('viem');
    const client = createPublicClient({ transport: webSocket(wsUrl, { reconnect: false, retryCount: 0 }) });
    const rpc = await client.transport.getRpcClient();
    return {
        chainId: async () => BigInt(await client.getChainId()),
        blockNumber: async () => await client.getBlockNumber({ cacheTime: 0 }),
        onBlock: (cb) => client.watchBlocks({ poll: false, onBlock: (b) => cb(b.number) }),
        send: (method, params = []) => client.request({ method, params }),
        errorCode: (e) => e?.cause?.code ?? e?.code,
        socket: () => rpc.socket,
        destroy: () => rpc.close?.(),
    };
}

async function main() {
    const c = library === 'viem' ? await viemClient() : await ethersClient();
    const seen = { library };
    seen.chainId = Number(await within(c.chainId(), 'eth_chainId'));
    const before = await within(c.blockNumber(), 'eth_blockNumber');
    seen.blockNumber = Number(before);

    // A newHeads subscription sees the block mined through the same rpcUrl.
    let headSeen;
    const gotHead = new Promise((resolve) => (headSeen = resolve));
    c.onBlock((n) => n > before && headSeen(n));
    // The library subscribes in the background: blocks are mined through the rpcUrl until the
    // subscription reports one (each wait for it bounded), at most for 15 s.
    const until = Date.now() + 15000;
    let head;
    seen.mined = 0;
    while (head === undefined && Date.now() < until) {
        await within(c.send('evm_mine', []), 'evm_mine');
        seen.mined++;
        head = await Promise.race([gotHead, new Promise((r) => setTimeout(r, 500))]);
    }
    if (head === undefined) throw new Error('no newHeads notification within 15 s');
    seen.head = Number(head);

    // A refused method gets the policy's error, and the fork still answers afterwards.
    try {
        await within(c.send('anvil_nodeInfo', []), 'anvil_nodeInfo');
        seen.refusedCode = 0;
    } catch (e) {
        seen.refusedCode = c.errorCode(e);
        seen.refusedMessage = String(e?.error?.message ?? e?.details ?? e?.message ?? '');
    }
    seen.blockNumberAfter = Number(await within(c.send('eth_blockNumber', []), 'eth_blockNumber after'));

    // Cancelling the run releases the fork: the socket closes, saying so.
    const socket = c.socket();
    const closed = new Promise((resolve) =>
        socket.addEventListener('close', (ev) => resolve({ code: ev.code, reason: String(ev.reason) })));
    const r = await fetch(cancelUrl, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    seen.cancelStatus = r.status;
    const close = await within(closed, 'close frame after cancel');
    seen.closeCode = close.code;
    seen.closeReason = close.reason;
    await c.destroy();
    console.log(JSON.stringify(seen));
}

main().then(
    () => process.exit(0),
    (e) => {
        console.log(JSON.stringify({ library, error: String(e?.stack ?? e) }));
        process.exit(1);
    });
