#!/usr/bin/env bash
# The client side in a setuid program (through the real libsasl2): the
# environment belongs to the unprivileged caller, so SASL_OAUTH_CONF must not
# be honoured. c-tests/bin/test_setuid is installed setuid root and run as
# `nobody` with SASL_OAUTH_CONF naming a hostile file that
#   - enables `cmd:` secrets (allow_cmd: yes), the command creating a marker;
#   - names a token endpoint (a loopback listener that records what it gets)
#     and a root-only client_secret_file, for a token file without endpoint;
# and the checks are: no command ran, nothing reached the listener, each login
# fails with a reason, the plugin logged that the variable was ignored. The
# same runs without the setuid bit (as root: uid == euid) use the file: the
# marker appears and the listener receives the root-only secret, so the checks
# above can fail.
#
# Usage: setuid.sh PLUGIN_DIR   (needs root; builds c-tests/bin/test_setuid)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ctests=$(cd "$here/.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

e2e_start 1 1 PLUGIN_DIR "$@"
plugin_dir=$(cd "$1" && pwd)
if [ "$(id -u)" -ne 0 ]; then
    not_ok "runs as root" "installing a setuid-root program needs root"
    e2e_finish
fi
if ! make -s -C "$ctests" setuid > "$E2E_TMP/out/build.log" 2>&1; then
    not_ok "test_setuid builds" "make -C c-tests setuid failed" "$E2E_TMP/out/build.log"
    e2e_finish
fi
plugins=$(plugin_copy "$plugin_dir")

# The program, setuid root, in a directory `nobody` can reach.
bin=$E2E_TMP/bin
mkdir -p "$bin"
cp "$ctests/bin/test_setuid" "$bin/test_setuid"
chown root:root "$bin/test_setuid"
chmod 4755 "$bin/test_setuid"
cp "$ctests/bin/test_setuid" "$bin/test_plain"
chmod 0755 "$bin/test_plain"

# Where a command that ran would leave its mark (writable by anyone: the shell
# may drop the effective uid before running it).
marks=$E2E_TMP/marks
mkdir -p "$marks"
chmod 1777 "$marks"

# A root-only secret, and a listener standing for the token endpoint.
mkdir -p "$E2E_TMP/root"
chmod 700 "$E2E_TMP/root"
secret_value="root-only-secret-$RANDOM$RANDOM"
printf '%s\n' "$secret_value" > "$E2E_TMP/root/secret"
chmod 600 "$E2E_TMP/root/secret"
port=$(free_port)
received=$E2E_TMP/received
: > "$received"
python3 - "$port" "$received" <<'EOF' &
import socket, sys
port, out = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)
body = b'{"error":"invalid_client"}'
while True:
    c, _ = s.accept()
    c.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        data += c.recv(65536) if b"Content-Length" in data else b""
    except OSError:
        pass
    with open(out, "ab") as f:
        f.write(data + b"\n")
    c.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    c.close()
EOF
E2E_PIDS+=("$!")
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
    sleep 0.1
done
: > "$received" # the readiness probe above

conf=$E2E_TMP/hostile.conf
cat > "$conf" <<EOF
mechanisms: OAUTHBEARER
allow_cmd: yes
token_endpoint: http://127.0.0.1:$port/token
client_id: hostile
client_secret_file: $E2E_TMP/root/secret
EOF
chmod 644 "$conf"

# An expired client_credentials token file without endpoint or client id:
# only the hostile configuration could make it be refreshed.
tokens=$E2E_TMP/tokens
mkdir -p "$tokens"
chmod 700 "$tokens"
echo '{"access_token":"old","expires_at":1,"grant":"client_credentials"}' > "$tokens/token.json"
chmod 600 "$tokens/token.json"

cmd_secret="cmd:touch $marks/cmd-ran; echo a-token"
file_secret="file:$tokens/token.json"

syslog_start
DEVLOG_PREFIX=()
if [ -n "$E2E_SYSLOG" ]; then devlog_prefix; fi
as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)

# A set-id process ignores SASL_OAUTH_CONF and reads /etc/sasl2/sasl-oauth.conf,
# which must name OAUTHBEARER for the plugin to register it. The machine's /etc
# is not touched: the set-id runs see an overlay of it, in their own mount
# namespace, whose /etc/sasl2/sasl-oauth.conf (root's, like a real one) has that
# line only.
mkdir -p "$E2E_TMP/etc-upper" "$E2E_TMP/etc-work"
system_conf=(unshare -m -- sh -c '
    set -e
    upper=$1; work=$2; shift 2
    mount -t overlay sasl-oauth-etc -o "lowerdir=/etc,upperdir=$upper,workdir=$work" /etc
    mkdir -p /etc/sasl2
    echo "mechanisms: OAUTHBEARER" > /etc/sasl2/sasl-oauth.conf
    chmod 644 /etc/sasl2/sasl-oauth.conf
    exec "$@"
' sh "$E2E_TMP/etc-upper" "$E2E_TMP/etc-work")

# ---- setuid root, run by nobody: the variable is ignored.
run env SASL_OAUTH_CONF="$conf" "${system_conf[@]}" "${DEVLOG_PREFIX[@]}" "${as_nobody[@]}" "$bin/test_setuid" "$plugins" "$cmd_secret"
expect "setuid: the program runs with uid nobody and euid root" 1 "uid=65534 euid=0"
expect "setuid: a cmd: secret is refused (SASL_OAUTH_CONF ignored)" 1 "cmd: secrets are disabled"
if [ -e "$marks/cmd-ran" ]; then
    not_ok "setuid: no command ran" "the marker $marks/cmd-ran exists"
else
    ok "setuid: no command ran"
fi
expect_syslog "setuid: the log says SASL_OAUTH_CONF was ignored" "SASL_OAUTH_CONF ignored: the process is setuid or setgid"

run env SASL_OAUTH_CONF="$conf" "${system_conf[@]}" "${as_nobody[@]}" "$bin/test_setuid" "$plugins" "$file_secret"
expect "setuid: a token file is not refreshed with the hostile endpoint" 1 "no token_endpoint" "!$secret_value"
sleep 0.3
if [ -s "$received" ]; then
    not_ok "setuid: nothing reached the hostile endpoint" "the listener received a request" "$received"
else
    ok "setuid: nothing reached the hostile endpoint"
fi

# ---- the same without set-id (uid == euid == root): the file is used.
run env SASL_OAUTH_CONF="$conf" "$bin/test_plain" "$plugins" "$cmd_secret"
expect "not set-id: the cmd: secret runs" 0 "start rc=1"
if [ -e "$marks/cmd-ran" ]; then
    ok "not set-id: the command left its marker"
else
    not_ok "not set-id: the command left its marker" "no $marks/cmd-ran" "$RUN_LOG"
fi
run env SASL_OAUTH_CONF="$conf" "$bin/test_plain" "$plugins" "$file_secret"
expect "not set-id: the refresh reaches the configured endpoint" 1 "HTTP 401" "!$secret_value"
for _ in $(seq 30); do
    [ -s "$received" ] && break
    sleep 0.1
done
basic=$(printf 'hostile:%s' "$secret_value" | base64 -w0)
if grep -q "POST /token" "$received" && grep -qi "^authorization: basic $basic" "$received"; then
    ok "not set-id: the listener received the token request with the root-only secret"
else
    not_ok "not set-id: the listener received the token request with the root-only secret" "no such request" "$received"
fi

e2e_finish
