#!/usr/bin/env bash
# Cyrus' own client, imtest (cyrus-clients), with our plugin on both ends:
# imtest loads the client side (SASL_PATH), Cyrus imapd the server side, the
# token comes from the test identity provider (tests/idp, on 127.0.0.1).
#   - imtest -m OAUTHBEARER logs in with a JWT and with an opaque token, given
#     by flags (-a/-u/-w) or answered at its token prompt (SASL_INTERACT);
#   - imtest -m XOAUTH2 logs in on an instance offering only XOAUTH2;
#   - a bad token (wrong audience, garbage) is refused cleanly: no
#     "Authenticated.", the server's error challenge answered, imapd still up.
# imtest exits 0 even when authentication fails: the line "Authenticated." is
# what tells success; with stdin at its end it logs out after authenticating.
#
# Usage: imtest.sh PLUGIN_DIR      (from `make plugin idp`)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=idp_lib.sh
. "$here/idp_lib.sh"

IMTEST=$CYRUS_BIN/imtest

idp_script_start "$@"
if [ ! -x "$IMTEST" ]; then
    not_ok "imtest is installed" "no $IMTEST (Debian package cyrus-clients)"
    finish
fi
idp_require || finish
plugins=$(plugin_copy "$plugin_dir")
syslog_start
idp_start || { not_ok "the identity provider starts"; finish; }
ok "the identity provider runs at $IDP_ISSUER"

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
cyrus_start BEARER "$plugins"
cyrus_new XOAUTH2
cyrus_conf XOAUTH2 "sasl_mech_list: XOAUTH2" "${oauth_lines[@]}"
cyrus_start XOAUTH2 "$plugins"
p_bearer=$(cyrus_port BEARER)
p_xoauth2=$(cyrus_port XOAUTH2)

# imtest_run PORT MECH [IMTEST FLAGS...] < stdin: imtest against 127.0.0.1,
# our client plugin only (SASL_PATH), bounded in time.
imtest_run() {
    local port=$1 mech=$2
    shift 2
    env SASL_PATH="$plugins" timeout 20 "$IMTEST" -p "$port" -m "$mech" "$@" 127.0.0.1
}

# imtest_prompted PORT MECH [FLAGS...] < stdin: the same without a controlling
# terminal, so that prompts are answered from stdin.
imtest_prompted() {
    local port=$1 mech=$2
    shift 2
    env SASL_PATH="$plugins" timeout 20 setsid -w "$IMTEST" -p "$port" -m "$mech" "$@" 127.0.0.1
}

authenticated='^Authenticated\.'
# A clean refusal: the server's NO after the error challenge, imtest saying so,
# and no crash.
refused=('!^Authenticated' '^S: A[0-9]+ NO ' '^Authentication failed' '!Segmentation|Aborted|core dumped')


# ---------------------------------------------------------------- logins

tok jwt
run imtest_run "$p_bearer" OAUTHBEARER -a alice -u alice -w "$TOKEN" < /dev/null
expect "imtest -m OAUTHBEARER with the provider's JWT (flags -a -u -w): Authenticated." 0 \
    "$authenticated" 'AUTHENTICATE OAUTHBEARER|OAUTHBEARER'
expect_syslog "imapd logs alice's OAUTHBEARER login" 'login: .* alice OAUTHBEARER User logged in'

tok jwt-eddsa
run imtest_run "$p_bearer" OAUTHBEARER -a alice -w "$TOKEN" < /dev/null
expect "imtest -m OAUTHBEARER with an EdDSA JWT, no authorization name: Authenticated." 0 \
    "$authenticated"

tok opaque
run imtest_run "$p_bearer" OAUTHBEARER -a alice -w "$TOKEN" < /dev/null
expect "imtest -m OAUTHBEARER with an opaque token (introspection): Authenticated." 0 "$authenticated"

# The token through imtest's prompt (SASL_INTERACT, the client plugin's
# "OAuth 2.0 access token" prompt): without a controlling terminal (setsid)
# imtest's getpass() reads it from stdin.
tok jwt
run imtest_prompted "$p_bearer" OAUTHBEARER -a alice <<< "$TOKEN"
expect "imtest -m OAUTHBEARER, the token answered at its prompt on stdin: Authenticated." 0 \
    'access token' "$authenticated"

tok jwt
run imtest_run "$p_xoauth2" XOAUTH2 -a alice -u alice -w "$TOKEN" < /dev/null
expect "imtest -m XOAUTH2 (instance offering only XOAUTH2) with a JWT: Authenticated." 0 \
    "$authenticated"
expect_syslog "imapd logs alice's XOAUTH2 login" 'login: .* alice XOAUTH2 User logged in'

tok opaque
run imtest_run "$p_xoauth2" XOAUTH2 -a alice -w "$TOKEN" < /dev/null
expect "imtest -m XOAUTH2 with an opaque token: Authenticated." 0 "$authenticated"

# ---------------------------------------------------------------- refusals

tok jwt-other
run imtest_run "$p_bearer" OAUTHBEARER -a alice -w "$TOKEN" < /dev/null
expect "imtest -m OAUTHBEARER with a wrong-audience JWT is refused cleanly (error challenge answered with ^A, NO)" 0 \
    "${refused[@]}" '^C: AQ==[[:space:]]*$'
expect_syslog "the server log gives the reason (audience)" 'e2e-BEARER/imap.*sasl-oauth: .*audience'

run imtest_run "$p_bearer" OAUTHBEARER -a alice -w "not-a-token-at-all" < /dev/null
expect "imtest -m OAUTHBEARER with a garbage token is refused cleanly (error challenge answered, NO)" 0 \
    "${refused[@]}" '^C: AQ==[[:space:]]*$'
expect_syslog "the server log gives the reason (not active at the provider)" \
    'e2e-BEARER/imap.*sasl-oauth: .*not active'

tok jwt-other
run imtest_prompted "$p_xoauth2" XOAUTH2 -a alice <<< "$TOKEN"
expect "imtest -m XOAUTH2 with a wrong-audience JWT, token at the prompt, is refused cleanly (empty answer, NO)" 0 \
    "${refused[@]}" '^C: [[:space:]]*$'

for name in BEARER XOAUTH2; do
    run imap_greeting "$(cyrus_port "$name")"
    expect "$name: imapd still answers after the refusals" 0 '^\* OK'
done

finish
