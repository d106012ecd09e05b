"""Writes the Debian copyright file of the packages (scripts/deb.sh): the
project's licence, then every crate linked into the plugin or the tool, with
its version, licence, authors and source, from `cargo metadata` (the crates
Cargo.lock resolves for this platform, reached through normal dependencies;
build scripts' and proc-macros' own dependencies run only at build time and
are left out), then the text of every licence named (from the crates' own
licence files, or Debian's common-licenses).

Usage: deb_copyright.py METADATA_JSON ROOT_PACKAGE > copyright
"""
import json
import os
import re
import sys

COMMON = "/usr/share/common-licenses"


def linked(meta, root_name):
    """The packages linked into ROOT: normal dependencies, not through a proc-macro."""
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = next(p["id"] for p in meta["packages"] if p["name"] == root_name and p["source"] is None)

    def proc_macro(p):
        return all("proc-macro" in t["kind"] for t in p["targets"])

    seen, stack = set(), [root]
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        for d in nodes[i]["deps"]:
            if not any(k["kind"] is None for k in d["dep_kinds"]):
                continue
            if proc_macro(packages[d["pkg"]]):
                continue
            stack.append(d["pkg"])
    seen.discard(root)
    return packages[root], sorted((packages[i] for i in seen), key=lambda p: (p["name"], p["version"]))


def ids(expression):
    """The licence identifiers of an SPDX expression, WITH exceptions kept."""
    expr = re.sub(r"[()]", " ", expression or "")
    expr = re.sub(r"\s+WITH\s+", "_WITH_", expr)
    return [t.replace("_WITH_", " WITH ") for t in expr.split() if t not in ("AND", "OR")]


def licence_file(package, lid):
    """A licence file of PACKAGE holding licence LID, if it has one by name."""
    d = os.path.dirname(package["manifest_path"])
    try:
        names = sorted(os.listdir(d))
    except OSError:
        return None
    key = re.sub(r"[^a-z0-9]", "", lid.lower())
    for n in names:
        low = n.lower()
        if not re.match(r"^(licen[cs]e|copying|unlicense)", low):
            continue
        rest = re.sub(r"[^a-z0-9]", "", re.sub(r"\.(txt|md)$", "", low))
        if rest.endswith(key):
            return os.path.join(d, n)
    if lid == "Unlicense" and "UNLICENSE" in names:
        return os.path.join(d, "UNLICENSE")
    if len(ids(package["license"])) == 1:
        for n in ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "COPYING"):
            if n in names:
                return os.path.join(d, n)
    return None


def main():
    meta = json.load(open(sys.argv[1]))
    root, crates = linked(meta, sys.argv[2])
    out = []
    w = out.append
    w("sasl-oauth: OAuth SASL mechanisms for Cyrus SASL (libsasl2-modules-oauth, sasl-oauth-tools)")
    w("")
    w("Copyright: the sasl-oauth developers")
    w("License: %s" % root["license"])
    w("")
    w("The plugin and the tool are statically linked with these Rust crates")
    w("(version, licence, authors, source), as Cargo.lock resolves them:")
    w("")
    for p in crates:
        w("%s %s" % (p["name"], p["version"]))
        w("  License: %s" % p["license"])
        if p.get("authors"):
            w("  Copyright: %s" % ", ".join(p["authors"]))
        if p.get("repository"):
            w("  Source: %s" % p["repository"])
    w("")
    w("Licence texts")
    w("")
    wanted = []
    for p in [root] + crates:
        for lid in ids(p["license"]):
            if lid not in wanted:
                wanted.append(lid)
    for lid in wanted:
        w("License: %s" % lid)
        base, _, exception = lid.partition(" WITH ")
        common = os.path.join(COMMON, base)
        if os.path.isfile(common):
            w("  On Debian systems, the full text of the %s licence is in %s." % (base, common))
            if not exception:
                w("")
                continue
        users = [p for p in crates if lid in ids(p["license"])]
        text = None
        for p in users:
            f = licence_file(p, lid)
            if f:
                text = open(f, encoding="utf-8", errors="replace").read().strip("\n")
                if exception and os.path.isfile(common):
                    # Only the exception: the licence itself is common.
                    at = text.find("--- LLVM Exceptions") if "LLVM" in exception else -1
                    text = text[at:] if at >= 0 else None
                    if text is None:
                        continue
                w("  (the %stext as %s %s ships it)" % ("exception's " if exception else "", p["name"], p["version"]))
                break
        if text is None:
            w("  The text: https://spdx.org/licenses/%s.html" % lid.replace(" WITH ", "-with-"))
        else:
            for line in text.splitlines():
                w(("  " + line).rstrip() if line.strip() else "  .")
        w("")
    sys.stdout.write("\n".join(out).rstrip("\n") + "\n")


main()
