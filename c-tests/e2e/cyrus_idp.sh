#!/usr/bin/env bash
# Cyrus imapd with the plugin validating against a real identity provider
# (tests/idp/server.mjs, npm oidc-provider, on 127.0.0.1): keys from the
# issuer's discovery document, opaque tokens by the discovered introspection
# endpoint as resource-server, result cache off (oauth_cache_ttl 0):
#   - curl --oauth2-bearer with the provider's JWTs (RS256, ES256, EdDSA) and
#     with an opaque token logs in as alice (OAUTHBEARER), and with XOAUTH2 on
#     an instance offering only XOAUTH2;
#   - a revoked opaque token, a wrong-audience JWT, an opaque token for
#     another audience are refused, the log giving the reason;
#   - the introspection endpoint hanging: the login is refused after about
#     oauth_timeout, as a temporary failure;
#   - the provider stopped: a fresh opaque token (warm instance) and a fresh JWT
#     (an instance that never fetched the keys) are refused at once, the log
#     says temporary/unreachable, and imapd still serves (no crash).
#
# Usage: cyrus_idp.sh PLUGIN_DIR      (from `make plugin idp`)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=idp_lib.sh
. "$here/idp_lib.sh"

TIMEOUT_MS=2000

idp_script_start "$@"
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
    "# no result cache: a revocation takes effect at once"
    "sasl_oauth_cache_ttl: 0"
    "sasl_oauth_timeout: $TIMEOUT_MS"
)
# IDP: the instance most checks use. XOAUTH2: offers only XOAUTH2 (curl prefers
# OAUTHBEARER whenever it is offered). COLD: used only once the provider is
# gone, so its imapd has never fetched discovery or keys.
cyrus_new IDP
cyrus_conf IDP "sasl_mech_list: OAUTHBEARER XOAUTH2" "${oauth_lines[@]}"
cyrus_start IDP "$plugins"
cyrus_new XOAUTH2
cyrus_conf XOAUTH2 "sasl_mech_list: XOAUTH2" "${oauth_lines[@]}"
cyrus_start XOAUTH2 "$plugins"
cyrus_new COLD
cyrus_conf COLD "sasl_mech_list: OAUTHBEARER" "${oauth_lines[@]}"
cyrus_start COLD "$plugins"

url="imap://127.0.0.1:$(cyrus_port IDP)/"
url_x="imap://127.0.0.1:$(cyrus_port XOAUTH2)/"
url_cold="imap://127.0.0.1:$(cyrus_port COLD)/"
logged_in='^< A[0-9]+ OK \[CAPABILITY'
refused='^< A[0-9]+ NO '

# ---------------------------------------------------------------- logins

for kind in jwt jwt-es256 jwt-eddsa; do
    tok "$kind"
    run curl_imap --oauth2-bearer "$TOKEN" "$url" -u alice:
    expect "OAUTHBEARER: curl logs in with the provider's $kind token (keys from discovery)" 0 \
        '^> A[0-9]+ AUTHENTICATE OAUTHBEARER ' "$logged_in"
done
expect_syslog "imapd logs alice's OAUTHBEARER login" 'login: .* alice OAUTHBEARER User logged in'

tok opaque
opaque=$TOKEN
run curl_imap --oauth2-bearer "$opaque" "$url" -u alice:
expect "OAUTHBEARER: curl logs in with an opaque token (introspection)" 0 "$logged_in"

tok jwt
run curl_imap --oauth2-bearer "$TOKEN" "$url_x" -u alice:
expect "XOAUTH2: curl logs in with the provider's JWT" 0 '^> A[0-9]+ AUTHENTICATE XOAUTH2 ' "$logged_in"
tok opaque
run curl_imap --oauth2-bearer "$TOKEN" "$url_x" -u alice:
expect "XOAUTH2: curl logs in with an opaque token" 0 "$logged_in"

# ---------------------------------------------------------------- refusals

# Cache off: the token accepted above is introspected again after revocation.
idp_revoke "$opaque"
run idp_active "$opaque"
expect "the provider says the revoked token is no longer active" 0 '^false$'
run curl_imap --oauth2-bearer "$opaque" "$url" -u alice:
expect "OAUTHBEARER: the revoked opaque token is refused (cache off)" 67 \
    "$refused" "!$logged_in" '# challenge: .*"status": *"invalid_token"'
expect_syslog "the log says the revoked token is not active" \
    'e2e-IDP/imap.*sasl-oauth: .*not active'

tok jwt-other
run curl_imap --oauth2-bearer "$TOKEN" "$url" -u alice:
expect "OAUTHBEARER: a JWT for another audience is refused" 67 \
    "$refused" "!$logged_in" '# challenge: .*"status": *"invalid_token"'
expect_syslog "the log says why (audience)" 'e2e-IDP/imap.*sasl-oauth: .*audience'

tok opaque-other
run curl_imap --oauth2-bearer "$TOKEN" "$url" -u alice:
expect "OAUTHBEARER: an opaque token for another audience is refused" 67 "$refused" "!$logged_in"
expect_syslog "the log says why (audience, from introspection)" 'e2e-IDP/imap.*sasl-oauth: .*audience'

tok jwt --scope ''
run curl_imap --oauth2-bearer "$TOKEN" "$url" -u alice:
expect "OAUTHBEARER: a JWT without the scope mail is refused" 67 \
    "$refused" "!$logged_in" '# challenge: .*"status": *"insufficient_scope"'

# ---------------------------------------------------------------- outages

# ms_since START_NS: milliseconds elapsed.
now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }

tok opaque
fresh=$TOKEN
idp_mode hang /token/introspection
t0=$(now_ns)
run curl_imap --oauth2-bearer "$fresh" "$url" -u alice:
ms=$(ms_since "$t0")
idp_mode normal
# A temporary failure (SASL_TRYAGAIN) ends the exchange at once: no error
# challenge as for a bad token, and imapd's NO names libsasl2's text for it.
transient='^< A[0-9]+ NO transient failure'
expect "introspection endpoint hanging: the login is refused (NO transient failure, no error challenge)" 67 \
    "$transient" "!$logged_in" '!# challenge:'
if [ "$ms" -ge "$((TIMEOUT_MS - 200))" ] && [ "$ms" -le "$((TIMEOUT_MS + 2000))" ]; then
    ok "introspection endpoint hanging: refused after about oauth_timeout ($ms ms, timeout $TIMEOUT_MS ms)"
else
    not_ok "introspection endpoint hanging: refused after about oauth_timeout" \
        "took $ms ms, timeout $TIMEOUT_MS ms" "$RUN_LOG"
fi
expect_syslog "the log says temporary failure, provider unreachable" \
    'e2e-IDP/imap.*sasl-oauth: .*(temporary|unreachable)'
run curl_imap --oauth2-bearer "$fresh" "$url" -u alice:
expect "the provider back: the same token logs in (the failure was not kept)" 0 "$logged_in"

# The provider stops: connection refused from now on.
tok opaque
fresh_opaque=$TOKEN
tok jwt
fresh_jwt=$TOKEN
idp_stop
ok "the identity provider is stopped"

t0=$(now_ns)
run curl_imap --oauth2-bearer "$fresh_opaque" "$url" -u alice:
ms=$(ms_since "$t0")
expect "provider stopped: a fresh opaque token is refused (NO transient failure, no error challenge)" 67 \
    "$transient" "!$logged_in" '!# challenge:'
if [ "$ms" -le "$((TIMEOUT_MS + 1000))" ]; then
    ok "provider stopped: the refusal came within the timeout ($ms ms)"
else
    not_ok "provider stopped: the refusal came within the timeout" "took $ms ms" "$RUN_LOG"
fi
expect_syslog "provider stopped: the log says temporary failure" 'e2e-IDP/imap.*sasl-oauth: .*temporary'
expect_syslog "provider stopped: the log says the provider is unreachable" \
    'e2e-IDP/imap.*sasl-oauth: .*unreachable'

t0=$(now_ns)
run curl_imap --oauth2-bearer "$fresh_jwt" "$url_cold" -u alice:
ms=$(ms_since "$t0")
expect "provider stopped, keys never fetched: a fresh JWT is refused (NO transient failure, no error challenge)" 67 \
    "$transient" "!$logged_in" '!# challenge:'
if [ "$ms" -le "$((TIMEOUT_MS + 1000))" ]; then
    ok "provider stopped, keys never fetched: refused within the timeout ($ms ms)"
else
    not_ok "provider stopped, keys never fetched: refused within the timeout" "took $ms ms" "$RUN_LOG"
fi
expect_syslog "provider stopped, keys never fetched: the log says unreachable (discovery)" \
    'e2e-COLD/imap.*sasl-oauth: .*unreachable'

# Not a crash: both instances still greet, and no imapd died of a signal.
for name in IDP COLD; do
    run imap_greeting "$(cyrus_port "$name")"
    expect "$name: imapd still answers after the outage" 0 '^\* OK'
done
assert_no_crash_in_syslog imapd

finish
