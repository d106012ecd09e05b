#!/usr/bin/env bash
# The draft mechanisms OAUTH and OAUTH10A against the real Cyrus imapd
# (`sasl_mech_list: OAUTH OAUTH10A`), with the test identity provider
# (tests/idp/server.mjs, npm oidc-provider, on 127.0.0.1) knowing the KITTEN
# slides' token (POST /admin/static-token: an opaque access token for
# scooter@altavista.com, scope mail) so that the plugin's introspection
# accepts it:
#   - bin/test_oauth_mechs --slides ISSUER: the slides' example through libsasl2
#     in-process (SASL_OK, SASL_USERNAME scooter@altavista.com), discovery with
#     the provider's discovered endpoints;
#   - imap_oauth_mechs.py speaks IMAP over a socket: AUTHENTICATE OAUTH with the
#     slides' exact bytes (continuation and SASL-IR) -> OK; a discovery request
#     -> the continuation holds the HTTP 401 with authorization_uri/token_uri,
#     then an empty response -> NO (or the slides' request -> OK);
#     AUTHENTICATE OAUTH10A with HMAC-SHA256 and HMAC-SHA1 signatures computed
#     in Python -> OK; the same message replayed -> NO, also while the first
#     session is still open (so that another imapd process gets the replay);
#     a stale timestamp, a wrong secret, an unknown token (the same refusal as
#     a wrong secret, the log tells them apart), a host that is neither
#     imapd's servername nor in oauth_accepted_hosts -> NO; a signature for
#     imapd's servername (its serverFQDN, not in oauth_accepted_hosts) -> OK.
#
# Usage: cyrus_oauth_mechs.sh PLUGIN_DIR FIXTURES   (from `make plugin fixtures idp`
#        and `make -C c-tests bin/test_oauth_mechs`)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=idp_lib.sh
. "$here/idp_lib.sh"

if [ $# -ne 2 ]; then
    echo "usage: $0 PLUGIN_DIR FIXTURES" >&2
    exit 2
fi
plugin_dir=$(cd "$1" && pwd)
fixtures=$(cd "$2" && pwd)
idp_dir=$(cd "$here/../../tests/idp" && pwd)
test_prog=$(cd "$here/.." && pwd)/bin/test_oauth_mechs
client="$here/imap_oauth_mechs.py"

SLIDES_TOKEN='vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=='
SLIDES_USER='scooter@altavista.com'
slides_b64='R0VUIC8gSFRUUC8xLjENClVzZXI6IHNjb290ZXJAYWx0YXZpc3RhLmNvbQ0KSG9zdDogaW1hcC55YWhvby5jb20NCkF1dGhvcml6YXRpb246IFRva2VuIHRva2VuPSJ2RjlkZnQ0cW1UYzJOdmIzUmxja0JoYkhSaGRtbHpkR0V1WTI5dENnPT0iDQoNCg=='

e2e_init

# ---------------------------------------------------------------- the provider


if ! command -v node >/dev/null; then
    not_ok "node is installed (for the test identity provider)"
    finish
fi
if [ ! -d "$idp_dir/node_modules/oidc-provider" ]; then
    not_ok "the test identity provider is installed" "$idp_dir/node_modules is missing: run 'make idp'"
    finish
fi
if [ ! -x "$test_prog" ]; then
    not_ok "$test_prog is built" "run 'make -C c-tests bin/test_oauth_mechs'"
    finish
fi

node "$idp_dir/server.mjs" --port 0 --host 127.0.0.1 --log > "$E2E_TMP/idp.out" 2> "$E2E_TMP/idp.err" &
E2E_PIDS+=("$!")
idp_pid=$!
for _ in $(seq 600); do
    grep -q '^ready ' "$E2E_TMP/idp.out" && break
    is_running "$idp_pid" || break
    sleep 0.1
done
issuer=$(sed -n 's/^ready //p' "$E2E_TMP/idp.out")
if [ -z "$issuer" ]; then
    not_ok "the identity provider starts" "no ready line" "$E2E_TMP/idp.err"
    finish
fi
ok "the identity provider runs at $issuer"

# The slides' token, known to the provider exactly as it is (an hour: long
# enough for the whole script, and no result cache is needed).
run curl -sS --fail-with-body -X POST -G --data-urlencode "token=$SLIDES_TOKEN" \
    --data-urlencode "username=$SLIDES_USER" --data-urlencode scope=mail \
    --data-urlencode ttl=3600 "$issuer/admin/static-token"
expect "the provider stores the slides' token for $SLIDES_USER" 0 "\"username\":\"$SLIDES_USER\""
run curl -sS -u resource-server:rs-secret --data-urlencode "token=$SLIDES_TOKEN" \
    "$issuer/token/introspection"
expect "the provider's introspection answers active for the slides' token" 0 \
    '"active":true' "\"sub\":\"$SLIDES_USER\"" '"scope":"mail"'

# ---------------------------------------------------------------- libsasl2 in-process

run "$test_prog" "$plugin_dir" "$fixtures" --slides "$issuer"
prog_log=$RUN_LOG
while IFS= read -r line; do
    case $line in
        "ok - "*) ok "test_oauth_mechs: ${line#ok - }" ;;
        "not ok - "*) not_ok "test_oauth_mechs: ${line#not ok - }" ;;
    esac
done < "$prog_log"
if [ "$RUN_STATUS" -ne 0 ] || ! grep -Eq '^[0-9]+ passed, 0 failed$' "$prog_log"; then
    not_ok "test_oauth_mechs --slides ran to its end and passed" "exit status $RUN_STATUS" "$prog_log"
fi

# ---------------------------------------------------------------- Cyrus imapd

plugins=$(plugin_copy "$plugin_dir")
syslog_start

# OAUTH10A: the server's credentials file and the client's copy of its
# secrets. The secrets hold characters RFC 5849 percent-encodes in the key.
creds=$E2E_TMP/files/oauth10a-credentials.json
cat > "$creds" <<'EOF'
{"consumers": {"imap-client": {"secret": "c/s e&cr+t"}},
 "tokens": {"tok-alice": {"secret": "t~s%x y=", "user": "alice", "consumer": "imap-client"}}}
EOF
chmod a+r "$creds"
client_creds=$E2E_TMP/client-oauth1.json
echo '{"consumer_key": "imap-client", "consumer_secret": "c/s e&cr+t", "token": "tok-alice", "token_secret": "t~s%x y="}' > "$client_creds"
wrong_creds=$E2E_TMP/client-oauth1-wrong.json
echo '{"consumer_key": "imap-client", "consumer_secret": "c/s e&cr+t", "token": "tok-alice", "token_secret": "wrong"}' > "$wrong_creds"
unknown_creds=$E2E_TMP/client-oauth1-unknown.json
echo '{"consumer_key": "imap-client", "consumer_secret": "c/s e&cr+t", "token": "tok-nobody", "token_secret": "t~s%x y="}' > "$unknown_creds"
# imapd's serverFQDN (what libsasl2 gives the plugin as the server's name):
# the servername that cyrus_new (lib.sh) sets.
servername=e2e-MECHS

# Nonces shared by all imapd processes: one directory the Cyrus user can write.
nonces=$E2E_TMP/files/oauth10a-nonces
mkdir -p "$nonces"
chown "$(cyrus_run_user)" "$nonces" 2>/dev/null || chmod 0777 "$nonces"

cyrus_new MECHS
cyrus_conf MECHS "sasl_mech_list: OAUTH OAUTH10A" \
    "# OAUTH: opaque tokens introspected at the provider (discovered), as resource-server" \
    "sasl_oauth_issuer: $issuer" \
    "sasl_oauth_client_id: resource-server" \
    "sasl_oauth_client_secret: rs-secret" \
    "sasl_oauth_required_scope: mail" \
    "sasl_oauth_timeout: 2000" \
    "# the slides' Host, and the address the OAUTH10A clients sign for" \
    "sasl_oauth_accepted_hosts: imap.yahoo.com 127.0.0.1" \
    "# OAUTH10A" \
    "sasl_oauth10a_credentials_file: $creds" \
    "sasl_oauth10a_max_skew: 120" \
    "sasl_oauth10a_nonce_dir: $nonces" \
    "# the slides' user is scooter@altavista.com: without virtual domains Cyrus denies" \
    "# that as a cross-realm login (loginrealms: altavista.com would strip the domain)" \
    "virtdomains: userid"
cyrus_start MECHS "$plugins"
port=$(cyrus_port MECHS)

logged_in='^result: OK'
refused='^result: NO'

run cat "$E2E_TMP/MECHS/greeting"
expect "the greeting offers AUTH=OAUTH and AUTH=OAUTH10A" 0 'AUTH=OAUTH[] ]' 'AUTH=OAUTH10A'

# ---- OAUTH: the slides' exact bytes

run python3 "$client" "$port" slides
expect "OAUTH: the slides' base64, sent as is after AUTHENTICATE OAUTH, logs in" 0 \
    "^# sent verbatim: $slides_b64\$" "$logged_in"
expect_syslog "OAUTH: imapd logs $SLIDES_USER's login" \
    "login: .* $SLIDES_USER OAUTH User logged in"

run python3 "$client" "$port" slides --ir
expect "OAUTH: the slides' message as SASL-IR (AUTHENTICATE OAUTH <base64>) logs in" 0 "$logged_in"

# ---- OAUTH: discovery

run python3 "$client" "$port" discovery
expect "OAUTH discovery: the continuation holds the HTTP 401 with the provider's endpoints" 1 \
    '^# challenge: HTTP/1.1 401 Unauthorized\\r\\nWWW-Authenticate: Bearer realm="imap", error="invalid_token"' \
    "authorization_uri=\"$issuer/auth\"" "token_uri=\"$issuer/token\"" 'scope="mail"'
expect "OAUTH discovery: then an empty response -> NO" 1 "$refused" "!$logged_in"
expect_syslog "OAUTH discovery: the server log says the client ended after discovery" \
    'sasl-oauth: .*after discovery'

run python3 "$client" "$port" discovery --then-slides
expect "OAUTH discovery, then the slides' request in the same exchange -> OK" 0 \
    'authorization_uri=' "$logged_in"

# ---- OAUTH10A

run python3 "$client" "$port" oauth10a "$client_creds" --save "$E2E_TMP/oauth10a-msg"
expect "OAUTH10A: an HMAC-SHA256 signature computed in Python logs in" 0 "$logged_in"
expect_syslog "OAUTH10A: imapd logs alice's login" 'login: .* alice OAUTH10A User logged in'

run python3 "$client" "$port" oauth10a "$client_creds" --method HMAC-SHA1
expect "OAUTH10A: an HMAC-SHA1 signature logs in" 0 "$logged_in"

run python3 "$client" "$port" oauth10a "$client_creds" --replay "$E2E_TMP/oauth10a-msg"
expect "OAUTH10A: the first login's message replayed -> NO" 1 \
    '^# challenge: \{"status":"invalid_token"' "$refused" "!$logged_in"
expect_syslog "OAUTH10A: the server log says replay" 'sasl-oauth: .*replay'

# A replay while the first session is still open: imapd serves one client per
# process, so master gives the replay to another imapd process. The plugin
# must refuse it there too: only the shared oauth10a_nonce_dir can (the
# previous replay reached the process that had seen the nonce).
python3 "$client" "$port" oauth10a "$client_creds" --save "$E2E_TMP/oauth10a-held" --hold 4 \
    > "$E2E_TMP/out/held.log" 2>&1 &
held=$!
E2E_PIDS+=("$held")
for _ in $(seq 50); do
    grep -q '^# holding' "$E2E_TMP/out/held.log" && break
    sleep 0.1
done
run python3 "$client" "$port" oauth10a "$client_creds" --replay "$E2E_TMP/oauth10a-held"
expect "OAUTH10A: a message replayed while its first session is still open (another imapd process) -> NO" 1 \
    "$refused" "!$logged_in"
wait "$held" || true
if grep -q '^result: OK' "$E2E_TMP/out/held.log"; then
    ok "OAUTH10A: the held session had logged in"
else
    not_ok "OAUTH10A: the held session had logged in" "" "$E2E_TMP/out/held.log"
fi

run python3 "$client" "$port" oauth10a "$client_creds" --age 1000
expect "OAUTH10A: a timestamp 1000 s old -> NO" 1 "$refused" "!$logged_in"
expect_syslog "OAUTH10A: the server log names the timestamp window" 'sasl-oauth: .*oauth_timestamp.*window'

run python3 "$client" "$port" oauth10a "$wrong_creds"
expect "OAUTH10A: a wrong token secret -> NO" 1 "$refused" "!$logged_in"
expect_syslog "OAUTH10A: the server log says bad signature" 'sasl-oauth: .*signature not accepted.*[(]bad HMAC-SHA256 signature[)]'

run python3 "$client" "$port" oauth10a "$unknown_creds"
expect "OAUTH10A: an unknown token -> NO" 1 "$refused" "!$logged_in"
expect_syslog "OAUTH10A: the server log says unknown oauth_token (the client's text is the bad-signature one)" \
    'sasl-oauth: .*signature not accepted [(]bad signature or unknown oauth_token[)] [(]unknown oauth_token[)]'

run python3 "$client" "$port" oauth10a "$client_creds" --host "$servername"
expect "OAUTH10A: signed for imapd's servername ($servername, not in oauth_accepted_hosts) -> OK" 0 "$logged_in"

run python3 "$client" "$port" oauth10a "$client_creds" --host evil.example
expect "OAUTH10A: signed for a host that is neither imapd's servername nor in oauth_accepted_hosts -> NO" 1 "$refused" "!$logged_in"
# (libsasl2 lowercases the server's name)
expect_syslog "OAUTH10A: the server log names the host and the server's name" \
    "sasl-oauth: .*host 'evil.example' is neither this server's name nor in oauth_accepted_hosts [(]server name '${servername,,}'[)]"

finish
