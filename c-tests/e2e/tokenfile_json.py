#!/usr/bin/env python3
"""Token files for the tests (c-tests/e2e/tokenfile.sh, postfix_relay.sh).

  tokenfile_json.py make OUT [--response FILE] KEY=VALUE...
      Writes a token file (JSON). --response: a token endpoint's JSON answer
      (access_token, refresh_token taken from it; "-" reads stdin). KEY=VALUE
      sets a field (expires_at and obtained_at as integers; `now-60`/`now+400`
      are relative to the clock); KEY= removes it.
  tokenfile_json.py set FILE KEY=VALUE...     the same edits on an existing file
  tokenfile_json.py get FILE KEY              prints one field ("" when absent)
  tokenfile_json.py valid FILE                exit 0 when FILE is a JSON object
                                              with a non-empty access_token
  tokenfile_json.py compare OLD NEW           prints one line per check about a
                                              refresh (see below), exit 1 if any fails
"""
import json
import sys
import time

INTS = {"expires_at", "obtained_at"}


def value(key, v):
    if key in INTS:
        if v.startswith("now"):
            return int(time.time()) + int(v[3:] or 0)
        return int(v)
    return v


def edit(d, assignments):
    for a in assignments:
        key, _, v = a.partition("=")
        if v == "":
            d.pop(key, None)
        else:
            d[key] = value(key, v)
    return d


def write(path, d):
    # In place: the file keeps its inode, mode and owner (the tests set them).
    with open(path, "a+") as f:
        f.seek(0)
        f.truncate()
        json.dump(d, f, indent=2)
        f.write("\n")


def main(argv):
    cmd = argv[1]
    if cmd == "make":
        out, rest = argv[2], argv[3:]
        d = {}
        if rest and rest[0] == "--response":
            src = sys.stdin if rest[1] == "-" else open(rest[1])
            r = json.load(src)
            d["access_token"] = r["access_token"]
            if r.get("refresh_token"):
                d["refresh_token"] = r["refresh_token"]
            rest = rest[2:]
        write(out, edit(d, rest))
    elif cmd == "set":
        with open(argv[2]) as f:
            d = json.load(f)
        write(argv[2], edit(d, argv[3:]))
    elif cmd == "get":
        with open(argv[2]) as f:
            v = json.load(f).get(argv[3], "")
        print(v)
    elif cmd == "valid":
        try:
            with open(argv[2]) as f:
                d = json.load(f)
        except Exception as e:  # noqa: BLE001 - any failure means "not valid"
            print("not valid JSON: %s" % e)
            return 1
        if not isinstance(d, dict) or not d.get("access_token"):
            print("no access_token")
            return 1
        print("valid token file")
    elif cmd == "compare":
        return compare(argv[2], argv[3], argv[4:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


def compare(old_path, new_path, flags):
    """A refresh happened: new access token, later expiry, obtained_at now,
    other fields kept; with `rotated`, a new refresh token; with `same-rt`,
    the old refresh token."""
    with open(old_path) as f:
        old = json.load(f)
    with open(new_path) as f:
        new = json.load(f)
    now = int(time.time())
    checks = [
        ("new access_token", bool(new.get("access_token")) and new["access_token"] != old.get("access_token")),
        ("expires_at later than now+60 (%s)" % new.get("expires_at"), int(new.get("expires_at", 0)) > now + 60),
        ("obtained_at is now (%s)" % new.get("obtained_at"), abs(int(new.get("obtained_at", 0)) - now) < 120),
    ]
    if "rotated" in flags:
        checks.append(("rotated refresh_token saved",
                       bool(new.get("refresh_token")) and new.get("refresh_token") != old.get("refresh_token")))
    if "same-rt" in flags:
        checks.append(("refresh_token kept", new.get("refresh_token") == old.get("refresh_token")))
    for k, v in old.items():
        if k in ("access_token", "expires_at", "obtained_at", "refresh_token", "scope"):
            continue
        checks.append(("field %s kept" % k, new.get(k) == v))
    bad = 0
    for name, good in checks:
        print(("ok: " if good else "FAILED: ") + name)
        bad += not good
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
