#!/usr/bin/env python3
"""Shows anvil 1.7.1 leaving a ready transaction queued (foundry-rs/foundry#10122; decision 75).

Starts the pinned anvil, then in rounds sends one dev account's next twelve nonces at once, in
shuffled order, each `eth_sendTransaction` from its own curl process (as twelve runs' transfer
nodes would). After each round it waits up to 1 s for the account's count to reach the end of
the round. When it does not, the transaction whose nonce equals the count sits in `queued`
although nothing is missing before it; the script then shows that `evm_mine` and re-sending the
same bytes do not move it, and that a replacement with fees raised by a quarter (what the
transfer node does) does.

Usage: tools/anvil-queued-repro.py [--rounds N]
Exits 0 when the stall was seen and the replacement cleared it, 1 when no round stalled.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANVIL = os.path.join(ROOT, "tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
SENDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil's dev account 1 (public test data)
SINK = "0x00000000000000000000000000000000000000e1"
PORT = 18561


def body(method, params):
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})


def rpc(url, method, params):
    req = urllib.request.Request(url, data=body(method, params).encode(),
                                 headers={"content-type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())


def count(url):
    return int(rpc(url, "eth_getTransactionCount", [SENDER, "latest"])["result"], 16)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{PORT}"
    anvil = subprocess.Popen([ANVIL, "--port", str(PORT), "--chain-id", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                rpc(url, "eth_chainId", [])
                break
            except OSError:
                time.sleep(0.05)
        base = 0
        for rnd in range(args.rounds):
            nonces = list(range(base, base + 12))
            random.shuffle(nonces)
            tx = lambda n: {"from": SENDER, "to": SINK, "value": "0x1", "nonce": hex(n)}
            senders = [subprocess.Popen(["curl", "-s", "-H", "content-type: application/json",
                                         "-d", body("eth_sendTransaction", [tx(n)]), url],
                                        stdout=subprocess.PIPE) for n in nonces]
            hashes = {n: json.loads(p.communicate()[0])["result"] for n, p in zip(nonces, senders)}
            base += 12
            deadline = time.monotonic() + 1.0
            while count(url) != base and time.monotonic() < deadline:
                time.sleep(0.02)
            stuck = count(url)
            if stuck == base:
                continue
            print(f"round {rnd}: count {stuck}, expected {base}; pool",
                  rpc(url, "txpool_status", [])["result"])
            rpc(url, "evm_mine", [])
            raw = rpc(url, "eth_getRawTransactionByHash", [hashes[stuck]])["result"]
            print("  re-sent as it is:", rpc(url, "eth_sendRawTransaction", [raw]).get("error"))
            print(f"  after evm_mine and the re-send: count {count(url)}")
            old = rpc(url, "eth_getTransactionByHash", [hashes[stuck]])["result"]
            raised = lambda q: hex(int(q, 16) * 5 // 4 + 1)
            replacement = dict(tx(stuck), maxFeePerGas=raised(old["maxFeePerGas"]),
                               maxPriorityFeePerGas=raised(old["maxPriorityFeePerGas"]))
            rpc(url, "eth_sendTransaction", [replacement])
            deadline = time.monotonic() + 1.0
            while count(url) != base and time.monotonic() < deadline:
                time.sleep(0.02)
            print(f"  after a replacement with fees raised by a quarter: count {count(url)}")
            return 0 if count(url) == base else 2
        print(f"no round of {args.rounds} stalled")
        return 1
    finally:
        anvil.kill()
        anvil.wait()


if __name__ == "__main__":
    sys.exit(main())
