#!/usr/bin/env python3
"""The longest Rust functions outside tests, for `make check-fn-length`.

    longest_fns.py [--top N] [--max LINES] [PATH ...]   (default PATH: src)

Lists the N longest functions (lines from the `fn` line to its closing
brace) of the .rs files under each PATH, leaving out `#[cfg(test)]` modules
and `#[test]` functions. With --max, exits 1 when any function is that long
or longer. Comments, strings and character literals are skipped when braces
are matched, so a `{` in a string does not count.
"""
import argparse
import os
import re
import sys

FN = re.compile(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)")
CHAR = re.compile(r"'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^\\'\n])'")


def blank_out(text):
    """The text with comments, strings and char literals replaced by spaces
    (newlines kept), so that braces and `fn` are found in code only."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif re.match(r'(?:b|c)?r(#*)"', text[i:i + 260]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'(?:b|c)?r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + m.end())
            j = n if end < 0 else end + 1 + len(m.group(1))
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            m = CHAR.match(text, i)
            if m:
                out.append(" " * (m.end() - i))
                i = m.end()
            else:  # a lifetime or a label
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_brace(code, open_at):
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


def test_ranges(code):
    """Character ranges of #[cfg(test)] items and #[test] functions."""
    ranges = []
    for m in re.finditer(r"#\[\s*(?:cfg\s*\(\s*test\s*\)|test)\s*\]", code):
        brace = code.find("{", m.end())
        semi = code.find(";", m.end())
        if brace < 0 or (0 <= semi < brace):
            continue
        ranges.append((m.start(), matching_brace(code, brace)))
    return ranges


def functions(path):
    text = open(path, encoding="utf-8").read()
    code = blank_out(text)
    skip = test_ranges(code)
    line_of = lambda pos: code.count("\n", 0, pos) + 1
    for m in FN.finditer(code):
        if any(a <= m.start() <= b for a, b in skip):
            continue
        # The body starts at the first `{` after the signature; a `;` first
        # (a trait method without a body, an extern declaration) has none.
        depth, j = 0, m.end()
        while j < len(code):
            ch = code[j]
            if ch in "(<[":
                depth += 1
            elif ch in ")>]":
                depth -= 1
            elif ch == ";" and depth <= 0:
                j = -1
                break
            elif ch == "{" and depth <= 0:
                break
            j += 1
        if j < 0 or j >= len(code):
            continue
        end = matching_brace(code, j)
        yield line_of(m.start()), line_of(end), m.group(1)


def rust_files(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        for root, dirs, files in os.walk(p):
            dirs[:] = sorted(d for d in dirs if d not in ("target", "tests"))
            for f in sorted(files):
                if f.endswith(".rs"):
                    yield os.path.join(root, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="*", default=["src"])
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--max", type=int, default=None)
    args = ap.parse_args()
    found = []
    for path in rust_files(args.paths):
        for start, end, name in functions(path):
            found.append((end - start + 1, f"{path}:{start}", name))
    found.sort(key=lambda f: (-f[0], f[1]))
    for lines, where, name in found[: args.top]:
        print(f"{lines:5d}  {where}  {name}")
    if args.max is not None:
        over = [f for f in found if f[0] >= args.max]
        if over:
            print(f"not ok - {len(over)} function(s) of {args.max} lines or more: split them", file=sys.stderr)
            return 1
        print(f"ok - every function outside tests is under {args.max} lines ({len(found)} functions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
