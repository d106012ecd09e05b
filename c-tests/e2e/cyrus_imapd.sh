#!/usr/bin/env bash
# Real-server test: Debian's Cyrus imapd loads the plugin through libsasl2.
#   - an instance offering only OAUTHBEARER: curl logs in with valid tokens and
#     is refused with an expired one and a token without the required scope;
#     alice's token cannot act as bob, admin bob's token can act as alice (Cyrus'
#     proxy policy); imaplib logs in (no host/port in its message);
#   - an instance offering only XOAUTH2 (curl always prefers OAUTHBEARER when it
#     is offered): imaplib and curl log in, and are refused with an expired token;
#   - an instance without the plugin's options: neither mechanism is offered.
# Where the server's syslog can be captured (root), the reasons the plugin logs
# are checked too. (imapd's own "badlogin" line cannot show them: after a failed
# exchange it asks libsasl2 for SASL_USERNAME, which replaces sasl_errdetail with
# "SASL(-6) ... not yet available" when no user name was set.)
#
# Usage: cyrus_imapd.sh PLUGIN_DIR FIXTURES   (from `make plugin fixtures`)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

if [ $# -ne 2 ]; then
    echo "usage: $0 PLUGIN_DIR FIXTURES" >&2
    exit 2
fi
plugin_dir=$(cd "$1" && pwd)
fixtures=$(cd "$2" && pwd)
tokens=$fixtures/tokens

e2e_init
fixtures_check "$fixtures" || e2e_finish
plugins=$(plugin_copy "$plugin_dir")
syslog_start
oauth_lines=$(oauth_imapd_lines "$fixtures")

# One instance per mechanism list.
for mech in OAUTHBEARER XOAUTH2; do
    cyrus_new "$mech"
    cyrus_conf "$mech" "sasl_mech_list: $mech" "admins: bob" \
        "# the plugin's options (FIXTURES/server.conf)" "$oauth_lines"
    cyrus_start "$mech" "$plugins"
done
# A third one without the plugin's options: the plugin loads but must not offer
# its mechanisms, and says why in the log.
cyrus_new UNCONFIGURED
cyrus_conf UNCONFIGURED "sasl_mech_list: OAUTHBEARER XOAUTH2"
cyrus_start UNCONFIGURED "$plugins"

p_bearer=$(cyrus_port OAUTHBEARER)
p_xoauth2=$(cyrus_port XOAUTH2)
url_bearer="imap://127.0.0.1:$p_bearer/"
url_xoauth2="imap://127.0.0.1:$p_xoauth2/"

logged_in='^< A[0-9]+ OK \[CAPABILITY'   # Cyrus's answer to a successful AUTHENTICATE
refused='^< A[0-9]+ NO '

# ---------------------------------------------------------------- OAUTHBEARER

# The greeting's capabilities: the configured plugin makes its mechanism available.
run cat "$E2E_TMP/OAUTHBEARER/greeting"
expect "OAUTHBEARER instance: the greeting offers AUTH=OAUTHBEARER and not XOAUTH2" 0 \
    'CAPABILITY.*AUTH=OAUTHBEARER' '!AUTH=XOAUTH2'
run cat "$E2E_TMP/XOAUTH2/greeting"
expect "XOAUTH2 instance: the greeting offers AUTH=XOAUTH2 and not OAUTHBEARER" 0 \
    'CAPABILITY.*AUTH=XOAUTH2' '!AUTH=OAUTHBEARER'

run cat "$E2E_TMP/UNCONFIGURED/greeting"
expect "unconfigured instance: the greeting offers neither OAUTHBEARER nor XOAUTH2" 0 \
    '^\* OK' '!AUTH=OAUTHBEARER' '!AUTH=XOAUTH2'
RUN_SYSLOG_MARK=0 # any line since the start
expect_syslog "unconfigured instance: the log names the missing option" \
    'e2e-UNCONFIGURED/imap.*sasl-oauth: .*disabled.*oauth_[a-z_]+'

run curl_imap --oauth2-bearer "$(cat "$tokens/rs256.jwt")" "$url_bearer" -u alice:
expect "OAUTHBEARER: curl logs in as alice with a valid RS256 token" 0 \
    '^> A[0-9]+ AUTHENTICATE OAUTHBEARER ' "$logged_in"
expect_syslog "OAUTHBEARER: imapd logs alice's login" 'login: .* alice OAUTHBEARER User logged in'

for t in es256 eddsa; do
    run curl_imap --oauth2-bearer "$(cat "$tokens/$t.jwt")" "$url_bearer" -u alice:
    expect "OAUTHBEARER: curl logs in with a valid $t token" 0 "$logged_in"
done

run curl_imap --oauth2-bearer "$(cat "$tokens/expired.jwt")" "$url_bearer" -u alice:
expect "OAUTHBEARER: curl is refused with an expired token (exit 67 login denied, server NO)" 67 \
    "$refused" "!$logged_in"
expect "OAUTHBEARER: the error challenge says invalid_token and names the scope" 67 \
    '# challenge: .*"status": *"invalid_token"' '# challenge: .*"scope": *"mail"'
expect_syslog "OAUTHBEARER: the server log gives the plugin's reason (expired)" \
    'e2e-OAUTHBEARER/imap.*sasl-oauth: .*expired'

run curl_imap --oauth2-bearer "$(cat "$tokens/no-scope.jwt")" "$url_bearer" -u alice:
expect "OAUTHBEARER: curl is refused with a token lacking the required scope" 67 \
    "$refused" "!$logged_in" '# challenge: .*"status": *"insufficient_scope"'
expect_syslog "OAUTHBEARER: the server log gives the plugin's reason (scope)" \
    'e2e-OAUTHBEARER/imap.*sasl-oauth: .*scope'

# With -u NAME curl sends a=NAME, an authorization identity: libsasl2 asks
# Cyrus' proxy policy, which lets only admins (bob here) act as someone else.
run curl_imap --oauth2-bearer "$(cat "$tokens/rs256.jwt")" "$url_bearer" -u bob:
expect "OAUTHBEARER: alice's valid token does not log in as bob" 67 "$refused" "!$logged_in"
expect_syslog "OAUTHBEARER: that refusal comes from Cyrus' proxy policy (alice is not allowed to proxy)" \
    'badlogin: .*OAUTHBEARER.*not allowed to proxy'
run curl_imap --oauth2-bearer "$(cat "$tokens/bob.jwt")" "$url_bearer" -u alice:
expect "OAUTHBEARER: admin bob's token logs in as alice (the proxy policy allows it)" 0 "$logged_in"
expect_syslog "OAUTHBEARER: imapd logs the login as alice" 'login: .* alice OAUTHBEARER User logged in'

run python3 "$here/imaplib_login.py" OAUTHBEARER "$p_bearer" alice "$tokens/rs256.jwt"
expect "OAUTHBEARER: imaplib logs in (a=alice, no host/port keys)" 0 '^result: OK'

# ---------------------------------------------------------------- XOAUTH2

run python3 "$here/imaplib_login.py" XOAUTH2 "$p_xoauth2" alice "$tokens/rs256.jwt"
expect "XOAUTH2: imaplib logs in as alice with a valid token" 0 '^result: OK'
expect_syslog "XOAUTH2: imapd logs alice's login" 'login: .* alice XOAUTH2 User logged in'

run python3 "$here/imaplib_login.py" XOAUTH2 "$p_xoauth2" alice "$tokens/expired.jwt"
expect "XOAUTH2: imaplib is refused with an expired token" 1 \
    '^refused: ' '!^result: OK' '# challenge: .*"status": *"401"'
expect_syslog "XOAUTH2: the server log gives the plugin's reason (expired)" \
    'e2e-XOAUTH2/imap.*sasl-oauth: .*expired'

run curl_imap --oauth2-bearer "$(cat "$tokens/rs256.jwt")" "$url_xoauth2" -u alice:
expect "XOAUTH2: curl logs in (it sends XOAUTH2 when OAUTHBEARER is not offered)" 0 \
    '^> A[0-9]+ AUTHENTICATE XOAUTH2 ' "$logged_in"

# curl does not answer XOAUTH2's error challenge: it closes the connection, so
# no NO arrives; the challenge itself is the server's refusal.
run curl_imap --oauth2-bearer "$(cat "$tokens/expired.jwt")" "$url_xoauth2" -u alice:
expect "XOAUTH2: curl is refused with an expired token (exit 67, error challenge status 401)" 67 \
    '^> A[0-9]+ AUTHENTICATE XOAUTH2 ' '# challenge: .*"status": *"401"' "!$logged_in"

e2e_finish
