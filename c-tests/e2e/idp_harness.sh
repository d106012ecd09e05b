#!/usr/bin/env bash
# The C harness against a real identity provider: starts tests/idp/server.mjs
# (npm oidc-provider) on 127.0.0.1, writes a fixtures directory for the C
# programs (server.conf: JWT keys by discovery, introspection as
# resource-server; tokens/NAME.jwt fetched from the provider), and runs
# c-tests/bin/test_process once per part (libsasl2 reads options once per
# process):
#   basic     JWT RS256/ES256/EdDSA (keys from discovery) and opaque tokens log
#             in as alice; wrong audience, missing scope, bad signature refused
#   revoke    oauth_cache_ttl 0: a revoked opaque token is refused at once
#   fork      sasl_server_init, fork, authenticate in the child; again with
#             oauth_cache_file (the child opens the LMDB file again)
#   chroot    sasl_server_init, first login, chroot (child), authenticate; again
#             with oauth_cache_file (the child cannot reach it: its own memory)
#   rotation  key rotation without restart; made-up kids: at most one refetch
#   outage    oauth_timeout 1000: hang, 503, garbage, slow -> SASL_TRYAGAIN
#   cache     oauth_cache_ttl 5: revoked but cached accepted, refused after TTL
#   withdraw  oauth_jwks_max_age 5: a key the provider dropped is refused within
#             seconds, its new key accepted, JWKS fetches bounded, stale set used
# and `sasl-oauth check` (target/debug) on the same configuration.
#
# Usage: idp_harness.sh PLUGIN_DIR      (from `make plugin idp`)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ctests=$(cd "$here/.." && pwd)
repo=$(cd "$ctests/.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=idp_lib.sh
. "$here/idp_lib.sh"

# A hang is a failure: no part may run longer than this.
PART_TIMEOUT=${PART_TIMEOUT:-60}

idp_script_start "$@"
if [ ! -f "$plugin_dir/libsasloauth.so" ]; then
    not_ok "the plugin is built" "no $plugin_dir/libsasloauth.so: run 'make plugin'"
    finish
fi
idp_require || finish

# The C program (built here when missing or older than its sources).
if ! make -s -C "$ctests" bin/test_process > "$E2E_TMP/out/build.log" 2>&1; then
    not_ok "c-tests/bin/test_process builds" "make failed" "$E2E_TMP/out/build.log"
    finish
fi
prog=$ctests/bin/test_process

idp_start || { not_ok "the identity provider starts"; finish; }
ok "the identity provider runs at $IDP_ISSUER"

# ---------------------------------------------------------------- fixtures
fx=$E2E_TMP/fixtures
mkdir -p "$fx/tokens"
cat > "$fx/server.conf" <<EOF
# written by idp_harness.sh: the test identity provider at $IDP_ISSUER
oauth_issuer: $IDP_ISSUER
oauth_audience: urn:sasl-oauth:imap urn:sasl-oauth:opaque
oauth_client_id: resource-server
oauth_client_secret: rs-secret
oauth_username_claim: username
oauth_required_scope: mail
EOF
fetch_ok=1
fetch() { # NAME KIND [OPTIONS...]
    local name=$1
    shift
    if ! idp_token "$@" > "$fx/tokens/$name.jwt" 2>> "$E2E_TMP/out/tokens.log"; then
        fetch_ok=""
        echo "# could not get a '$*' token" >> "$E2E_TMP/out/tokens.log"
    fi
}
fetch rs256 jwt
fetch es256 jwt-es256
fetch eddsa jwt-eddsa
fetch opaque opaque
fetch wrong-aud jwt-other
fetch opaque-other opaque-other
fetch no-scope jwt --scope ''
if [ -n "$fetch_ok" ]; then
    ok "tokens fetched from the provider (JWT RS256/ES256/EdDSA, opaque, wrong audience, no scope)"
else
    not_ok "tokens fetched from the provider" "get-token.sh failed" "$E2E_TMP/out/tokens.log"
    finish
fi

# ---------------------------------------------------------------- sasl-oauth check
cli=$repo/target/debug/sasl-oauth
if [ -x "$cli" ]; then
    run "$cli" check --config "$fx/server.conf" --token-file "$fx/tokens/rs256.jwt"
    expect "sasl-oauth check: the provider's JWT is ACCEPTED (keys by discovery)" 0 \
        "signature verified with a key from jwks_uri" "ACCEPTED: authentication identity 'alice'"
    run "$cli" check --config "$fx/server.conf" --token-file "$fx/tokens/opaque.jwt"
    expect "sasl-oauth check: the opaque token is ACCEPTED (introspected)" 0 \
        "introspected at $IDP_ISSUER/token/introspection" "ACCEPTED: authentication identity 'alice'"
    run "$cli" check --config "$fx/server.conf" --token-file "$fx/tokens/wrong-aud.jwt"
    expect "sasl-oauth check: the wrong-audience JWT is REFUSED with the reason" 1 \
        "REFUSED.*audience" '!ACCEPTED'
else
    skip "sasl-oauth check" "no $cli (cargo build)"
fi

# ---------------------------------------------------------------- the C parts

# run_part PART [--set KEY=VALUE]...: one test_process run; its ok/not ok lines
# are ours (prefixed with the part), its log lines kept for a failure.
run_part() {
    local part=$1 out err status=0 line p=0 f=0
    shift
    out=$E2E_TMP/out/part-$part.out
    err=$E2E_TMP/out/part-$part.err
    echo "# test_process --part $part $*"
    timeout "$PART_TIMEOUT" "$prog" "$plugin_dir" "$fx" --part "$part" \
        --get-token "$IDP_GET_TOKEN" "$@" > "$out" 2> "$err" || status=$?
    while IFS= read -r line; do
        case $line in
            "ok - "*) p=$((p + 1)); ok "$part: ${line#ok - }" ;;
            "not ok - "*) f=$((f + 1)); not_ok "$part: ${line#not ok - }" ;;
            "#"*) echo "$line" ;;
        esac
    done < "$out"
    if ! grep -Eq "^$p passed, $f failed$" "$out"; then
        not_ok "$part: test_process ran to its end" \
            "exit status $status (124: killed after ${PART_TIMEOUT}s), no summary line '$p passed, $f failed'" "$err"
    elif [ "$status" -ne 0 ] || [ "$f" -ne 0 ]; then
        echo "#   test_process --part $part: exit status $status; its log (last 40 lines):"
        tail -n 40 "$err" | sed 's/^/#     /'
    fi
}

started=$SECONDS
run_part basic
run_part revoke --set oauth_cache_ttl=0
run_part fork
run_part chroot
echo "# fork and chroot again, with oauth_cache_file (LMDB) opened before the fork"
run_part fork --set "oauth_cache_file=$E2E_TMP/fork-cache.mdb"
run_part chroot --set "oauth_cache_file=$E2E_TMP/chroot-cache.mdb"
run_part rotation
run_part outage --set oauth_timeout=1000
run_part cache --set oauth_cache_ttl=5
run_part withdraw --set oauth_jwks_max_age=5 --set oauth_cache_ttl=0
echo "# C parts took $((SECONDS - started)) s"

finish
