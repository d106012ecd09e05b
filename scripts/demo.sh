#!/usr/bin/env bash
# `make demo`: a first look at sasl-oauth with nothing configured. Makes a
# throw-away key set, starts Debian's Cyrus imapd on 127.0.0.1 with the plugin,
# logs in with curl and a freshly minted token, shows a refused login with an
# expired token and the reason the plugin gives, and stops the server.
# Nothing outside a temporary directory (and KEYS_DIR, if given) is touched.
#
# Usage: scripts/demo.sh PLUGIN_DIR [KEYS_DIR]
#   PLUGIN_DIR  directory holding libsasloauth.so (`make plugin`: build/plugin)
#   KEYS_DIR    where to put the throw-away key set (default: the temporary
#               directory); an existing set there (from `testkit fixtures`) is reused
# Environment: TESTKIT  command that runs the test kit
#              (default: cargo run -q -p testkit --)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../c-tests/e2e/lib.sh
. "$repo/c-tests/e2e/lib.sh"

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 PLUGIN_DIR [KEYS_DIR]" >&2
    exit 2
fi
plugin_dir=$(cd "$1" && pwd)
if [ ! -f "$plugin_dir/libsasloauth.so" ]; then
    echo "$plugin_dir/libsasloauth.so is missing: run 'make plugin' first" >&2
    exit 1
fi

E2E_QUIET=1 # a demo, not a test: no ok/not ok lines
e2e_init
keys=${2:-$E2E_TMP/keys}

if [ -n "${TESTKIT:-}" ]; then
    read -r -a testkit <<< "$TESTKIT"
else
    testkit=(cargo run -q --manifest-path "$repo/Cargo.toml" -p testkit --)
fi

step=0
say() { printf '\n[%d] %s\n' "$((step += 1))" "$*"; }
indent() { sed 's/^/      /'; }

# imap_exchange FILE: the IMAP lines of a `curl -v` log, with long tokens and
# capability lists shortened, and the server's challenges decoded.
imap_exchange() {
    python3 - "$1" <<'EOF'
import base64, re, sys
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    line = line.rstrip("\r\n")
    if not line.startswith(("> ", "< ")):
        continue
    who = "client:" if line[0] == ">" else "server:"
    text = line[2:]
    m = re.match(r"\+ ([A-Za-z0-9+/=]+)$", text)
    text = re.sub(r"\[CAPABILITY [^\]]*\]", "[CAPABILITY ...]", text)
    text = re.sub(r"^\* CAPABILITY .*", "* CAPABILITY ...", text)
    text = re.sub(r"[A-Za-z0-9+/=]{48,}", lambda t: t.group(0)[:24] + "...", text)
    print(who, text)
    if m:
        decoded = base64.b64decode(m.group(1)).decode("utf-8", "replace")
        print("         (the error challenge, decoded: %s)" % decoded)
    a = re.match(r"A[0-9]+ AUTHENTICATE \S+ ([A-Za-z0-9+/=]+)$", line[2:])
    if a:
        decoded = base64.b64decode(a.group(1)).decode("utf-8", "replace").replace("\x01", "^A")
        decoded = re.sub(r"(Bearer [A-Za-z0-9_-]{16})[A-Za-z0-9._-]+", r"\1...", decoded)
        print("         (the client's message, decoded: %s)" % decoded)
    if line[2:] == "AQ==":
        print("         (a lone ^A: the client ends the failed exchange, as RFC 7628 says)")
EOF
}

cat <<EOF
sasl-oauth demo: Cyrus imapd lets a user log in with an OAuth 2.0 bearer token
(a signed JWT), checked by the sasl-oauth plugin.
Everything runs from a private temporary directory ($E2E_TMP),
which is removed at the end; no system configuration is read or changed.
EOF

# ---------------------------------------------------------------- keys
if [ -f "$keys/jwks.json" ] && [ -d "$keys/keys" ] && [ -f "$keys/server.conf" ]; then
    say "Reusing the throw-away key set in $keys."
else
    say "Making a throw-away signing key set in $keys (the identity provider's side)."
    mkdir -p "$keys"
    "${testkit[@]}" fixtures "$keys" > "$E2E_TMP/out/testkit-fixtures.log" 2>&1 || {
        cat "$E2E_TMP/out/testkit-fixtures.log" >&2
        echo "could not make the key set with: ${testkit[*]} fixtures $keys" >&2
        exit 1
    }
fi
echo "      Private keys (for minting tokens): $keys/keys/"
echo "      Public keys, as a JWKS file the server trusts: $keys/jwks.json"
python3 -c '
import json, sys
for k in json.load(open(sys.argv[1]))["keys"]:
    print("        key id %-6s type %-3s %s" % (k.get("kid"), k.get("kty"), k.get("crv", k.get("alg", ""))))
' "$keys/jwks.json"

# ---------------------------------------------------------------- server
say "Writing a private Cyrus imapd configuration. The plugin's part of imapd.conf:"
syslog_start
plugins=$(plugin_copy "$plugin_dir")
cyrus_new demo
cyrus_conf demo "sasl_mech_list: OAUTHBEARER XOAUTH2" "$(oauth_imapd_lines "$keys")"
grep -E '^sasl_(mech_list|oauth)' "$E2E_TMP/demo/imapd.conf" | indent
echo "      (imapd passes every sasl_<key> to the plugin as its option <key>)"

say "Starting Cyrus imapd on 127.0.0.1; libsasl2 finds the plugin through SASL_PATH."
cyrus_start demo "$plugins"
port=$(cyrus_port demo)
echo "      Listening on 127.0.0.1:$port. Its greeting offers:"
grep -oE 'AUTH=[A-Z0-9_-]+' "$E2E_TMP/demo/greeting" | tr '\n' ' ' | indent
echo

# ---------------------------------------------------------------- good token
say "Minting a token for alice, valid for one hour, signed with the RSA key."
token=$("${testkit[@]}" mint --keys "$keys/keys" --sub alice)
python3 - "$token" <<'EOF' | indent
import base64, json, sys, time
h, c = [json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in sys.argv[1].split(".")[:2]]
print("header: " + json.dumps(h))
print("claims: " + json.dumps(c))
print("expires in %d s" % (c["exp"] - time.time()))
EOF

say "Logging in: curl --oauth2-bearer <token> imap://127.0.0.1:$port/ -u alice:"
run curl_imap --oauth2-bearer "$token" "imap://127.0.0.1:$port/" -u alice:
imap_exchange "$RUN_LOG" | indent
if [ "$RUN_STATUS" -eq 0 ]; then
    echo "      => Logged in as alice (curl exit status 0)."
else
    echo "      => Unexpected: curl failed with exit status $RUN_STATUS. Its output:"
    indent < "$RUN_LOG"
    e2e_dump
    exit 1
fi

# ---------------------------------------------------------------- expired token
say "Minting a token that expired an hour ago, and trying again."
expired=$("${testkit[@]}" mint --keys "$keys/keys" --sub alice --exp-in -3600)
run curl_imap --oauth2-bearer "$expired" "imap://127.0.0.1:$port/" -u alice:
imap_exchange "$RUN_LOG" | indent
if [ "$RUN_STATUS" -eq 67 ]; then
    echo "      => Refused (curl exit status 67: login denied)."
else
    echo "      => Unexpected: curl exit status $RUN_STATUS (67 expected). Its output:"
    indent < "$RUN_LOG"
    e2e_dump
    exit 1
fi

echo "      The client only learns \"invalid_token\"; the reason is in the server's log."
if [ -n "$E2E_SYSLOG" ]; then
    echo "      The server's log lines for this attempt (captured from imapd's private /dev/log):"
    for _ in $(seq 30); do
        grep -q 'badlogin:' <(tail -n "+$((RUN_SYSLOG_MARK + 1))" "$E2E_SYSLOG") && break
        sleep 0.1
    done
    # without the date and process prefix, for reading
    tail -n "+$((RUN_SYSLOG_MARK + 1))" "$E2E_SYSLOG" | grep -E 'sasl-oauth|badlogin' |
        sed -E 's/^.*imap\[[0-9]+\]: //' | cut -c1-300 | indent || true
    echo "      On a real server they are in the mail/auth syslog: look for 'sasl-oauth:'."
else
    echo "      (Not shown: capturing imapd's syslog needs root, for a private /dev/log"
    echo "      made with unshare. On a real server, look for 'sasl-oauth:' in syslog.)"
fi

# ---------------------------------------------------------------- stop
say "Stopping the server and removing the temporary directory."
cyrus_stop demo
echo "      Done."
E2E_DONE=1
