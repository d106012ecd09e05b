"""Many IMAP logins at once (AUTHENTICATE OAUTHBEARER with SASL-IR, no
authzid, so the identity logged in is the token's), for the shared-cache tests.

Usage: cache_logins.py PORTS TOKENS COUNT [--parallel N] [--every-bad K]
  PORTS   comma-separated 127.0.0.1 ports; login i goes to PORTS[i % len]
  TOKENS  file, one token a line; login i uses token i % len (round robin)
  COUNT   logins in all
  --parallel N   connections at once (default 8)
  --bad FILE     tokens that must be refused: every 5th login uses the next one

Prints one line: "ok=N refused=N wrongly_accepted=N wrongly_refused=N
transient=N errors=N", then the first few unexpected answers. Exit status 0
when every good token logged in and every bad one was refused.
"""
import base64
import socket
import sys
from concurrent.futures import ThreadPoolExecutor


def login(port, token):
    """'OK', 'NO', 'NO-transient' or 'ERR <why>'."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        f = s.makefile("rb")
        if not f.readline().startswith(b"* OK"):
            return "ERR no greeting"
        ir = base64.b64encode(b"n,,\x01auth=Bearer " + token + b"\x01\x01")
        s.sendall(b"a AUTHENTICATE OAUTHBEARER " + ir + b"\r\n")
        while True:
            line = f.readline()
            if not line:
                return "ERR connection closed"
            if line.startswith(b"+"):
                s.sendall(b"AQ==\r\n")  # a lone ^A after an error challenge
                continue
            if line.startswith(b"a OK"):
                result = "OK"
                break
            if line.startswith(b"a NO"):
                result = "NO-transient" if b"transient" in line.lower() else "NO"
                break
            if line.startswith(b"a "):
                return "ERR " + line.decode("utf-8", "replace").strip()
        s.sendall(b"b LOGOUT\r\n")
        s.close()
        return result
    except OSError as e:
        return "ERR %s" % e


def main():
    args = sys.argv[1:]
    parallel, bad_file = 8, None
    if "--parallel" in args:
        i = args.index("--parallel")
        parallel = int(args[i + 1])
        del args[i : i + 2]
    if "--bad" in args:
        i = args.index("--bad")
        bad_file = args[i + 1]
        del args[i : i + 2]
    ports = [int(p) for p in args[0].split(",")]
    tokens = [t.strip().encode() for t in open(args[1]) if t.strip()]
    bad = [t.strip().encode() for t in open(bad_file) if t.strip()] if bad_file else []
    count = int(args[2])
    jobs = []
    for i in range(count):
        if bad and i % 5 == 4:
            jobs.append((ports[i % len(ports)], bad[(i // 5) % len(bad)], False))
        else:
            jobs.append((ports[i % len(ports)], tokens[i % len(tokens)], True))
    with ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(lambda j: login(j[0], j[1]), jobs))
    n = dict(ok=0, refused=0, wrongly_accepted=0, wrongly_refused=0, transient=0, errors=0)
    odd = []
    for (port, _, good), r in zip(jobs, results):
        if r == "OK":
            n["ok"] += 1
            if not good:
                n["wrongly_accepted"] += 1
                odd.append("port %d: a bad token logged in" % port)
        elif r.startswith("NO"):
            n["refused"] += 1
            if r == "NO-transient":
                n["transient"] += 1
            if good:
                n["wrongly_refused"] += 1
                odd.append("port %d: a good token was refused (%s)" % (port, r))
        else:
            n["errors"] += 1
            odd.append("port %d: %s" % (port, r))
    print(" ".join("%s=%d" % kv for kv in n.items()))
    for line in odd[:5]:
        print("# " + line)
    clean = n["wrongly_accepted"] == 0 and n["wrongly_refused"] == 0 and n["errors"] == 0
    sys.exit(0 if clean else 1)


main()
