#!/usr/bin/env bash
# End-to-end tests of the `sasl-oauth` command line tool
# against the test identity provider (tests/idp, npm oidc-provider) on 127.0.0.1:
#   1. the device flow end to end (approved through the provider's own device
#      pages over HTTP), then `token show`, `token show --json`, `token refresh`,
#      and --force;
#   2. the authorization code flow with PKCE on a loopback redirect (--browser):
#      this script plays the browser with curl; a wrong state is answered with
#      an error page and waited past, a refusal at the provider ends the flow;
#   3. the client credentials grant;
#   4. a denied and an expired device code;
#   5. `doctor` with the plugin present and missing, and with a bad configuration;
#   6. `--help` on every subcommand, and unknown options.
#
# Usage: tool.sh [PLUGIN_DIR] [FIXTURES]   (default build/plugin build/fixtures,
#        from `make plugin fixtures idp` and `cargo build --bins`)
# Environment: SASL_OAUTH_BIN (default target/debug/sasl-oauth), E2E_KEEP=1
# keeps the private directory.
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed";
# exit status 0 only when every check passed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=tool_lib.sh
. "$here/tool_lib.sh"

e2e_start 0 2 "[PLUGIN_DIR] [FIXTURES]" "$@"
plugin_dir=${1:-$root/build/plugin}
fixtures=${2:-$root/build/fixtures}
BIN=${SASL_OAUTH_BIN:-$root/target/debug/sasl-oauth}
IDP_DIR=$root/tests/idp
tool_require || e2e_finish

# The tool reads no system client configuration: `token refresh` loads
# $SASL_OAUTH_CONF, a private file here naming the client mechanisms.
echo "$E2E_CLIENT_MECHS" > "$E2E_TMP/client.conf"
export SASL_OAUTH_CONF=$E2E_TMP/client.conf
unset SASL_PATH
files=$E2E_TMP/tokens
mkdir -p "$files"

tool_idp_start || { not_ok "the test identity provider starts" "see its stderr above"; e2e_finish; }
ok "the test identity provider runs at $ISSUER"

USER_SCOPE="openid offline_access mail"
RESOURCE=urn:sasl-oauth:imap

# device_init NAME FILE: `token init` by the device grant (public client) in
# the background, writing FILE; CODE is the user code it printed ('' if none).
device_init() {
    bg_start "$1" "$BIN" token init --provider "$ISSUER" --client-id sasl-oauth-public \
        --resource "$RESOURCE" --scope "$USER_SCOPE" --output "$2"
    CODE=""
    if wait_line "$1" '^user_code: ' 15; then
        CODE=$(sed -n 's/^user_code: *//p' "$BG_OUT" | head -n1)
    fi
}

# browser_init NAME FILE SECONDS: `token init --browser` in the background,
# waiting SECONDS for the redirect; URL is the authorization URL it printed.
browser_init() {
    bg_start "$1" "$BIN" token init --browser --provider "$ISSUER" --client-id sasl-oauth-public \
        --resource "$RESOURCE" --scope "$USER_SCOPE" --output "$2" --wait "$3"
    URL=""
    if wait_line "$1" 'listening for the answer on ' 15; then
        URL=$(grep -m1 -E "^$ISSUER/auth\?" "$BG_OUT" || true)
    fi
}

# ==================================================================== 1. device flow
echo "# 1. device authorization grant, public client"
dev=$files/device.json
device_init device "$dev"
code=$CODE
why=""
[ -n "$code" ] || why+="; no 'user_code: CODE' line on stdout"
grep -q "open $ISSUER/device and enter the code $code" "$BG_OUT" || why+="; stdout does not name the verification URI $ISSUER/device with the code"
grep -qF "$ISSUER/device?user_code=$code" "$BG_OUT" || why+="; stdout lacks the complete URI"
verdict "token init (device) prints the verification URI, the complete URI and the user code" "$why" "$BG_LOG"

approve_log=$E2E_TMP/out/device-approve.log
if [ -n "$code" ] && "$IDP_DIR/get-token.sh" "$ISSUER" device-approve "$code" alice > "$approve_log" 2>&1; then
    ok "the user code is approved through the provider's device pages (as alice)"
else
    not_ok "the user code is approved through the provider's device pages (as alice)" "get-token.sh device-approve failed" "$approve_log"
fi
bg_wait device 40
why=""
[ "$BG_RC" -eq 0 ] || why+="; exit status $BG_RC"
[ -f "$dev" ] || why+="; $dev was not written"
grep -q "^wrote $dev" "$BG_OUT" || why+="; no 'wrote $dev' line"
verdict "token init (device) completes after the approval and writes the file" "$why" "$BG_LOG"

if [ -f "$dev" ]; then
    why=""
    mode=$(file_mode "$dev")
    [ "$mode" = 600 ] || why+="; mode $mode, expected 600"
    verdict "the token file has mode 0600" "$why"

    why=$(json_check "$dev" '
need = ["access_token", "refresh_token", "expires_at", "token_endpoint", "client_id", "grant"]
for k in need:
    if not d.get(k): bad("no " + k)
if d.get("grant") != "refresh_token": bad("grant is %r" % d.get("grant"))
if d.get("client_id") != "sasl-oauth-public": bad("client_id is %r" % d.get("client_id"))
if d.get("token_endpoint") != issuer + "/token": bad("token_endpoint is %r" % d.get("token_endpoint"))
exp = d.get("expires_at")
if not isinstance(exp, int) or not now + 200 < exp <= now + 310: bad("expires_at %r is not about now + 300 s" % exp)
if "client_secret" in d and d["client_secret"]: bad("a public client has a client_secret")
c = claims(d.get("access_token", ""))
if c.get("sub") != "alice": bad("the access token is not for alice: sub %r" % c.get("sub"))
if c.get("aud") != "urn:sasl-oauth:imap": bad("aud %r" % c.get("aud"))
if "mail" not in (c.get("scope") or "").split(): bad("scope %r lacks mail" % c.get("scope"))
')
    verdict "the file has access_token, refresh_token, expires_at, token_endpoint, client_id, grant refresh_token (alice's token)" "$why" "$dev"

    [ -z "$(stray_files "$files")" ] && ok "no temporary file is left beside the token file" ||
        not_ok "no temporary file is left beside the token file" "found: $(stray_files "$files")"

    # ---- token show
    t_run 10 "$BIN" token show "$dev"
    at=$(json_get "$dev" access_token)
    rt=$(json_get "$dev" refresh_token)
    exp=$(json_get "$dev" expires_at)
    when=$(python3 -c 'import datetime,sys; print(datetime.datetime.fromtimestamp(int(sys.argv[1]), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))' "$exp")
    why=$(t_status_is 0)
    grep -qF "$when" "$T_OUT" || why+="; the expiry '$when' (expires_at $exp) is not shown"
    grep -qE 'in [0-9]+ (s|min)' "$T_OUT" || why+="; no relative expiry ('in N min')"
    grep -qE '0600' "$T_OUT" || why+="; the mode 0600 is not shown"
    grep -qF "sasl-oauth-public" "$T_OUT" || why+="; the client id is not shown"
    verdict "token show prints the expiry ($when), the mode and the client" "$why" "$T_LOG"
    why=""
    ! grep -qF "$at" "$T_OUT" "$T_ERR" || why+="; the full access token is printed"
    ! grep -qF "$rt" "$T_OUT" "$T_ERR" || why+="; the full refresh token is printed"
    # nor a large part of them: at most a short prefix
    ! grep -qF "${at:0:40}" "$T_OUT" || why+="; 40 characters of the access token are printed"
    ! grep -qF "${rt:0:20}" "$T_OUT" || why+="; 20 characters of the refresh token are printed"
    grep -qF "${at:0:6}" "$T_OUT" || why+="; not even the access token's first characters (to recognise it)"
    verdict "token show never prints the tokens in full" "$why" "$T_LOG"

    t_run 10 "$BIN" token show --json "$dev"
    why=$(t_status_is 0)
    why+=$(python3 - "$T_OUT" "$exp" "$at" "$rt" <<'EOF'
import json, sys
out, exp, at, rt = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
text = open(out).read()
try:
    j = json.loads(text)
except Exception as e:
    print("; stdout is not JSON: %s" % e); sys.exit()
if j.get("expires_at") != exp: print("; expires_at %r, the file has %r" % (j.get("expires_at"), exp))
if j.get("expired") is not False: print("; expired is %r" % j.get("expired"))
if j.get("grant") != "refresh_token": print("; grant %r" % j.get("grant"))
if j.get("mode") != "0600": print("; mode %r" % j.get("mode"))
if at in text or rt in text: print("; a full token is in the JSON")
EOF
)
    verdict "token show --json parses and matches the file, tokens shortened" "$why" "$T_LOG"

    # ---- token refresh
    sum_before=$(sha256sum < "$dev")
    t_run 20 "$BIN" token refresh "$dev"
    why=$(t_status_is 0)
    at2=$(json_get "$dev" access_token)
    rt2=$(json_get "$dev" refresh_token)
    exp2=$(json_get "$dev" expires_at)
    [ "$at2" != "$at" ] || why+="; the access token did not change"
    [ -n "$rt2" ] || why+="; the refresh token is gone"
    # the public client's refresh tokens rotate on every use: the new one must be saved
    [ "$rt2" != "$rt" ] || why+="; the rotated refresh token was not saved"
    [ "$exp2" -ge "$exp" ] 2>/dev/null || why+="; expires_at went from $exp to $exp2"
    mode=$(file_mode "$dev")
    [ "$mode" = 600 ] || why+="; mode is now $mode"
    ! grep -qF "$at2" "$T_OUT" "$T_ERR" || why+="; the new access token is printed"
    [ "$(sha256sum < "$dev")" != "$sum_before" ] || why+="; the file is unchanged"
    verdict "token refresh replaces the access token (and the rotated refresh token), mode stays 0600" "$why" "$T_LOG"
    [ -z "$(stray_files "$files")" ] && ok "no temporary file is left after the refresh" ||
        not_ok "no temporary file is left after the refresh" "found: $(stray_files "$files")"
    why=$(json_check "$dev" '
c = claims(d.get("access_token", ""))
if c.get("sub") != "alice": bad("sub %r" % c.get("sub"))
if c.get("aud") != "urn:sasl-oauth:imap": bad("aud %r (the refresh lost the resource)" % c.get("aud"))
')
    verdict "the refreshed access token is still alice's, for urn:sasl-oauth:imap" "$why" "$dev"

    # a second refresh with the rotated refresh token works too (the old one is not reused)
    t_run 20 "$BIN" token refresh "$dev"
    why=$(t_status_is 0)
    [ "$(json_get "$dev" access_token)" != "$at2" ] || why+="; the access token did not change"
    verdict "a second token refresh works with the saved refresh token" "$why" "$T_LOG"

    # ---- --force
    sum_before=$(sha256sum < "$dev")
    t_run 10 "$BIN" token init --provider "$ISSUER" --client-id sasl-oauth-public \
        --resource "$RESOURCE" --scope "$USER_SCOPE" --output "$dev"
    why=""
    [ "$T_RC" -ne 0 ] || why+="; exit status 0"
    grep -qi 'force' "$T_ERR" || why+="; stderr does not mention --force"
    [ "$(sha256sum < "$dev")" = "$sum_before" ] || why+="; the file changed"
    grep -q user_code "$T_OUT" && why+="; it started a device flow anyway"
    verdict "token init refuses to overwrite an existing file without --force (file unchanged)" "$why" "$T_LOG"

    t_run 20 "$BIN" token init --provider "$ISSUER" --client-id sasl-oauth-test \
        --client-secret test-secret --client-credentials --resource "$RESOURCE" --scope mail \
        --output "$dev" --force
    why=$(t_status_is 0)
    [ "$(json_get "$dev" grant)" = client_credentials ] || why+="; the file was not replaced (grant $(json_get "$dev" grant))"
    [ "$(json_get "$dev" client_id)" = sasl-oauth-test ] || why+="; client_id $(json_get "$dev" client_id)"
    mode=$(file_mode "$dev")
    [ "$mode" = 600 ] || why+="; mode $mode"
    verdict "token init --force overwrites the file (mode 0600)" "$why" "$T_LOG"

    # The issue: "the written file is ... mode 0600". Replacing a file that
    # happens to be world-readable must not leave the new secrets readable.
    loose=$files/loose.json
    echo '{}' > "$loose"
    chmod 0644 "$loose"
    t_run 20 "$BIN" token init --provider "$ISSUER" --client-id sasl-oauth-test \
        --client-secret test-secret --client-credentials --resource "$RESOURCE" --scope mail \
        --output "$loose" --force
    why=$(t_status_is 0)
    [ "$(json_get "$loose" grant)" = client_credentials ] || why+="; the file was not replaced"
    mode=$(file_mode "$loose")
    [ "$mode" = 600 ] || why+="; mode $mode: the replaced file's mode 0644 was kept, the client secret and tokens are world-readable"
    verdict "token init --force over a 0644 file writes it with mode 0600" "$why" "$T_LOG"
    rm -f "$loose" "$loose.lock"
fi

# ==================================================================== 2. code + PKCE
echo "# 2. authorization code with PKCE on a loopback redirect (--browser)"
br=$files/browser.json
browser_init browser "$br" 40
url=$URL
why=$(python3 - "$url" "$ISSUER" <<'EOF'
import re, sys, urllib.parse as u
url, issuer = sys.argv[1], sys.argv[2]
if not url:
    print("; no authorization URL on stdout"); sys.exit()
s = u.urlsplit(url)
q = dict(u.parse_qsl(s.query))
def bad(m): print("; " + m)
if "%s://%s%s" % (s.scheme, s.netloc, s.path) != issuer + "/auth": bad("not the discovered authorization endpoint")
if q.get("response_type") != "code": bad("response_type %r" % q.get("response_type"))
if q.get("client_id") != "sasl-oauth-public": bad("client_id %r" % q.get("client_id"))
if q.get("code_challenge_method") != "S256": bad("code_challenge_method %r" % q.get("code_challenge_method"))
if not re.fullmatch(r"[A-Za-z0-9_-]{43}", q.get("code_challenge", "")): bad("code_challenge %r is not a base64url SHA-256" % q.get("code_challenge"))
if len(q.get("state", "")) < 16: bad("state %r is missing or short" % q.get("state"))
if not re.fullmatch(r"http://127\.0\.0\.1:[0-9]+/callback", q.get("redirect_uri", "")): bad("redirect_uri %r is not a 127.0.0.1 loopback" % q.get("redirect_uri"))
if set(q.get("scope", "").split()) != {"openid", "offline_access", "mail"}: bad("scope %r" % q.get("scope"))
if q.get("resource") != "urn:sasl-oauth:imap": bad("resource %r" % q.get("resource"))
if "code_verifier" in q: bad("the verifier is in the URL")
EOF
)
verdict "token init --browser prints an authorization URL with PKCE S256, state and a loopback redirect" "$why" "$BG_LOG"
redirect=$(url_param "$url" redirect_uri)
state=$(url_param "$url" state)
listen=$(sed -n 's/^listening for the answer on //p' "$BG_OUT" | head -n1)
[ -n "$redirect" ] && [ "$listen" = "$redirect" ] && ok "the tool listens on the redirect URI it sent ($listen)" ||
    not_ok "the tool listens on the redirect URI it sent" "redirect_uri '$redirect', listening on '$listen'" "$BG_LOG"

# A browser asks for other things too (favicon): answered 404, the tool keeps waiting.
if [ -n "$redirect" ]; then
    st=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "${redirect%/callback}/favicon.ico" || echo 000)
    [ "$st" = 404 ] && is_running "$BG_PID" && ok "another path on the listener gets 404 and the tool keeps waiting" ||
        not_ok "another path on the listener gets 404 and the tool keeps waiting" "HTTP $st; tool running: $(is_running "$BG_PID" && echo yes || echo no)" "$BG_LOG"
fi

final=""
if [ -n "$url" ]; then
    final=$(browse "$url" alice) || final=""
fi
why=""
case $final in
    "$redirect"\?*) ;;
    *) why+="; the provider's last redirect '$final' does not go to $redirect" ;;
esac
[ -n "$(url_param "$final" code)" ] || why+="; no code in it"
[ "$(url_param "$final" state)" = "$state" ] || why+="; its state is not the tool's"
verdict "the provider's login (alice) and consent pages redirect to the loopback with code and state" "$why" "$E2E_TMP/out/browse.log"
page=$E2E_TMP/out/callback-page.html
st=$(curl -sS --max-time 10 -o "$page" -w '%{http_code}' "$final" 2>>"$page" || echo 000)
bg_wait browser 30
why=""
[ "$st" = 200 ] || why+="; the callback answered HTTP $st"
grep -qi 'signed in' "$page" || why+="; the page does not say signed in"
[ "$BG_RC" -eq 0 ] || why+="; exit status $BG_RC"
[ -f "$br" ] || why+="; $br was not written"
verdict "the callback reaches the tool, which exchanges the code (with its verifier) and writes the file" "$why" "$BG_LOG"
if [ -f "$br" ]; then
    why=$(json_check "$br" '
for k in ["access_token", "refresh_token", "expires_at", "token_endpoint", "client_id"]:
    if not d.get(k): bad("no " + k)
if d.get("grant") != "refresh_token": bad("grant %r" % d.get("grant"))
c = claims(d.get("access_token", ""))
if c.get("sub") != "alice": bad("sub %r" % c.get("sub"))
if c.get("aud") != "urn:sasl-oauth:imap": bad("aud %r" % c.get("aud"))
')
    mode=$(file_mode "$br")
    [ "$mode" = 600 ] || why+="; mode $mode"
    verdict "the browser-flow file has alice's token, a refresh token, grant refresh_token, mode 0600" "$why" "$br"
fi

# Nobody comes back from the browser: the tool gives up after --wait.
t_run 20 "$BIN" token init --browser --provider "$ISSUER" --client-id sasl-oauth-public \
    --resource "$RESOURCE" --scope "$USER_SCOPE" --output "$files/nobody.json" --wait 2
why=""
[ "$T_RC" -ne 0 ] || why+="; exit status 0"
grep -qi 'no answer from the browser' "$T_ERR" || why+="; stderr does not say no answer came"
[ ! -e "$files/nobody.json" ] || why+="; a file was written"
verdict "token init --browser --wait 2 without a callback gives up: non-zero exit, no file" "$why" "$T_LOG"

# A callback whose state is not the tool's is refused with an error page; it
# does not end the sign-in (any local process could send one): the tool keeps
# waiting until --wait runs out.
bad=$files/badstate.json
browser_init badstate "$bad" 6
url=$URL
redirect=$(url_param "$url" redirect_uri)
page=$E2E_TMP/out/badstate-page.html
st=000
if [ -n "$redirect" ]; then
    st=$(curl -sS --max-time 10 -o "$page" -w '%{http_code}' "$redirect?code=forged-code&state=not-the-state" 2>>"$page" || echo 000)
fi
running=no
is_running "$BG_PID" && running=yes
bg_wait badstate 20
why=""
[ "$running" = yes ] || why+="; the wrong state ended the sign-in"
[ "$st" = 400 ] || why+="; the callback answered HTTP $st, not 400"
[ "$BG_RC" -ne 0 ] || why+="; exit status 0"
grep -qi 'state' "$BG_ERR" || why+="; stderr does not mention the state"
[ ! -e "$bad" ] || why+="; $bad was written"
grep -qi 'nothing was saved\|did not match' "$page" 2>/dev/null || why+="; the browser page (HTTP $st) does not say so"
verdict "a callback with a wrong state gets an error page, the tool keeps waiting, then gives up: no file" "$why" "$BG_LOG"

# The user refuses at the provider: the redirect carries error=access_denied.
deny=$files/browser-denied.json
browser_init browserdeny "$deny" 30
url=$URL
final=""
[ -z "$url" ] || final=$(browse "$url" alice deny) || final=""
[ -z "$final" ] || curl -sS --max-time 10 -o /dev/null "$final" 2>/dev/null || true
bg_wait browserdeny 20
why=""
[ "$(url_param "$final" error)" = access_denied ] || why+="; the provider's redirect '$final' has no error=access_denied"
[ "$BG_RC" -ne 0 ] || why+="; exit status 0"
grep -qi 'refused\|denied' "$BG_ERR" || why+="; stderr does not say the sign-in was refused"
[ ! -e "$deny" ] || why+="; $deny was written"
verdict "a sign-in refused at the provider (error=access_denied): non-zero exit, no file" "$why" "$BG_LOG"

# ==================================================================== 3. client credentials
echo "# 3. client credentials grant, confidential client"
cc=$files/cc.json
t_run 20 "$BIN" token init --provider "$ISSUER" --client-id sasl-oauth-test --client-secret test-secret \
    --client-credentials --resource "$RESOURCE" --scope mail --output "$cc"
why=$(t_status_is 0)
[ -f "$cc" ] || why+="; $cc was not written"
verdict "token init --client-credentials writes the file" "$why" "$T_LOG"
if [ -f "$cc" ]; then
    why=$(json_check "$cc" '
for k in ["access_token", "expires_at", "token_endpoint", "client_id", "client_secret"]:
    if not d.get(k): bad("no " + k)
if d.get("grant") != "client_credentials": bad("grant %r" % d.get("grant"))
if d.get("client_id") != "sasl-oauth-test": bad("client_id %r" % d.get("client_id"))
if d.get("client_secret") != "test-secret": bad("the client secret is not kept for the next client_credentials grant")
c = claims(d.get("access_token", ""))
if c.get("sub") != "sasl-oauth-test" or c.get("aud") != "urn:sasl-oauth:imap": bad("claims sub %r aud %r" % (c.get("sub"), c.get("aud")))
if c.get("scope") != "mail": bad("scope %r" % c.get("scope"))
')
    mode=$(file_mode "$cc")
    [ "$mode" = 600 ] || why+="; mode $mode"
    verdict "the file has grant client_credentials, the client's JWT (scope mail), mode 0600" "$why" "$cc"

    t_run 10 "$BIN" token show "$cc"
    why=$(t_status_is 0)
    ! grep -qF test-secret "$T_OUT" "$T_ERR" || why+="; the client secret is printed"
    ! grep -qF "$(json_get "$cc" access_token)" "$T_OUT" "$T_ERR" || why+="; the access token is printed"
    grep -q client_credentials "$T_OUT" || why+="; the grant is not shown"
    verdict "token show of a client-credentials file hides the client secret" "$why" "$T_LOG"

    at=$(json_get "$cc" access_token)
    t_run 20 "$BIN" token refresh "$cc"
    why=$(t_status_is 0)
    [ "$(json_get "$cc" access_token)" != "$at" ] || why+="; the access token did not change"
    [ "$(file_mode "$cc")" = 600 ] || why+="; mode $(file_mode "$cc")"
    verdict "token refresh of a client-credentials file gets a new token" "$why" "$T_LOG"
fi

t_run 20 "$BIN" token init --provider "$ISSUER" --client-id sasl-oauth-test --client-secret wrong-secret \
    --client-credentials --resource "$RESOURCE" --scope mail --output "$files/cc-bad.json"
why=""
[ "$T_RC" -ne 0 ] || why+="; exit status 0"
[ ! -e "$files/cc-bad.json" ] || why+="; a file was written"
grep -qi 'invalid_client\|401\|refused\|client' "$T_ERR" || why+="; stderr does not give the provider's reason"
! grep -qF wrong-secret "$T_OUT" "$T_ERR" || why+="; the secret is printed"
verdict "client credentials with a wrong secret: non-zero exit with the reason, no file, secret not printed" "$why" "$T_LOG"

# ==================================================================== 4. denied / expired
echo "# 4. a denied and an expired device code"
dd=$files/denied.json
device_init denied "$dd"
code=$CODE
deny_log=$E2E_TMP/out/device-deny.log
[ -n "$code" ] && "$IDP_DIR/get-token.sh" "$ISSUER" device-approve "$code" alice --deny > "$deny_log" 2>&1 || true
bg_wait denied 30
why=""
grep -q '^denied' "$deny_log" 2>/dev/null || why+="; the device page did not take the denial"
[ "$BG_RC" -ne 0 ] || why+="; exit status 0"
grep -qi 'denied' "$BG_ERR" || why+="; stderr does not say the sign-in was denied"
[ ! -e "$dd" ] || why+="; $dd was written"
verdict "a denied device code: non-zero exit, a message about denial, no file" "$why" "$BG_LOG"

ed=$files/expired.json
ttl_log=$E2E_TMP/out/ttl.log
curl -sS -f -X POST "$ISSUER/admin/ttl?device=3" > "$ttl_log" 2>&1 ||
    not_ok "the provider's device code lifetime is set to 3 s" "admin/ttl failed" "$ttl_log"
bg_start expired "$BIN" token init --provider "$ISSUER" --client-id sasl-oauth-public \
    --resource "$RESOURCE" --scope "$USER_SCOPE" --output "$ed"
bg_wait expired 30
curl -sS -f -X POST "$ISSUER/admin/ttl?device=600" >> "$ttl_log" 2>&1 || true
why=""
grep -q '^user_code: ' "$BG_OUT" || why+="; no user code was printed"
[ "$BG_RC" -ne 0 ] || why+="; exit status 0"
grep -qi 'expired' "$BG_ERR" || why+="; stderr does not say the code expired"
[ ! -e "$ed" ] || why+="; $ed was written"
verdict "an expired device code (3 s lifetime, never approved): non-zero exit, a message about expiry, no file" "$why" "$BG_LOG"
[ -z "$(stray_files "$files")" ] && ok "no temporary files are left by the failed flows" ||
    not_ok "no temporary files are left by the failed flows" "found: $(stray_files "$files")"

# ==================================================================== 5. doctor
echo "# 5. doctor"
if [ -f "$plugin_dir/libsasloauth.so" ] && [ -f "$fixtures/server.conf" ]; then
    plugins=$(plugin_copy "$plugin_dir")
    doctor_case "doctor: plugin present, fixtures configuration" 0 \
        --plugin-dir "$plugins" --config "$fixtures/server.conf" -- \
        'libsasloauth\.so is there' 'ok +loads through libsasl2.*OAUTHBEARER' \
        'OAUTHBEARER: offered' 'libsasl2 offers .*OAUTHBEARER' 'all checks passed' '!FAIL'

    mkdir -p "$E2E_TMP/no-plugin"
    doctor_case "doctor: an empty plugin directory" 1 \
        --plugin-dir "$E2E_TMP/no-plugin" --config "$fixtures/server.conf" -- \
        "FAIL +plugin file.*$E2E_TMP/no-plugin/libsasloauth\.so is missing" '!loads through libsasl2' \
        'some checks failed'

    grep -v '^oauth_audience' "$fixtures/server.conf" > "$E2E_TMP/no-audience.conf"
    doctor_case "doctor: a configuration without oauth_audience" 1 \
        --plugin-dir "$plugins" --config "$E2E_TMP/no-audience.conf" -- \
        'FAIL +configuration.*oauth_audience' 'some checks failed'

    # Without --plugin-dir: SASL_PATH is where libsasl2 looks (uid == euid here).
    t_run 30 env SASL_PATH="$plugins" "$BIN" doctor --config "$fixtures/server.conf"
    why=$(t_status_is 0)
    grep -Eq "plugin directory +$plugins \(from SASL_PATH" "$T_OUT" || why+="; SASL_PATH is not the plugin directory"
    grep -Eq 'ok +loads through libsasl2' "$T_OUT" || why+="; the plugin does not load from SASL_PATH"
    verdict "doctor: SASL_PATH names the plugin directory when --plugin-dir is not given" "$why" "$T_LOG"

    # Against the running provider: discovery and the key set are fetched.
    printf '%s\n' "oauth_issuer: $ISSUER" "oauth_audience: urn:sasl-oauth:imap" \
        "oauth_required_scope: mail" "mech_list: OAUTHBEARER XOAUTH2" > "$E2E_TMP/idp.conf"
    doctor_case "doctor: the provider's discovery document and key set" 0 \
        --plugin-dir "$plugins" --config "$E2E_TMP/idp.conf" -- \
        "ok +discovery +$ISSUER/\\.well-known/openid-configuration" "ok +signing keys +[1-9][0-9]* usable keys from $ISSUER/jwks" \
        'OAUTH: configured, but not in mech_list' '!FAIL'

    printf '%s\n' "oauth_issuer: http://127.0.0.1:$(free_port)" "oauth_audience: urn:sasl-oauth:imap" \
        > "$E2E_TMP/unreachable.conf"
    doctor_case "doctor: an unreachable issuer (keys from discovery)" 1 \
        --plugin-dir "$plugins" --config "$E2E_TMP/unreachable.conf" -- \
        'FAIL +discovery' 'FAIL +signing keys'

    # `check` with the tokens the tool got: the server side accepts alice's.
    if [ -f "$br" ]; then
        json_get "$br" access_token > "$E2E_TMP/alice.jwt"
        t_run 20 "$BIN" check --config "$E2E_TMP/idp.conf" --token-file "$E2E_TMP/alice.jwt"
        why=$(t_status_is 0)
        grep -q "ACCEPTED.*'alice'" "$T_OUT" || why+="; no ACCEPTED for alice"
        verdict "check accepts the browser flow's token against the provider (identity alice)" "$why" "$T_LOG"
    fi
else
    not_ok "doctor tests can run" "need $plugin_dir/libsasloauth.so and $fixtures/server.conf: run 'make plugin fixtures'"
fi

# ==================================================================== 6. help, options
echo "# 6. --help and unknown options"
for cmd in "token init" "token show" "token refresh" "check" "doctor"; do
    # shellcheck disable=SC2086 # the words of the subcommand
    t_run 10 "$BIN" $cmd --help
    why=$(t_status_is 0)
    grep -qi 'example' "$T_OUT" || why+="; no example on stdout"
    grep -q "usage: sasl-oauth $cmd" "$T_OUT" || why+="; no 'usage: sasl-oauth $cmd' line"
    [ ! -s "$T_ERR" ] || why+="; something on stderr"
    verdict "sasl-oauth $cmd --help exits 0 with an example" "$why" "$T_LOG"
    # shellcheck disable=SC2086
    t_run 10 "$BIN" $cmd --no-such-option
    why=$(t_status_is 2)
    grep -q -- '--no-such-option' "$T_ERR" || why+="; stderr does not name --no-such-option"
    [ ! -s "$T_OUT" ] || why+="; something on stdout"
    verdict "sasl-oauth $cmd --no-such-option exits 2 with the message on stderr" "$why" "$T_LOG"
done
t_run 10 "$BIN" --help
why=$(t_status_is 0)
for cmd in "token init" "token show" "token refresh" check doctor; do
    grep -q "$cmd" "$T_OUT" || why+="; '$cmd' is not listed"
done
verdict "sasl-oauth --help lists every command" "$why" "$T_LOG"
t_run 10 "$BIN" frobnicate
why=$(t_status_is 2)
[ -s "$T_ERR" ] && [ ! -s "$T_OUT" ] || why+="; expected the usage on stderr only"
verdict "an unknown command exits 2 with the usage on stderr" "$why" "$T_LOG"

if [ "$E2E_FAILED" -ne 0 ] && [ -s "$E2E_TMP/idp.err" ]; then
    echo "# == identity provider stderr (last 30 lines)"
    tail -n 30 "$E2E_TMP/idp.err" | sed 's/^/#   /'
fi
e2e_finish
