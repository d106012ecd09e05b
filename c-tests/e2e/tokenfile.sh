#!/usr/bin/env bash
# Client side token files against a real identity provider (tests/idp, npm
# oidc-provider on 127.0.0.1): c-tests/bin/test_tokenfile logs in through
# libsasl2 with a `file:/path/token.json` (or `cmd:…`) secret, our plugin on
# both sides of the exchange in one process, the server validating the
# provider's JWTs by discovery. This script makes the token files and checks
# them (and the provider's request counters) afterwards:
#   - refresh_token grant (public client: its refresh tokens rotate): an expired
#     access token is refreshed, the file rewritten with mode, owner and unknown
#     fields kept, the rotated refresh token saved and usable for the next refresh;
#   - client_credentials grant (client_secret_basic, client_secret_post, and
#     client id/secret/endpoint from the client configuration by provider name);
#   - a revoked refresh token: login fails, errdetail names HTTP 400 and
#     invalid_grant and no secret, the file is unchanged;
#   - 20 processes at once on one expired file: all log in, one /token request;
#   - a crash between the temp file's fsync and the rename (test-hooks build):
#     the old file stays whole, the next run works;
#   - the server refuses the token (invalid_token / 401) although expires_at is
#     in the future: the client step returns SASL_TRYAGAIN after refreshing, the
#     second login succeeds; a token refused right after a refresh is not
#     refreshed again (no loop);
#   - `cmd:` secrets: refused without `allow_cmd: yes`, used with it;
#   - chroot after SASL init: the token file inside the chroot is refreshed
#     there; the client configuration (outside the chroot) was read at init.
#
# Usage: tokenfile.sh PLUGIN_DIR HOOKS_PLUGIN_DIR
#   PLUGIN_DIR        the plain build (build/plugin, `make plugin`)
#   HOOKS_PLUGIN_DIR  the `--features test-hooks` build (build/plugin-hooks):
#       cargo build --lib --features test-hooks --target-dir target/hooks
#       mkdir -p build/plugin-hooks && cp target/hooks/debug/libsasloauth.so build/plugin-hooks/
# Needs node and tests/idp/node_modules (`make idp`); builds c-tests/bin/test_tokenfile.
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ctests=$(cd "$here/.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=idp_lib.sh
. "$here/idp_lib.sh"

e2e_start 2 2 "PLUGIN_DIR HOOKS_PLUGIN_DIR" "$@"
plugin_dir=$(cd "$1" && pwd)
hooks_src=$2
ulimit -c 0 # the crash test aborts on purpose: no core file
json=(python3 "$here/tokenfile_json.py")
prog=$ctests/bin/test_tokenfile

idp_require || e2e_finish
if ! make -s -C "$ctests" tokenfile > "$E2E_TMP/out/build.log" 2>&1; then
    not_ok "test_tokenfile builds" "make -C c-tests tokenfile failed" "$E2E_TMP/out/build.log"
    e2e_finish
fi
plugins=$(plugin_copy "$plugin_dir")
hooks=""
if [ -f "$hooks_src/libsasloauth.so" ]; then
    hooks=$E2E_TMP/plugins-hooks
    mkdir -p "$hooks"
    cp "$hooks_src/libsasloauth.so" "$hooks/"
fi
# Access tokens live an hour (the default 300 s would equal refresh_window:
# every use would refresh).
idp_start --access-ttl 3600 || e2e_finish
issuer=$IDP_ISSUER
endpoint=$issuer/token

# The server side of each login: our plugin, JWTs by discovery.
fx=$E2E_TMP/fx
mkdir -p "$fx"
cat > "$fx/server.conf" <<EOF
oauth_issuer: $issuer
oauth_audience: urn:sasl-oauth:imap
oauth_username_claim: username
oauth_cache_ttl: 0
EOF

# The client configuration (SASL_OAUTH_CONF): a private one, never /etc/sasl2.
conf=$E2E_TMP/client.conf
cat > "$conf" <<EOF
$E2E_CLIENT_MECHS
timeout: 5000
# defaults for token files naming "provider": "idp"
idp_token_endpoint: $endpoint
idp_client_id: sasl-oauth-test
idp_client_secret: test-secret
EOF
conf_cmd=$E2E_TMP/client-cmd.conf
{ cat "$conf"; echo "allow_cmd: yes"; } > "$conf_cmd"

files=$E2E_TMP/tokens
mkdir -p "$files"
chmod 755 "$files"

# tf NAME SECRET [test_tokenfile options]: one run of test_tokenfile; its ok /
# not ok lines count as ours. TF_CONF / TF_PLUGINS / TF_ENV override the
# client configuration, the plugin directory, and add one VAR=value.
tf() {
    local name=$1 line bad=0 seen=0
    shift
    run env "SASL_OAUTH_CONF=${TF_CONF:-$conf}" ${TF_ENV:+"$TF_ENV"} \
        "$prog" "${TF_PLUGINS:-$plugins}" "$fx" "$@" --name "$name"
    while IFS= read -r line; do
        case $line in
            "ok - "*) ok "${line#ok - }"; seen=1 ;;
            "not ok - "*) E2E_FAILED=$((E2E_FAILED + 1)); echo "$line"; bad=1; seen=1 ;;
        esac
    done < "$RUN_LOG"
    if [ "$seen" -eq 0 ]; then
        not_ok "$name: test_tokenfile ran" "exit status $RUN_STATUS, no result lines" "$RUN_LOG"
    elif [ "$bad" -ne 0 ] || [ "$RUN_STATUS" -ne 0 ]; then
        [ "$bad" -ne 0 ] || not_ok "$name: test_tokenfile exit status" "$RUN_STATUS"
        echo "#   output (${RUN_LOG##*/}, last 40 lines):"
        tail -n 40 "$RUN_LOG" | sed 's/^/#     /'
    fi
}

# refreshed NAME OLD NEW [rotated|same-rt]: NEW is OLD after a refresh.
refreshed() {
    local name=$1
    shift
    run "${json[@]}" compare "$@"
    expect "$name" 0 '^ok: new access_token' '!^FAILED'
}

# same_file NAME A B: identical bytes.
same_file() {
    if cmp -s "$2" "$3"; then ok "$1"; else not_ok "$1" "$3 differs from $2"; fi
}

# is_value NAME GOT WANT
is_value() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got '$2', expected '$3'"; fi
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
mode_owner() { stat -c '%a %U:%G' "$1"; }
no_temp_files() { # DIR: no leftover temporary file of an atomic replace
    local left
    left=$(find "$1" -maxdepth 1 -name '*.tmp' -printf '%f ')
    if [ -z "$left" ]; then ok "$2"; else not_ok "$2" "left: $left"; fi
}

user_response() { # CLIENT USER: the code flow's token response (with refresh_token)
    idp_token user-jwt "$2" --client "$1" --json
}

# ------------------------------------------------------ refresh_token grant

f=$files/rt.json
user_response sasl-oauth-public alice > "$E2E_TMP/r1.json"
"${json[@]}" make "$f" --response "$E2E_TMP/r1.json" expires_at=now-60 \
    token_endpoint="$endpoint" client_id=sasl-oauth-public grant=refresh_token \
    resource=urn:sasl-oauth:imap user=alice x-note=kept-by-the-plugin
chown nobody:nogroup "$f"
chmod 640 "$f"
cp -p "$f" "$E2E_TMP/rt.before"
idp_counters_reset
tf "refresh_token grant, expired access token" "file:$f"
refreshed "refresh_token grant: the file holds a new access token, later expires_at, the rotated refresh token, every other field" \
    "$E2E_TMP/rt.before" "$f" rotated
is_value "refresh_token grant: mode 640 and owner nobody:nogroup kept" "$(mode_owner "$f")" "640 nobody:nogroup"
is_value "refresh_token grant: the provider saw one /token request" "$(idp_counter /token)" 1
no_temp_files "$files" "refresh_token grant: no temporary file left beside the token file"
run "${json[@]}" valid "$f"
expect "refresh_token grant: the file is valid JSON" 0

# The saved refresh token is the live one: a public client's old refresh token
# would now be refused (and reusing it revokes the grant).
cp -p "$f" "$E2E_TMP/rt.second"
"${json[@]}" set "$f" expires_at=now-5
cp -p "$f" "$E2E_TMP/rt.second"
tf "second refresh with the saved refresh token (XOAUTH2)" "file:$f" --mech XOAUTH2
refreshed "second refresh: new access token, refresh token rotated again" "$E2E_TMP/rt.second" "$f" rotated
is_value "second refresh: mode and owner still kept" "$(mode_owner "$f")" "640 nobody:nogroup"

# A valid access token is used as it is: no request to the provider.
idp_counters_reset
cp -p "$f" "$E2E_TMP/rt.third"
tf "valid access token in the file" "file:$f"
same_file "valid access token: the file is not rewritten" "$E2E_TMP/rt.third" "$f"
is_value "valid access token: no /token request" "$(idp_counter /token)" 0

# ------------------------------------------------------ client_credentials grant

f=$files/cc.json
"${json[@]}" make "$f" access_token="$(idp_token jwt)" expires_at=now-1 \
    token_endpoint="$endpoint" client_id=sasl-oauth-test client_secret=test-secret \
    grant=client_credentials resource=urn:sasl-oauth:imap scope=mail user=alice
chmod 600 "$f"
cp -p "$f" "$E2E_TMP/cc.before"
idp_counters_reset
tf "client_credentials grant (client_secret_basic)" "file:$f"
refreshed "client_credentials: new access token and expires_at, client_secret and the rest kept" \
    "$E2E_TMP/cc.before" "$f"
is_value "client_credentials: mode 600 and owner root kept" "$(mode_owner "$f")" "600 root:root"
is_value "client_credentials: one /token request" "$(idp_counter /token)" 1

f=$files/cc-post.json
"${json[@]}" make "$f" access_token=expired-placeholder expires_at=now-1 \
    token_endpoint="$endpoint" client_id=sasl-oauth-post client_secret=post-secret \
    token_auth_method=client_secret_post grant=client_credentials resource=urn:sasl-oauth:imap
cp -p "$f" "$E2E_TMP/ccp.before"
tf "client_credentials grant (client_secret_post: the client's user is bob)" "file:$f" --user bob
refreshed "client_credentials with client_secret_post: file refreshed" "$E2E_TMP/ccp.before" "$f"

# Endpoint, client id and secret from the client configuration (idp_… keys).
f=$files/cc-conf.json
"${json[@]}" make "$f" access_token=expired-placeholder expires_at=now-1 provider=idp \
    grant=client_credentials resource=urn:sasl-oauth:imap
cp -p "$f" "$E2E_TMP/ccc.before"
tf "client_credentials with endpoint, client id and secret from the client configuration" \
    "file:$f" --no-leak test-secret
refreshed "client_credentials from the configuration: file refreshed, no secret written into it" \
    "$E2E_TMP/ccc.before" "$f"
is_value "client_credentials from the configuration: the file has no client_secret" \
    "$("${json[@]}" get "$f" client_secret)" ""

# ------------------------------------------------------ revoked refresh token

f=$files/revoked.json
user_response sasl-oauth-test alice > "$E2E_TMP/r2.json"
"${json[@]}" make "$f" --response "$E2E_TMP/r2.json" expires_at=now-60 \
    token_endpoint="$endpoint" client_id=sasl-oauth-test client_secret=test-secret \
    grant=refresh_token user=alice
chmod 600 "$f"
idp_revoke "$("${json[@]}" get "$f" refresh_token)"
cp -p "$f" "$E2E_TMP/revoked.before"
tf "revoked refresh token" "file:$f" --expect fail --detail "HTTP 400" --detail invalid_grant \
    --detail "$f" --no-leak test-secret
same_file "revoked refresh token: the token file is unchanged" "$E2E_TMP/revoked.before" "$f"
no_temp_files "$files" "revoked refresh token: no temporary file left"

# A missing file: the reason names the path and the chroot hint.
tf "missing token file" "file:$files/nonexistent.json" --expect fail \
    --detail "$files/nonexistent.json" --detail chroot

# ------------------------------------------------------ 20 processes at once

f=$files/shared.json
user_response sasl-oauth-public alice > "$E2E_TMP/r3.json"
"${json[@]}" make "$f" --response "$E2E_TMP/r3.json" expires_at=now-60 \
    token_endpoint="$endpoint" client_id=sasl-oauth-public grant=refresh_token user=alice
cp -p "$f" "$E2E_TMP/shared.before"
idp_counters_reset
start=$(( $(date +%s%3N) + 2500 ))
pids=()
for i in $(seq 20); do
    SASL_OAUTH_CONF=$conf "$prog" "$plugins" "$fx" "file:$f" --start-at "$start" \
        --name "process $i" > "$E2E_TMP/out/conc-$i.log" 2>&1 &
    pids+=("$!")
done
good=0
failed_logs=()
for i in $(seq 20); do
    if wait "${pids[$((i - 1))]}"; then good=$((good + 1)); else failed_logs+=("$E2E_TMP/out/conc-$i.log"); fi
done
if [ "$good" -eq 20 ]; then
    ok "20 processes with one expired token file, started at once: all log in"
else
    not_ok "20 processes with one expired token file, started at once: all log in" \
        "$good of 20 succeeded" "${failed_logs[0]}"
fi
is_value "20 processes: the provider saw exactly one /token request" "$(idp_counter /token)" 1
refreshed "20 processes: the file was refreshed once (rotated refresh token saved)" \
    "$E2E_TMP/shared.before" "$f" rotated
late=$(grep -L '^ok - process .*login succeeds' "$E2E_TMP"/out/conc-*.log | wc -l)
is_value "20 processes: each reported its login" "$late" 0

# ------------------------------------------------------ crash before the rename

f=$files/crash.json
"${json[@]}" make "$f" access_token=old-access-token-before-the-crash expires_at=now-1 \
    token_endpoint="$endpoint" client_id=sasl-oauth-test client_secret=test-secret \
    grant=client_credentials resource=urn:sasl-oauth:imap
chmod 640 "$f"
cp -p "$f" "$E2E_TMP/crash.before"
if [ -z "$hooks" ]; then
    not_ok "crash test: the test-hooks build is present" \
        "no $hooks_src/libsasloauth.so (cargo build --lib --features test-hooks --target-dir target/hooks, copied there)"
else
    # (through sh: its exit status is 134 without bash's "Aborted" notice)
    run sh -c '"$@"; exit $?' sh env "SASL_OAUTH_CONF=$conf" SASL_OAUTH_TEST_CRASH_BEFORE_RENAME=1 \
        "$prog" "$hooks" "$fx" "file:$f" --name crash
    if [ "$RUN_STATUS" -eq 134 ]; then
        ok "crash between fsync and rename: the process died (SIGABRT, status 134)"
    else
        not_ok "crash between fsync and rename: the process died (SIGABRT, status 134)" \
            "exit status $RUN_STATUS" "$RUN_LOG"
    fi
    same_file "after the crash: the token file holds its old contents" "$E2E_TMP/crash.before" "$f"
    run "${json[@]}" valid "$f"
    expect "after the crash: the token file is valid JSON" 0
    tmp=$(find "$files" -maxdepth 1 -name '.crash.json.*.tmp' | head -n 1)
    if [ -n "$tmp" ] && "${json[@]}" valid "$tmp" > /dev/null &&
        [ "$("${json[@]}" get "$tmp" access_token)" != old-access-token-before-the-crash ]; then
        ok "after the crash: the complete new file was written (and fsynced) beside it, not renamed"
    else
        not_ok "after the crash: the complete new file was written (and fsynced) beside it, not renamed" \
            "temporary file: '${tmp:-none}'"
    fi
    # The plain build ignores the variable; the leftover temp file is no obstacle.
    TF_ENV=SASL_OAUTH_TEST_CRASH_BEFORE_RENAME=1 tf "next run after the crash (plain build)" "file:$f"
    refreshed "next run after the crash: the file is refreshed" "$E2E_TMP/crash.before" "$f"
    is_value "next run after the crash: mode kept" "$(mode_owner "$f")" "640 root:root"
    rm -f "$files"/.crash.json.*.tmp
fi

# ------------------------------------------------------ refused token: SASL_TRYAGAIN

# A JWT for another audience, valid-looking and unexpired by the file's account.
f=$files/retry-bearer.json
"${json[@]}" make "$f" access_token="$(idp_token jwt-other)" expires_at=now+3000 \
    token_endpoint="$endpoint" client_id=sasl-oauth-test client_secret=test-secret \
    grant=client_credentials resource=urn:sasl-oauth:imap
cp -p "$f" "$E2E_TMP/retry1.before"
idp_counters_reset
tf "OAUTHBEARER invalid_token" "file:$f" --expect retry --detail invalid_token --detail retry
refreshed "OAUTHBEARER invalid_token: the file was refreshed" "$E2E_TMP/retry1.before" "$f"
is_value "OAUTHBEARER invalid_token: one /token request" "$(idp_counter /token)" 1

# XOAUTH2 and a refresh_token grant; the access token is garbage.
f=$files/retry-xoauth2.json
user_response sasl-oauth-test alice > "$E2E_TMP/r4.json"
"${json[@]}" make "$f" --response "$E2E_TMP/r4.json" access_token=garbage-not-a-token \
    expires_at=now+3000 obtained_at=now-600 token_endpoint="$endpoint" \
    client_id=sasl-oauth-test client_secret=test-secret grant=refresh_token user=alice
cp -p "$f" "$E2E_TMP/retry2.before"
idp_counters_reset
tf "XOAUTH2 status 401" "file:$f" --mech XOAUTH2 --expect retry --detail 401 --detail retry
refreshed "XOAUTH2 status 401: the file was refreshed" "$E2E_TMP/retry2.before" "$f"
is_value "XOAUTH2 status 401: one /token request" "$(idp_counter /token)" 1

# The refreshed token is refused too (its audience is wrong): no second refresh.
f=$files/retry-loop.json
"${json[@]}" make "$f" access_token=garbage-not-a-token expires_at=now+3000 \
    token_endpoint="$endpoint" client_id=sasl-oauth-test client_secret=test-secret \
    grant=client_credentials resource=urn:sasl-oauth:other
idp_counters_reset
tf "refused again after the refresh" "file:$f" --expect retry-fail
is_value "refused again after the refresh: exactly one /token request (no loop)" "$(idp_counter /token)" 1

# ------------------------------------------------------ cmd: secrets

idp_token jwt > "$E2E_TMP/cmd-token"
cmd_source="cmd:cat $E2E_TMP/cmd-token"
tf "cmd: secret without allow_cmd" "$cmd_source" --expect fail --detail allow_cmd \
    --no-leak "$(cat "$E2E_TMP/cmd-token")"
TF_CONF=$conf_cmd tf "cmd: secret with allow_cmd: yes" "$cmd_source" --no-leak "$(cat "$E2E_TMP/cmd-token")"
TF_CONF=$conf_cmd tf "cmd: a failing command" "cmd:exit 3" --expect fail --detail failed

# ------------------------------------------------------ chroot

jail=$E2E_TMP/jail
mkdir -p "$jail"
f=$jail/token.json
user_response sasl-oauth-public alice > "$E2E_TMP/r5.json"
# Unexpired, but within the configuration's refresh_window (600 s, not the default 300).
"${json[@]}" make "$f" --response "$E2E_TMP/r5.json" expires_at=now+400 \
    token_endpoint="$endpoint" client_id=sasl-oauth-public grant=refresh_token user=alice
chmod 600 "$f"
cp -p "$f" "$E2E_TMP/jail.before"
conf_jail=$E2E_TMP/client-chroot.conf # outside the chroot: readable only at init
printf '%s\nrefresh_window: 600\nca_file: /etc/ssl/certs/ca-certificates.crt\ntimeout: 5000\n' "$E2E_CLIENT_MECHS" > "$conf_jail"
idp_counters_reset
TF_CONF=$conf_jail tf "chroot after SASL init" "file:/token.json" --chroot "$jail"
refreshed "chroot: the token file inside the chroot was refreshed (refresh_window from the configuration read at init)" \
    "$E2E_TMP/jail.before" "$f" rotated
is_value "chroot: one /token request" "$(idp_counter /token)" 1
if [ -f "$jail/token.json.lock" ]; then ok "chroot: the lock file is inside the chroot"
else not_ok "chroot: the lock file is inside the chroot" "no $jail/token.json.lock"; fi

e2e_finish
