#!/usr/bin/env bash
# Interoperability matrix, Cyrus imapd column: Cyrus imapd 3.6 with our server
# plugin (tokens checked against the test identity provider: JWTs by the keys
# of its discovery document, opaque tokens by introspection) and clients
# nobody here wrote:
#   - curl: OAUTHBEARER (instance offering OAUTHBEARER and XOAUTH2) and
#     XOAUTH2 (an instance offering only XOAUTH2: curl prefers OAUTHBEARER
#     whenever it is offered);
#   - Python's imaplib: XOAUTH2 and OAUTHBEARER through imaplib's
#     authenticate(), which never uses SASL-IR (imaplib_login.py);
#   - imtest (cyrus-clients) with our client plugin, both mechanisms;
#   - the message forms of curl, mutt, NeoMutt, imapclient, Roundcube and
#     Kafka, replayed byte for byte (interop_forms.py).
# For each: a valid token logs in as the token's user (alice), a refused one
# ends cleanly after the error challenge.
#
# Usage: interop_cyrus.sh PLUGIN_DIR   (`make plugin idp`; root for the syslog)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=idp_lib.sh
. "$here/idp_lib.sh"
# shellcheck source=interop_lib.sh
. "$here/interop_lib.sh"

IMTEST=$CYRUS_BIN/imtest

idp_script_start "$@"
idp_require || e2e_finish
plugins=$(plugin_copy "$plugin_dir")
syslog_start
idp_start || { not_ok "the identity provider starts"; e2e_finish; }

oauth_lines=(
    "sasl_oauth_issuer: $IDP_ISSUER"
    "sasl_oauth_audience: urn:sasl-oauth:imap urn:sasl-oauth:opaque"
    "sasl_oauth_client_id: resource-server"
    "sasl_oauth_client_secret: rs-secret"
    "sasl_oauth_username_claim: username"
    "sasl_oauth_required_scope: mail"
)
cyrus_new BEARER
cyrus_conf BEARER "sasl_mech_list: OAUTHBEARER XOAUTH2" "${oauth_lines[@]}"
cyrus_start BEARER "$plugins" || { not_ok "Cyrus imapd BEARER starts"; e2e_finish; }
cyrus_new XOAUTH2
cyrus_conf XOAUTH2 "sasl_mech_list: XOAUTH2" "${oauth_lines[@]}"
cyrus_start XOAUTH2 "$plugins" || { not_ok "Cyrus imapd XOAUTH2 starts"; e2e_finish; }
p_bearer=$(cyrus_port BEARER)
p_xoauth2=$(cyrus_port XOAUTH2)
ok "Cyrus imapd runs on 127.0.0.1:$p_bearer (OAUTHBEARER XOAUTH2) and :$p_xoauth2 (XOAUTH2 only)"

# One token of each kind serves every login (a bearer token is reusable).
tok jwt
jwt=$TOKEN
tok opaque
opaque=$TOKEN
tok jwt-other
bad=$TOKEN
printf '%s\n' "$jwt" > "$E2E_TMP/files/jwt"
printf '%s\n' "$opaque" > "$E2E_TMP/files/opaque"
printf '%s\n' "$bad" > "$E2E_TMP/files/bad"

logged_in='^< A[0-9]+ OK \[CAPABILITY'
refused='^< A[0-9]+ NO '

# ---------------------------------------------------------------- curl

cell_begin curl cyrus OAUTHBEARER
run curl_imap --oauth2-bearer "$jwt" "imap://127.0.0.1:$p_bearer/" -u alice:
expect "curl -> Cyrus imapd: OAUTHBEARER (SASL-IR, host and port sent) logs in with a JWT" 0 \
    '^> A[0-9]+ AUTHENTICATE OAUTHBEARER [A-Za-z0-9+/=]+' "$logged_in"
expect_syslog "curl -> Cyrus imapd: imapd logs alice's OAUTHBEARER login" \
    'e2e-BEARER/imap.*login: .* alice OAUTHBEARER User logged in'
run curl_imap --oauth2-bearer "$opaque" "imap://127.0.0.1:$p_bearer/" -u alice:
expect "curl -> Cyrus imapd: OAUTHBEARER logs in with an opaque token" 0 "$logged_in"
run curl_imap --oauth2-bearer "$bad" "imap://127.0.0.1:$p_bearer/" -u alice:
expect "curl -> Cyrus imapd: OAUTHBEARER with a refused token: error challenge, curl answers ^A (AQ==), NO" 67 \
    '# challenge: .*"status": *"invalid_token"' '^> AQ==' "$refused" "!$logged_in"
cell_end

cell_begin curl cyrus XOAUTH2
run curl_imap --oauth2-bearer "$jwt" "imap://127.0.0.1:$p_xoauth2/" -u alice:
expect "curl -> Cyrus imapd (XOAUTH2 only): XOAUTH2 logs in with a JWT" 0 \
    '^> A[0-9]+ AUTHENTICATE XOAUTH2 [A-Za-z0-9+/=]+' "$logged_in"
expect_syslog "curl -> Cyrus imapd: imapd logs alice's XOAUTH2 login" \
    'e2e-XOAUTH2/imap.*login: .* alice XOAUTH2 User logged in'
# curl does not answer an XOAUTH2 error challenge (SASL_FINAL: login denied)
# and hangs up; the server must end the exchange as a failure.
run curl_imap --oauth2-bearer "$bad" "imap://127.0.0.1:$p_xoauth2/" -u alice:
expect "curl -> Cyrus imapd: XOAUTH2 with a refused token: error challenge (status 401), curl gives up, not logged in" 67 \
    '# challenge: .*"status": *"401"' "!$logged_in"
server_alive "curl -> Cyrus imapd: imapd still answers after curl hung up mid-exchange" 127.0.0.1 "$p_xoauth2" '^\* OK'
cell_end

# ---------------------------------------------------------------- Python imaplib

for mech in XOAUTH2 OAUTHBEARER; do
    cell_begin python-imaplib cyrus "$mech"
    run python3 "$here/imaplib_login.py" "$mech" "$p_bearer" alice "$E2E_TMP/files/jwt"
    expect "Python imaplib -> Cyrus imapd: $mech (no SASL-IR) logs in with a JWT" 0 \
        "AUTHENTICATE $mech'?\$" '^result: OK'
    run python3 "$here/imaplib_login.py" "$mech" "$p_bearer" alice "$E2E_TMP/files/opaque"
    expect "Python imaplib -> Cyrus imapd: $mech logs in with an opaque token" 0 '^result: OK'
    run python3 "$here/imaplib_login.py" "$mech" "$p_bearer" alice "$E2E_TMP/files/bad"
    if [ "$mech" = OAUTHBEARER ]; then status='"status": *"invalid_token"'; else status='"status": *"401"'; fi
    expect "Python imaplib -> Cyrus imapd: $mech with a refused token: error challenge answered, NO" 1 \
        "# challenge: .*$status" '^refused: ' '!^result: OK'
    cell_end
done

# ---------------------------------------------------------------- imtest

if [ -x "$IMTEST" ]; then
    shim=$(errdetail_shim) || { not_ok "the errdetail shim builds (cc, libsasl2-dev)"; e2e_finish; }
    imtest_run() { # PORT MECH [FLAGS...] < /dev/null
        local port=$1 mech=$2
        shift 2
        env SASL_PATH="$plugins" LD_PRELOAD="$shim" timeout 20 "$IMTEST" -p "$port" -m "$mech" "$@" 127.0.0.1
    }
    for mech in OAUTHBEARER XOAUTH2; do
        cell_begin imtest cyrus "$mech"
        if [ "$mech" = OAUTHBEARER ]; then port=$p_bearer; else port=$p_xoauth2; fi
        run imtest_run "$port" "$mech" -a alice -u alice -w "$jwt" < /dev/null
        expect "imtest (our client plugin) -> Cyrus imapd: $mech with a JWT: Authenticated." 0 \
            '^Authenticated\.' "AUTHENTICATE $mech"
        expect_syslog "imtest -> Cyrus imapd: imapd logs alice's $mech login" \
            "login: .* alice $mech User logged in"
        run imtest_run "$port" "$mech" -a alice -u alice -w "$opaque" < /dev/null
        expect "imtest -> Cyrus imapd: $mech with an opaque token: Authenticated." 0 '^Authenticated\.'
        run imtest_run "$port" "$mech" -a alice -u alice -w "$bad" < /dev/null
        if [ "$mech" = OAUTHBEARER ]; then answer='^C: AQ==[[:space:]]*$'; status='status invalid_token'
        else answer='^C: [[:space:]]*$'; status='status 401'; fi
        expect "imtest -> Cyrus imapd: $mech with a refused token: error challenge answered, NO, the status in sasl_errdetail" 0 \
            '!^Authenticated' "$answer" '^S: A[0-9]+ NO ' "errdetail: .*$status" '!Segmentation|Aborted|core dumped'
        cell_end
    done
else
    not_ok "imtest is installed" "no $IMTEST (Debian package cyrus-clients)"
fi

# ---------------------------------------------------------------- message forms

forms_out="$E2E_TMP/out/forms-imap.log"
python3 "$here/interop_forms.py" --server cyrus --imap "$p_bearer" --user alice \
    --jwt "$E2E_TMP/files/jwt" --opaque "$E2E_TMP/files/opaque" --bad "$E2E_TMP/files/bad" \
    > "$forms_out" 2>&1 || true
cells_from "$forms_out"
if ! grep -q '^cell	' "$forms_out"; then
    not_ok "interop_forms.py ran to its end (IMAP)" "" "$forms_out"
fi

for name in BEARER XOAUTH2; do
    run imap_greeting "$(cyrus_port "$name")"
    expect "Cyrus $name: imapd still answers after every client" 0 '^\* OK'
done
assert_no_crash_in_syslog imapd

e2e_finish
