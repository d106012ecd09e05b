#!/usr/bin/env python3
"""Per-handshake (or per-verification) cache and branch simulation figures of
a callgrind profile made with --cache-sim=yes --branch-sim=yes, split like
cgsplit.py's instructions: libsasl2, ours, aws-lc, ring, the other plugins,
the driver; C library code (malloc, memcpy ...) is charged to its caller.

    cgcache.py CALLGRIND_OUT N [--label TEXT] [--self]

Prints one row per part: Ir, I1 misses, LL instruction misses, data reads and
writes, D1 misses, LL data misses, conditional branches and their
mispredictions, indirect branches and theirs (all divided by N). The cache
figures are valgrind's model (two levels, LRU, no prefetcher), not the CPU's.
With --self, C library code is a part of its own (malloc/free and the rest),
to set beside a sampling profile (perf), which sees self time only.
"""
import os
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cgsplit  # noqa: E402  (category(), OUTSIDE)

SHOW = ["Ir", "I1mr", "ILmr", "Dr", "Dw", "D1mr", "D1mw", "DLmr", "DLmw", "Bc", "Bcm", "Bi", "Bim"]


def add(a, b, scale=1.0):
    for i, x in enumerate(b):
        a[i] += x * scale


def parse(path):
    names = {"ob": {}, "fn": {}, "fl": {}}
    events = []
    self_cost = {}
    arcs = {}
    ob = fn = fl = cob = cfn = None
    pending_call = False

    def name(kind, value):
        return cgsplit.compressed_name(names, kind, value)

    def vec(parts):
        v = [0] * len(events)
        for i, x in enumerate(parts[1:1 + len(events)]):
            v[i] = int(x)
        return v

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            if line.startswith("events:"):
                events = line.split()[1:]
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                v = vec(line.split())
                if pending_call:
                    key = ((ob, fn), (cob or ob, cfn))
                    add(arcs.setdefault(key, [0] * len(events)), v)
                    pending_call = False
                    cob = None
                else:
                    add(self_cost.setdefault((ob, fn), [0] * len(events)), v)
                continue
            key, _, value = line.partition("=")
            if key == "ob":
                ob = name("ob", value)
            elif key == "fn":
                fn = name("fn", value)
                cgsplit.FILES.setdefault((ob, fn), fl or "")
            elif key == "fl":
                fl = name("fl", value)
            elif key == "cob":
                cob = name("ob", value)
            elif key == "cfn":
                cfn = name("fn", value)
            elif key in ("fi", "fe", "cfi", "cfl"):
                name("fl", value)
            elif key == "calls":
                pending_call = True
    return events, self_cost, arcs


def collapse_plt(arcs, n_ev):
    """As cgsplit.collapse_plt, on cost vectors (Ir decides the shares)."""
    is_plt = lambda k: os.path.basename(k[0] or "") == "???"
    targets = defaultdict(list)
    for (src, dst), v in arcs.items():
        if is_plt(src):
            targets[src].append((dst, v))
    out = {}
    for (src, dst), v in arcs.items():
        if src[1] in cgsplit.OUTSIDE or dst[1] in cgsplit.OUTSIDE or is_plt(src):
            continue
        if is_plt(dst):
            ts = targets.get(dst, [])
            w = sum(x[0] for _, x in ts)
            for t, x in ts:
                add(out.setdefault((src, t), [0] * n_ev), v, x[0] / w if w else 0)
        else:
            add(out.setdefault((src, dst), [0] * n_ev), v)
    return out


def category(obj, fn):
    """cgsplit.category, and for the verify bench (a Rust binary holding its
    crates): aws-lc's functions as in the plugin, the rest "bench"."""
    if not re.search(r"/verify-[0-9a-f]+$", obj):
        return cgsplit.category(obj, fn)
    f = cgsplit.FILES.get((obj, fn), "")
    if fn.startswith("aws_lc_") or "aws_lc_rs::" in fn or re.search(r"/aws-lc-(sys|rs)-", f):
        return "aws-lc"
    if "::" not in fn and not fn.startswith(("_ZN", "__rust", "rust_", "main", "std")):
        return "aws-lc"  # its assembly: C names, no source file
    return "bench"


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, n = sys.argv[1], int(sys.argv[2])
    label = sys.argv[sys.argv.index("--label") + 1] if "--label" in sys.argv else path
    events, self_cost, arcs = parse(path)
    n_ev = len(events)
    arcs = collapse_plt(arcs, n_ev)
    cgsplit.AWS_LC_LINKED = any((k[1] or "").startswith("aws_lc_") for k in self_cost)
    cat = lambda k: category(k[0] or "", k[1] or "")
    parts = defaultdict(lambda: [0] * n_ev)
    own = "--self" in sys.argv
    for k, v in self_cost.items():
        c = cat(k)
        if c == "system" and own:
            alloc = re.search(r"malloc|free|_int_|tcache|realloc|calloc|consolidate|systrim", k[1] or "")
            add(parts["libc: malloc/free" if alloc else "libc: other"], v)
        elif c != "system" and os.path.basename(k[0] or "") != "???":
            add(parts[c], v)
    for (src, dst), v in ([] if own else arcs.items()):
        cs, cd = cat(src), cat(dst)
        if cs != "system" and cd == "system":
            add(parts[cs], v)
        elif cs == "system" and cd != "system" and dst[1] not in ("main", "(below main)"):
            add(parts["(C library callbacks, twice)"], v, -1)
    idx = {e: i for i, e in enumerate(events)}
    cols = [e for e in SHOW if e in idx]
    total = [sum(p[i] for p in parts.values()) for i in range(n_ev)]
    print(f"== {label} (per unit, {n} units)")
    print(f"{'part':<28}" + "".join(f"{e:>10}" for e in cols))
    order = ["libsasl2", "ours", "aws-lc", "ring", "bench", "other plugins", "driver"]
    for c in order + sorted(k for k in parts if k not in order) + ["total"]:
        v = total if c == "total" else parts.get(c)
        if v is None or not any(v):
            continue
        print(f"{c:<28}" + "".join(f"{v[idx[e]] / n:>10,.0f}" for e in cols))


if __name__ == "__main__":
    main()
