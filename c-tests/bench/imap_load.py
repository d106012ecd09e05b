#!/usr/bin/env python3
"""imap_load: concurrent IMAP logins against a server on loopback, as many
clients as asked, each logging in and out in a loop: connect, greeting,
AUTHENTICATE with an initial response (SASL-IR), LOGOUT, close.

  imap_load.py --port P --mech OAUTHBEARER|XOAUTH2|PLAIN [--tokens FILE [--cycle]]
               [--password PW] [--user alice] [--clients 8] [--seconds 5]
               [--max-logins N] [--server PID] [--idp PID]
  imap_load.py opaque-tokens ISSUER N    N opaque tokens from the test provider

Bounded in count and time: it stops at --seconds, at --max-logins, or when
the tokens run out (each token is used once, so with distinct tokens every
login is a token the server has not seen; --cycle reuses them in turn). Any
login that does not end in the tagged OK counts as a failure and makes the
exit status 1, so no figure comes from failed logins.

--server: the server's master process; the CPU time of it and of every
process below it (live ones, and those it reaped) is measured over the run,
and its imapd children are counted (the largest count seen). --idp: the same
for the identity provider. Prints one line:

  L <mech>|<clients>|<logins>|<failures>|<wall s>|<client CPU s>|<server CPU s>|
    <idp CPU s>|<imapd processes>|<machine busy CPU s, all processes>

and the first failure's server answer, if any, on stderr.
"""

import argparse
import asyncio
import base64
import json
import os
import sys
import time
import urllib.parse
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")


def proc_stats():
    """pid -> (ppid, comm, own CPU ticks, reaped children's CPU ticks)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                text = f.read().decode("ascii", "replace")
        except OSError:
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        # fields[0] is state (stat field 3): utime is field 14, so fields[11].
        out[int(name)] = (int(fields[1]), comm, int(fields[11]) + int(fields[12]),
                          int(fields[13]) + int(fields[14]))
    return out


def tree_cpu(stats, root):
    """CPU seconds of root and everything below it (reaped children included)."""
    if root not in stats:
        return 0.0
    kids = {}
    for pid, (ppid, _, _, _) in stats.items():
        kids.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        _, _, own, reaped = stats[pid]
        total += own + reaped
        todo.extend(kids.get(pid, []))
    return total / TICK


def imapd_count(stats, root):
    return sum(1 for ppid, comm, _, _ in stats.values() if ppid == root and comm == "imapd")


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return (sum(v[:8]) - v[3] - v[4]) / TICK


def opaque_tokens(issuer, n):
    """n client_credentials tokens for the opaque resource (tests/idp)."""
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "mail",
                                   "resource": "urn:sasl-oauth:opaque"}).encode()
    auth = base64.b64encode(b"sasl-oauth-test:test-secret").decode()
    for _ in range(n):
        req = urllib.request.Request(issuer.rstrip("/") + "/token", data=body,
                                     headers={"Authorization": "Basic " + auth})
        with urllib.request.urlopen(req, timeout=10) as r:
            print(json.load(r)["access_token"])


def initial_response(mech, user, secret):
    if mech == "OAUTHBEARER":
        msg = "n,,\x01host=127.0.0.1\x01auth=Bearer %s\x01\x01" % secret
    elif mech == "XOAUTH2":
        msg = "user=%s\x01auth=Bearer %s\x01\x01" % (user, secret)
    elif mech == "PLAIN":
        msg = "\0%s\0%s" % (user, secret)
    else:
        raise SystemExit("imap_load: unknown mechanism %s" % mech)
    return base64.b64encode(msg.encode()).decode()


class Load:
    def __init__(self, args, secrets):
        self.args = args
        self.secrets = secrets
        self.next = 0
        self.logins = 0
        self.failures = 0
        self.first_failure = None
        self.deadline = time.monotonic() + args.seconds

    def take(self):
        """The next credential, or None when the run is over."""
        if time.monotonic() >= self.deadline:
            return None
        if self.args.max_logins and self.logins + self.failures >= self.args.max_logins:
            return None
        if self.args.tokens:
            if self.next >= len(self.secrets):
                if not self.args.cycle:
                    return None
                self.next = 0
            s = self.secrets[self.next]
            self.next += 1
            return s
        return self.secrets[0]

    async def login(self, secret):
        a = self.args
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", a.port), timeout=10)
        try:
            greeting = await asyncio.wait_for(reader.readline(), timeout=10)
            if not greeting.startswith(b"* OK"):
                return "greeting: %r" % greeting[:80]
            ir = initial_response(a.mech, a.user, secret)
            writer.write(b"a AUTHENTICATE %s %s\r\n" % (a.mech.encode(), ir.encode()))
            await writer.drain()
            while True:
                line = await asyncio.wait_for(reader.readline(), timeout=10)
                if not line:
                    return "connection closed during AUTHENTICATE"
                if line.startswith(b"a "):
                    break
                if line.startswith(b"+"):
                    # An error challenge: acknowledge it, the login fails.
                    writer.write(b"AQ==\r\n" if a.mech == "OAUTHBEARER" else b"\r\n")
                    await writer.drain()
            if not line.startswith(b"a OK"):
                return "AUTHENTICATE: %r" % line[:120]
            writer.write(b"b LOGOUT\r\n")
            await writer.drain()
            while True:
                line = await asyncio.wait_for(reader.readline(), timeout=10)
                if not line or line.startswith(b"b "):
                    break
            return None
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def client(self):
        while True:
            secret = self.take()
            if secret is None:
                return
            try:
                why = await self.login(secret)
            except (OSError, asyncio.TimeoutError) as e:
                why = "%s: %s" % (type(e).__name__, e)
            if why is None:
                self.logins += 1
            else:
                self.failures += 1
                if self.first_failure is None:
                    self.first_failure = why

    async def watch(self):
        """The largest number of imapd processes seen while the clients run."""
        self.most_imapd = 0
        while not self.done:
            self.most_imapd = max(self.most_imapd, imapd_count(proc_stats(), self.args.server))
            await asyncio.sleep(0.25)

    async def run(self):
        self.done = False
        watcher = asyncio.ensure_future(self.watch()) if self.args.server else None
        await asyncio.gather(*(self.client() for _ in range(self.args.clients)))
        self.done = True
        if watcher:
            await watcher


def main():
    if sys.argv[1:2] == ["opaque-tokens"] and len(sys.argv) == 4:
        opaque_tokens(sys.argv[2], int(sys.argv[3]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mech", required=True)
    p.add_argument("--user", default="alice")
    p.add_argument("--tokens", help="file of tokens, one a line, each used once")
    p.add_argument("--cycle", action="store_true", help="reuse the tokens in turn")
    p.add_argument("--password")
    p.add_argument("--server", type=int, default=0, help="the server's master pid")
    p.add_argument("--idp", type=int, default=0, help="the identity provider's pid")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--max-logins", type=int, default=0)
    a = p.parse_args()
    if a.tokens:
        with open(a.tokens, encoding="ascii") as f:
            secrets = [line.strip() for line in f if line.strip()]
    elif a.password is not None:
        secrets = [a.password]
    else:
        raise SystemExit("imap_load: --tokens or --password")
    if not secrets:
        raise SystemExit("imap_load: no tokens")
    if not 0 < a.seconds <= 600 or not 0 < a.clients <= 64:
        raise SystemExit("imap_load: --seconds in (0, 600], --clients in (0, 64]")
    load = Load(a, secrets)
    s0, m0 = proc_stats(), machine_busy()
    t0, c0 = time.monotonic(), os.times()
    asyncio.run(load.run())
    t1, c1 = time.monotonic(), os.times()
    s1, m1 = proc_stats(), machine_busy()
    cpu = (c1.user - c0.user) + (c1.system - c0.system)
    server = tree_cpu(s1, a.server) - tree_cpu(s0, a.server) if a.server else 0.0
    idp = tree_cpu(s1, a.idp) - tree_cpu(s0, a.idp) if a.idp else 0.0
    print("L %s|%d|%d|%d|%.6f|%.6f|%.6f|%.6f|%d|%.6f" % (
        a.mech, a.clients, load.logins, load.failures, t1 - t0, cpu, server, idp,
        getattr(load, "most_imapd", 0), m1 - m0))
    if load.failures:
        print("imap_load: %d failed logins; first: %s" % (load.failures, load.first_failure),
              file=sys.stderr)
        return 1
    if load.logins == 0:
        print("imap_load: no login at all", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
