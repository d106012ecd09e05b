#!/usr/bin/env bash
# After the whole test suite: no secret used by the tests appears in anything
# the plugin logged or any errdetail the tests read (docs/protocol.md §6.2).
#
#   secrets_scan.sh LOGDIR FIXTURES [FILE_OR_DIR...]
#   secrets_scan.sh --self-test FIXTURES
#
# Where the logs are (the convention):
#   LOGDIR is $SASL_OAUTH_TEST_LOGDIR of the suite run (make test sets it).
#   - LOGDIR/c/PROG.PID.log: written by the C harness (c-tests/common.c) when
#     the variable is set: every line the plugin logged through libsasl2's log
#     callback ("log: ...") and every errdetail the tests read ("errdetail: ...").
#   - LOGDIR/**/*.log, LOGDIR/**/*maillog*: the e2e scripts' captured
#     syslog (c-tests/e2e/syslog_catcher.py) and Postfix maillogs, when the
#     e2e run keeps them there (see the report: E2E_KEEP / a copy at cleanup).
#   - any further FILE_OR_DIR given (directories: their *.log, *maillog* files).
#   e2e command transcripts (*/out/run-*.log) are not scanned: they hold the
#   command lines, tokens included, by design.
# What is looked for:
#   - every token of FIXTURES/tokens/*.jwt, whole and its signature part;
#   - the suite's client and consumer secrets (the list below);
#   - every line of LOGDIR/**/*.secrets (tests that mint tokens list them there,
#     see t_logdir_secret in common.c), JWTs also by their signature part;
#   - access_token, refresh_token, client_secret, id_token, oauth_token_secret
#     and oauth_consumer_secret values of every *.json file under LOGDIR (token
#     files the tests wrote, when kept there).
#   Needles shorter than 8 characters are skipped (they would match words).
# Also: no raw control byte (other than TAB) in a C-harness log line, nor in a
# captured syslog line of the plugin ("sasl-oauth:").
# A hit prints the file, the line number and which secret (never the secret
# itself in full). Output: ok/not ok lines, then "N passed, N failed".
set -u

if [ "${1:-}" = "--self-test" ]; then
    [ $# -eq 2 ] || { echo "usage: $0 --self-test FIXTURES" >&2; exit 2; }
    fixtures=$2
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/secrets-scan-selftest.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    passed=0 failed=0
    tok="$fixtures/tokens/rs256.jwt"
    mkdir -p "$tmp/clean/c" "$tmp/dirty/c" "$tmp/sig/c" "$tmp/minted/c" "$tmp/ctl/c"
    echo "log: sasl-oauth: login refused: token expired" > "$tmp/clean/c/x.1.log"
    printf 'errdetail: sasl-oauth: refused %s\n' "$(cat "$tok")" > "$tmp/dirty/c/x.1.log"
    printf 'log: sig %s\n' "$(cut -d. -f3 "$tok")" > "$tmp/sig/c/x.1.log"
    echo "minted-token-abcdefgh.ijklmnop.qrstuvwxyz0123456789" > "$tmp/minted/c/x.1.secrets"
    echo "log: refused qrstuvwxyz0123456789 here" > "$tmp/minted/c/x.1.log"
    printf 'log: sasl-oauth: kid \033[2J\n' > "$tmp/ctl/c/x.1.log"
    t() { # NAME WANT(0|1) DIR
        if bash "$0" "$tmp/$3" "$fixtures" > "$tmp/out" 2>&1; then got=0; else got=1; fi
        if [ "$got" = "$2" ]; then passed=$((passed + 1)); echo "ok - self-test: $1";
        else failed=$((failed + 1)); echo "not ok - self-test: $1"; sed 's/^/#   /' "$tmp/out"; fi
    }
    t "clean logs pass" 0 clean
    t "a fixture token in an errdetail fails" 1 dirty
    t "a fixture token's signature alone fails" 1 sig
    t "a minted token (from a .secrets file) by its signature fails" 1 minted
    t "a raw control byte in a harness log line fails" 1 ctl
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
fi

if [ $# -lt 2 ]; then
    echo "usage: $0 LOGDIR FIXTURES [FILE_OR_DIR...] | $0 --self-test FIXTURES" >&2
    exit 2
fi

exec python3 - "$@" <<'PY'
import json, os, re, sys

logdir, fixtures, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
passed = failed = 0

def ok(name):
    global passed
    passed += 1
    print("ok - " + name)

def not_ok(name, why=""):
    global failed
    failed += 1
    print("not ok - " + name + (": " + why if why else ""))

# ---------------------------------------------------------------- needles
# The suite's own client and consumer secrets (tests/idp/server.mjs, the e2e
# scripts, test_oauth_mechs.c, stress.c, test_forged_tokens.c), and tokens that
# are not JWT fixtures (the RFC 7628 / slides example, the panic hook's).
KNOWN = [
    "test-secret", "post-secret", "rs-secret", "rs-post-secret",
    "cs/te st&1", "ts+alice=/",
    "stress-consumer-secret", "stress-token-secret",
    "hostile2-consumer-secret", "hostile2-token-secret",
    "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
    "sasl-oauth-test-panic",
]
needles = {}  # needle -> where it came from

def add(needle, source):
    needle = needle.strip()
    if len(needle) < 8:
        return
    needles.setdefault(needle, source)
    parts = needle.split(".")
    if len(parts) == 3 and len(parts[2]) >= 16:  # a JWT: its signature alone too
        needles.setdefault(parts[2], source + " (signature part)")

for n in KNOWN:
    add(n, "known test secret")
tokdir = os.path.join(fixtures, "tokens")
if os.path.isdir(tokdir):
    for f in sorted(os.listdir(tokdir)):
        if f.endswith(".jwt"):
            add(open(os.path.join(tokdir, f), errors="replace").read(), "fixture token " + f)
SECRET_KEYS = {"access_token", "refresh_token", "client_secret", "id_token",
               "oauth_token_secret", "oauth_consumer_secret"}

def walk_json(v, src):
    if isinstance(v, dict):
        for k, x in v.items():
            if k in SECRET_KEYS and isinstance(x, str):
                add(x, "%s in %s" % (k, src))
            else:
                walk_json(x, src)
    elif isinstance(v, list):
        for x in v:
            walk_json(x, src)

haystacks = []

def is_log(path):
    base = os.path.basename(path)
    if re.search(r"/out/run-\d+\.log$", path):  # e2e command transcripts
        return False
    return base.endswith(".log") or "maillog" in base

def scan_dir(d):
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            if not os.path.isfile(p) or os.path.islink(p):
                continue
            if f.endswith(".secrets"):
                for line in open(p, errors="replace"):
                    add(line, "minted by a test (%s)" % os.path.relpath(p, d))
            elif f.endswith(".json") and os.path.getsize(p) < 1 << 20:
                try:
                    walk_json(json.load(open(p, errors="replace")), os.path.relpath(p, d))
                except (ValueError, OSError):
                    pass
            elif is_log(p):
                haystacks.append(p)

if not os.path.isdir(logdir):
    not_ok("the log directory exists", logdir)
else:
    scan_dir(logdir)
for e in extra:
    if os.path.isdir(e):
        scan_dir(e)
    elif os.path.isfile(e):
        haystacks.append(e)
    else:
        not_ok("extra log " + e + " exists")

def mask(s):
    return "%s… (%d chars)" % (s[:6], len(s))

# ---------------------------------------------------------------- scan
if not haystacks:
    not_ok("there are logs to scan", "no *.log / maillog under %s (was SASL_OAUTH_TEST_LOGDIR set for the suite?)" % logdir)
else:
    ok("%d log file(s) to scan, %d secret(s) to look for" % (len(haystacks), len(needles)))

CTRL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
hits, ctl_hits, lines = [], [], 0
for p in sorted(haystacks):
    data = open(p, "rb").read()
    text = data.decode("utf-8", "replace")
    for n, src in needles.items():
        i = text.find(n)
        if i >= 0:
            hits.append("%s:%d holds %s (%s)" % (p, text.count("\n", 0, i) + 1, mask(n), src))
    harness = os.path.basename(os.path.dirname(p)) == "c" and p.endswith(".log")
    for k, line in enumerate(data.split(b"\n"), 1):
        lines += 1
        if (harness or b"sasl-oauth:" in line) and CTRL.search(line.rstrip(b"\r") if not harness else line):
            ctl_hits.append("%s:%d: %r" % (p, k, line[:120]))

if haystacks:
    if hits:
        not_ok("no secret in any log line or errdetail", "%d hit(s)" % len(hits))
        for h in hits[:30]:
            print("#   " + h)
    else:
        ok("no secret in %d lines of %d log file(s)" % (lines, len(haystacks)))
    if ctl_hits:
        not_ok("no raw control byte in the plugin's log lines and errdetails", "%d line(s)" % len(ctl_hits))
        for h in ctl_hits[:20]:
            print("#   " + h)
    else:
        ok("no raw control byte in the plugin's log lines and errdetails")
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
