#!/usr/bin/env bash
# Interoperability matrix, Dovecot column: a server nobody here wrote with
# our CLIENT plugin. Dovecot 2.3 (Debian dovecot-core + dovecot-pop3d +
# dovecot-submissiond) with its own OAUTHBEARER and XOAUTH2 (passdb oauth2,
# opaque tokens checked at the test identity provider's introspection
# endpoint as resource-server), and cyrus-clients' pop3test and smtptest
# loading our client plugin (SASL_PATH), the token given with -w:
#   - both mechanisms log in with a valid token ("Authenticated.");
#   - a refused token: Dovecot's error challenge, our client's answer (^A for
#     OAUTHBEARER, an empty response for XOAUTH2), Dovecot's failure, and the
#     server's status in sasl_errdetail() (made visible by interop_lib.sh's
#     errdetail shim: the Cyrus test clients never print it);
#   - Dovecot checks that the client's user name matches the token's: alice's
#     token with -u bob is refused the same way.
#
# Dovecot runs in the foreground (`dovecot -F -c FILE`) with a private
# base_dir, state_dir, log file and mail folder, listening on 127.0.0.1 only;
# `auth_failure_delay = 0` and an anvil-auth-penalty listener with mode 0
# keep refused logins from slowing the next ones. Its submission service
# relays to a stub SMTP server on 127.0.0.1 (it connects after the login).
#
# Usage: interop_dovecot.sh PLUGIN_DIR   (root; dovecot-core dovecot-pop3d
#        dovecot-submissiond cyrus-clients; `make plugin idp`; cc)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=idp_lib.sh
. "$here/idp_lib.sh"
# shellcheck source=interop_lib.sh
. "$here/interop_lib.sh"

e2e_start 1 1 PLUGIN_DIR "$@"
plugin_dir=$(cd "$1" && pwd)
DOVECOT=${DOVECOT:-/usr/sbin/dovecot}

dv_dump() {
    [ -f "$E2E_TMP/dovecot/dovecot.log" ] || return 0
    echo "# == dovecot.log (last 40 lines)"
    tail -n 40 "$E2E_TMP/dovecot/dovecot.log" | sed 's/^/#   /'
}
# A failed or unfinished run shows the provider's and Dovecot's logs too.
E2E_DUMPS+=(idp_dump dv_dump)
for p in "$DOVECOT" "$CYRUS_BIN/pop3test" "$CYRUS_BIN/smtptest"; do
    if [ ! -x "$p" ]; then
        not_ok "$p is installed" "apt-get install dovecot-core dovecot-pop3d dovecot-submissiond cyrus-clients"
        e2e_finish
    fi
done
if [ ! -f /usr/lib/dovecot/pop3 ] || [ ! -f /usr/lib/dovecot/submission ]; then
    not_ok "Dovecot's pop3 and submission services are installed" "apt-get install dovecot-pop3d dovecot-submissiond"
    e2e_finish
fi
if [ "$(id -u)" -ne 0 ]; then
    not_ok "running as root" "Dovecot's master needs root"
    e2e_finish
fi
idp_require || e2e_finish
plugins=$(plugin_copy "$plugin_dir")
shim=$(errdetail_shim) || { not_ok "the errdetail shim builds (cc, libsasl2-dev)"; e2e_finish; }
idp_start || { not_ok "the identity provider starts"; e2e_finish; }

# ---------------------------------------------------------------- relay stub

# Dovecot's submission service connects to its relay once the client has
# logged in: a minimal SMTP server that accepts and forgets.
relay_port=$(free_port)
python3 - "$relay_port" > "$E2E_TMP/relay.log" 2>&1 <<'EOF' &
import socketserver, sys

class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 relay.e2e.invalid ESMTP stub\r\n")
        for line in self.rfile:
            verb = line.strip().split(b" ")[0].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250-relay.e2e.invalid\r\n250 8BITMIME\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")

class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
EOF
E2E_PIDS+=("$!")

# ---------------------------------------------------------------- Dovecot

dv="$E2E_TMP/dovecot"
mkdir -p "$dv/run" "$dv/state" "$dv/mail"
chown nobody:nogroup "$dv/mail"
pop3_port=$(free_port)
sub_port=$(free_port)
cat > "$dv/oauth2.conf" <<EOF
# RFC 7662 introspection at the test provider, as its resource server
introspection_url = http://resource-server:rs-secret@127.0.0.1:$IDP_PORT/token/introspection
introspection_mode = post
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 5000
EOF
cat > "$dv/dovecot.conf" <<EOF
# private Dovecot: nothing outside $dv is used
base_dir = $dv/run
state_dir = $dv/state
instance_name = e2e-dovecot
log_path = $dv/dovecot.log
protocols = pop3 submission
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = oauthbearer xoauth2
auth_failure_delay = 0
auth_verbose = yes
mail_location = maildir:$dv/mail/%u
hostname = dovecot.e2e.invalid
submission_relay_host = 127.0.0.1
submission_relay_port = $relay_port
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $dv/oauth2.conf
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$dv/mail/%u
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $pop3_port
  }
  inet_listener pop3s {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    address = 127.0.0.1
    port = $sub_port
  }
}
# no growing delay after refused logins
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
EOF
run doveconf -c "$dv/dovecot.conf" -n
if [ "$RUN_STATUS" -ne 0 ]; then
    not_ok "doveconf accepts the configuration" "" "$RUN_LOG"
    e2e_finish
fi
"$DOVECOT" -F -c "$dv/dovecot.conf" > "$dv/dovecot.out" 2>&1 &
dv_pid=$!
E2E_PIDS+=("$dv_pid")
up=""
for _ in $(seq 100); do
    is_running "$dv_pid" || break
    if python3 -c 'import socket,sys
for p in sys.argv[1:]: socket.create_connection(("127.0.0.1", int(p)), 1).close()' "$pop3_port" "$sub_port" 2> /dev/null; then
        up=1
        break
    fi
    sleep 0.1
done
if [ -n "$up" ]; then
    ok "Dovecot runs: pop3 on 127.0.0.1:$pop3_port, submission on 127.0.0.1:$sub_port"
else
    not_ok "Dovecot starts" "no listener within 10 s" "$dv/dovecot.out"
    e2e_finish
fi

# Dovecot introspects, and oidc-provider introspects only opaque tokens.
tok opaque
good=$TOKEN
bad=not-a-token-known-to-the-provider

client_run() { # TOOL PORT MECH [FLAGS...] < /dev/null: our client plugin only
    local tool=$1 port=$2 mech=$3
    shift 3
    env SASL_PATH="$plugins" LD_PRELOAD="$shim" timeout 20 "$CYRUS_BIN/$tool" -p "$port" -m "$mech" "$@" 127.0.0.1
}

for tool in pop3test smtptest; do
    if [ "$tool" = pop3test ]; then port=$pop3_port; fail_re='^S: -ERR '; proto=pop3
    else port=$sub_port; fail_re='^S: 535 '; proto=submission; fi
    for mech in OAUTHBEARER XOAUTH2; do
        if [ "$mech" = OAUTHBEARER ]; then answer='^C: AQ==[[:space:]]*$'; status='invalid_token'
        else answer='^C: [[:space:]]*$'; status='401'; fi
        cell_begin "$tool" dovecot "$mech"
        run client_run "$tool" "$port" "$mech" -a alice -u alice -w "$good" < /dev/null
        expect "$tool (our client plugin) -> Dovecot $proto: $mech with a valid token: Authenticated." 0 \
            '^Authenticated\.' "AUTH $mech "
        run client_run "$tool" "$port" "$mech" -a alice -u alice -w "$bad" < /dev/null
        expect "$tool -> Dovecot $proto: $mech with a refused token: Dovecot's error challenge answered, refused, status $status in sasl_errdetail" 0 \
            '!^Authenticated' "$answer" "$fail_re" '^Authentication failed' \
            "errdetail: .*server refused the token: status $status" '!Segmentation|Aborted|core dumped'
        run client_run "$tool" "$port" "$mech" -a bob -u bob -w "$good" < /dev/null
        expect "$tool -> Dovecot $proto: $mech with alice's token as bob: refused (Dovecot matches the user name), ends cleanly" 0 \
            '!^Authenticated' "$fail_re" '^Authentication failed' '!Segmentation|Aborted|core dumped'
        cell_end
    done
done

logins=$(grep -c 'Login: user=<alice>, method=' "$dv/dovecot.log" || true)
if [ "$logins" -ge 4 ]; then ok "Dovecot logged alice's logins ($logins)"
else not_ok "Dovecot logged alice's logins" "got $logins" "$dv/dovecot.log"; fi
if grep -q "Username 'bob' did not match 'alice'" "$dv/dovecot.log"; then
    ok "Dovecot says why bob was refused (user name does not match the token's)"
else
    not_ok "Dovecot says why bob was refused" "" "$dv/dovecot.log"
fi
if is_running "$dv_pid"; then ok "Dovecot still runs"
else not_ok "Dovecot still runs" "it exited" "$dv/dovecot.out"; fi

e2e_finish
