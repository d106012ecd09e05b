#!/usr/bin/env python3
"""Splits a callgrind profile of sasl_bench's profile_loop() by who executes
the instructions: libsasl2, our plugin (and within it ring and aws-lc: the
functions of aws-lc-rs and of the AWS-LC C library it builds), the other SASL
plugins, the benchmark driver. C library and loader code (malloc, memcpy,
getaddrinfo ...) is charged to the code that called it.

    cgsplit.py CALLGRIND_OUT HANDSHAKES [--top N]

Prints instructions per handshake for each part, the libsasl2 entry points as
the driver calls them, and the costliest functions of our plugin (self cost,
its C library calls included). Needs a profile made with --dump-instr=no (the
default) and --toggle-collect=profile_loop.
"""
import os
import re
import sys
from collections import defaultdict

SYSTEM = re.compile(r"^(libc\.so|ld-linux|libnss_|libresolv|libpthread|libm\.so|libgcc_s|vgpreload|\?\?\?$|\[vdso\])")
OTHER_PLUGINS = ("libanonymous.so", "libplain.so", "libsasldb.so", "libdb-")
OUTSIDE = ("(below main)", "main", "__libc_start_main@@GLIBC_2.34", "__libc_start_call_main")


FILES = {}  # (ob, fn) -> source file of the function (from fl=)
AWS_LC_LINKED = False  # set when the profile has aws-lc functions


def category(obj, fn):
    base = os.path.basename(obj)
    if SYSTEM.match(base):
        return "system"
    if base.startswith("libsasl2.so"):
        return "libsasl2"
    if base.startswith("libsasloauth.so"):
        f = FILES.get((obj, fn), "")
        # "ring::" as a path's first segment: not the end of "alloc::string::".
        if fn.startswith("ring_core_") or re.search(r"(^|[^\w])ring::", fn) or re.search(r"/ring-[0-9.]+/", f):
            return "ring"
        if fn.startswith("aws_lc_") or "aws_lc_rs::" in fn or re.search(r"/aws-lc-(sys|rs)-[0-9.]+/", f):
            return "aws-lc"
        # AWS-LC's assembly (s2n-bignum, the curve code) carries neither the
        # symbol prefix nor a source file: C-named code that is not ours.
        if AWS_LC_LINKED and "::" not in fn and not fn.startswith(("sasl_", "__rust", "_ZN", "rust_")):
            return "aws-lc"
        return "ours"
    if base.startswith(OTHER_PLUGINS):
        return "other plugins"
    if base == "sasl_bench":
        return "driver"
    return "other:" + base


def compressed_name(names, kind, value):
    """A callgrind name: "(N) text" defines N, "(N)" refers back to it."""
    m = re.match(r"\((\d+)\)(?: (.*))?$", value)
    if not m:
        return value
    if m.group(2) is not None:
        names[kind][m.group(1)] = m.group(2)
    return names[kind].get(m.group(1), value)


def parse(path):
    names = {"ob": {}, "fn": {}, "fl": {}}
    self_cost = defaultdict(int)  # (ob, fn) -> Ir
    arcs = defaultdict(int)  # ((ob, fn), (cob, cfn)) -> inclusive Ir
    counts = defaultdict(int)  # the same arcs -> number of calls
    ob = fn = fl = None
    cob = cfn = None
    pending_call = False
    total = None

    def name(kind, value):
        return compressed_name(names, kind, value)

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if pending_call:
                    arcs[((ob, fn), (cob or ob, cfn))] += cost
                    counts[((ob, fn), (cob or ob, cfn))] += pending_call
                    pending_call = False
                    cob = None
                else:
                    self_cost[(ob, fn)] += cost
                continue
            key, _, value = line.partition("=")
            if key == "ob":
                ob = name("ob", value)
            elif key == "fn":
                fn = name("fn", value)
                FILES.setdefault((ob, fn), fl or "")
            elif key == "fl":
                fl = name("fl", value)
            elif key == "cob":
                cob = name("ob", value)
            elif key == "cfn":
                cfn = name("fn", value)
            elif key in ("fi", "fe", "cfi", "cfl"):
                name("fl", value)
            elif key == "calls":
                pending_call = int(value.split()[0]) or 1
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
    return self_cost, collapse_plt(arcs), total, collapse_plt(counts)


def collapse_plt(arcs):
    """Calls through a PLT stub (object "???") become direct calls to the
    stub's targets, so that the stub does not look like system code."""
    is_plt = lambda k: os.path.basename(k[0] or "") == "???"
    targets = defaultdict(list)
    for (src, dst), v in arcs.items():
        if is_plt(src):
            targets[src].append((dst, v))
    out = defaultdict(int)
    for (src, dst), v in arcs.items():
        # Outside the toggled region: their inclusive cost is the whole profile.
        if src[1] in OUTSIDE or dst[1] in OUTSIDE:
            continue
        if is_plt(src):
            continue
        if is_plt(dst):
            ts = targets.get(dst, [])
            w = sum(x for _, x in ts)
            for t, x in ts:
                out[(src, t)] += v * x / w if w else 0
        else:
            out[(src, dst)] += v
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, n = sys.argv[1], int(sys.argv[2])
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 12
    self_cost, arcs, total, counts = parse(path)
    global AWS_LC_LINKED
    AWS_LC_LINKED = any((k[1] or "").startswith("aws_lc_") for k in self_cost)
    cat = lambda k: category(k[0] or "", k[1] or "")

    # Self cost of non-system code, plus the system code each part calls.
    parts = defaultdict(int)
    fn_cost = defaultdict(int)  # our functions: self + system calls
    for k, v in self_cost.items():
        c = cat(k)
        if c != "system" and os.path.basename(k[0] or "") != "???":
            parts[c] += v
            fn_cost[k] += v
    callback_back = 0
    for (src, dst), v in arcs.items():
        cs, cd = cat(src), cat(dst)
        if cs != "system" and cd == "system":
            parts[cs] += v
            fn_cost[src] += v
        elif cs == "system" and cd != "system" and dst[1] not in ("main", "(below main)"):
            callback_back += v  # already counted as the callee's own cost
    # A callback out of C library code is counted twice above (in the caller
    # of the library function and as its own cost): shown as a correction.
    if callback_back:
        parts["(callbacks from C library code, counted twice)"] = -callback_back

    # libsasl2's calls into getaddrinfo & co. (sasl_client_new's client FQDN).
    resolver = sum(
        v for (src, dst), v in arcs.items()
        if cat(src) == "libsasl2" and dst[1] and re.match(r"(getaddrinfo|gethostname|__GI_getaddrinfo)", dst[1])
    )
    entry = defaultdict(int)
    for (src, dst), v in arcs.items():
        if cat(src) == "driver" and cat(dst) == "libsasl2":
            entry[dst[1]] += v

    alloc = sum(v for k, v in fn_cost.items() if cat(k) == "ours" and re.match(r"__rustc::__r(dl|g)_|__rust_(alloc|dealloc|realloc)", k[1] or ""))
    measured = sum(parts.values())
    print(f"instructions per handshake (callgrind Ir, profile_loop, {n} handshakes): {total / n:,.0f}")
    print(f"  (attributed {measured / n:,.0f}; C library code is charged to its caller)")
    order = ["libsasl2", "ours", "ring", "aws-lc", "other plugins", "driver"]
    for c in order + sorted(k for k in parts if k not in order):
        if c in parts:
            extra = ""
            if c == "libsasl2" and resolver:
                extra = f"   (of which getaddrinfo/gethostname for the client's FQDN in sasl_client_new: {resolver / n:,.0f})"
            if c == "ours" and alloc:
                extra = f"   (of which malloc/realloc/free through Rust's allocator: {alloc / n:,.0f})"
            print(f"  {c:<46} {parts[c] / n:>10,.0f}  {100.0 * parts[c] / total:5.1f}%{extra}")
    mallocs = defaultdict(int)
    for (src, dst), c in counts.items():
        if cat(dst) == "system" and dst[1] in ("malloc", "calloc", "realloc", "__libc_malloc", "__libc_calloc", "__libc_realloc") and cat(src) != "system":
            mallocs[cat(src)] += c
    if mallocs:
        print("malloc/calloc/realloc calls per handshake: " + ", ".join(
            f"{c} {v / n:.1f}" for c, v in sorted(mallocs.items(), key=lambda kv: -kv[1])))
    print("libsasl2 entry points called by the driver (inclusive, per handshake):")
    for k, v in sorted(entry.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<46} {v / n:>10,.0f}")
    ours_cat = ("ours", "ring", "aws-lc")
    into = defaultdict(int)
    back = defaultdict(int)
    for (src, dst), v in arcs.items():
        if cat(src) == "libsasl2" and cat(dst) in ours_cat:
            into[dst[1]] += v
        elif cat(src) in ours_cat and cat(dst) not in ours_cat and cat(dst) != "system":
            back[(src[1], dst[1])] += v
    if into:
        print("libsasloauth.so entry points called by libsasl2 (inclusive, per handshake):")
        for k, v in sorted(into.items(), key=lambda kv: -kv[1]):
            print(f"  {k:<46} {v / n:>10,.0f}")
        print("  of which calls back into libsasl2 or the application (counted under those):")
        for (a, b), v in sorted(back.items(), key=lambda kv: -kv[1]):
            print(f"  {a[:60]:<60} -> {b[:40]:<40} {v / n:>8,.0f}")
    print(f"costliest functions of libsasloauth.so (self + C library calls, per handshake, top {top}):")
    ours = [(k, v) for k, v in fn_cost.items() if cat(k) in ours_cat]
    for k, v in sorted(ours, key=lambda kv: -kv[1])[:top]:
        print(f"  {v / n:>8,.0f}  {k[1][:150]}")


if __name__ == "__main__":
    main()
