#!/usr/bin/env bash
# `sasl-oauth setup postfix` and `token init --postfix` against private Postfix
# instances whose smtp client runs chrooted (master.cf chroot y):
#   - a broken relay set-up (token file outside the chroot, no mechanism
#     filter, Postfix's default noplaintext security option, a client
#     configuration without a mechanisms line) is reported item by item,
#     each with its fix, and the exit status is 1;
#   - --apply installs the token file into the chroot (owner postfix, mode
#     0600, directory 0700); a token file of the wrong owner, a read-only
#     directory and a lock file left by root are reported item by item and
#     fixed by --apply;
#   - after the printed fixes (run as printed) the verdict is 0, a message is
#     relayed through a second instance (B) whose smtpd logs the client in
#     with our server plugin, and the token file is refreshed inside the
#     chroot (rotated refresh token saved, mode and owner kept);
#   - a map naming the host's path of the file in the chroot is reported with
#     the path to name instead; a texthash map is looked up as Postfix does
#     (its relay host entry, or its lack); a token endpoint by name without
#     the resolver's file in the chroot is reported and the printed copy fixes it;
#   - token init --postfix (client credentials) writes the file straight into
#     the chroot of a third instance (C), prints the map line; with it C
#     relays a message and refreshes the file inside its chroot.
# Everything lives below one temporary directory (`postfix -c DIR`); the
# system's Postfix is neither read nor started.
#
# Usage: setup_postfix.sh PLUGIN_DIR   (root; postfix; `make idp`; `cargo build --bins`)
# Environment: SASL_OAUTH_BIN (default target/debug/sasl-oauth).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=idp_lib.sh
. "$here/idp_lib.sh"
# shellcheck source=postfix_lib.sh
. "$here/postfix_lib.sh"

pf_script_start "$@"
json=(python3 "$here/tokenfile_json.py")
BIN=${SASL_OAUTH_BIN:-$here/../../target/debug/sasl-oauth}

if [ ! -x "$BIN" ]; then
    not_ok "the tool is built" "$BIN is missing: run 'cargo build --bins'"
    e2e_finish
fi
# A private copy the postfix user can run: the tool re-runs itself as postfix.
mkdir -p "$E2E_TMP/bin"
cp "$BIN" "$E2E_TMP/bin/sasl-oauth"
chmod 755 "$E2E_TMP/bin" "$E2E_TMP/bin/sasl-oauth"
BIN=$E2E_TMP/bin/sasl-oauth
idp_start --access-ttl 3600 || e2e_finish
issuer=$IDP_ISSUER

port_b=$(free_port)
pf_oauth_server B "$port_b" "$issuer"
pf_start B || e2e_finish

# has NAME TEXT...: the last run's output holds each TEXT (fixed strings).
has() {
    local name=$1 why="" t
    shift
    for t in "$@"; do
        grep -Fq -- "$t" "$RUN_LOG" || why+="; output lacks '$t'"
    done
    if [ -z "$why" ]; then ok "$name"; else not_ok "$name" "$why" "$RUN_LOG"; fi
}

# owner_mode NAME FILE WANT: stat's "%a %U:%G" of FILE is WANT.
owner_mode() {
    local got
    got=$(stat -c '%a %U:%G' "$2" 2> /dev/null || echo missing)
    if [ "$got" = "$3" ]; then ok "$1"; else not_ok "$1" "$2: got $got, expected $3"; fi
}

# run_fixes NAME: runs the configuration fixes the last run printed (the
# postconf, printf and sed lines, copies of public files), exactly as printed.
run_fixes() {
    local fixes="$E2E_TMP/out/fixes-$E2E_RUNS.sh"
    sed -n 's/^ *fix: \(\(postconf\|printf\|sed\|install -D -m 644\) .*\)$/\1/p' "$RUN_LOG" > "$fixes"
    if [ -s "$fixes" ] && bash -e "$fixes" > "$fixes.out" 2>&1; then ok "$1 ($(wc -l < "$fixes") lines)"
    else not_ok "$1" "the printed fixes failed or there were none" "$fixes.out"; fi
}


# relay_instance NAME: a relay to B with smtp chrooted and only the basics:
# what setup postfix checks is left for the script to break or fix.
relay_instance() {
    pf_new "$1"
    pf_master "$1" y
    pf_main "$1" \
        "relayhost = [127.0.0.1]:$port_b" \
        "smtp_sasl_auth_enable = yes" \
        "smtp_sasl_type = cyrus" \
        "smtp_tls_security_level = none" \
        "minimal_backoff_time = 1s" "maximal_backoff_time = 2s" "queue_run_delay = 1s"
    # the client configuration without a mechanisms line
    : > "$E2E_TMP/$1/sasl-oauth.conf"
}

# ---------------------------------------------------------------- A: broken, then fixed

d=$E2E_TMP/A
relay_instance A
# On the host, outside smtp's chroot ($d/queue): the map names it as the
# host sees it, which the chrooted smtp client cannot.
outside=$d/outside/token.json
inside=$d/queue$outside
pf_main A "smtp_sasl_password_maps = static:alice:file:$outside"
mkdir -p "$d/outside"
idp_token user-jwt alice --client sasl-oauth-public --json > "$E2E_TMP/response.json"
"${json[@]}" make "$outside" --response "$E2E_TMP/response.json" expires_at=now-60 \
    token_endpoint="$issuer/token" client_id=sasl-oauth-public grant=refresh_token \
    resource=urn:sasl-oauth:imap user=alice provider=e2e-idp
chmod 600 "$outside"
cp -p "$outside" "$E2E_TMP/outside.before"

run "$BIN" setup postfix --config-dir "$d/etc"
expect "broken set-up: exit status 1, each problem on its own FAIL line" 1 \
    '^FAIL token file +.*outside smtp.s chroot' \
    '^FAIL mechanism filter +main.cf smtp_sasl_mechanism_filter is empty' \
    '^FAIL security options +main.cf smtp_sasl_security_options = noplaintext, noanonymous hides XOAUTH2' \
    '^FAIL client mechanisms +.*has no mechanisms line' \
    '^ok +plugin ' '^ +smtp transport +.*chrooted in ' '^ok +trust anchors +built-in' \
    '^4 problem\(s\) stop the relay'
has "broken set-up: each FAIL line has the exact fix" \
    "fix: postconf -c $d/etc -e 'smtp_sasl_mechanism_filter = xoauth2'" \
    "fix: postconf -c $d/etc -e 'smtp_sasl_security_options = noanonymous'" \
    "fix: printf 'mechanisms: XOAUTH2\\n' >> $d/sasl-oauth.conf" \
    "fix: sasl-oauth setup postfix --config-dir $d/etc --apply" \
    "fix: install -o postfix -g postfix -m 600 $outside $inside"
run "$BIN" doctor --postfix --config-dir "$d/etc" --json
expect "doctor --postfix --json: the same verdict" 1 '"ok": false' '"verdict": "fail"'

run "$BIN" setup postfix --config-dir "$d/etc" --apply
expect "--apply installs the token file into the chroot" 1 \
    '^ +apply +installed .* as .*/queue/' '^ok +token file +.*reads as user postfix and can be refreshed' \
    '^ok +token directory +user postfix can create and rename files' '^ok +lock file ' '!^FAIL token'
owner_mode "--apply: the file in the chroot is postfix's, mode 600" "$inside" "600 postfix:postfix"
owner_mode "--apply: its directory is postfix's, mode 700" "$(dirname "$inside")" "700 postfix:postfix"

# Wrong owner, a read-only directory, a lock file left by root.
chown root:root "$inside" "$(dirname "$inside")"
chmod 755 "$(dirname "$inside")"
install -o root -g root -m 600 /dev/null "$inside.lock"
run "$BIN" setup postfix --config-dir "$d/etc"
expect "wrong owner, read-only directory, root's lock file: one FAIL line each" 1 \
    '^FAIL token file +user postfix cannot read .*Permission denied' \
    '^FAIL token directory +.*user postfix cannot create a file' \
    '^FAIL lock file +user postfix: cannot open the lock file'
has "... with their fixes" "fix: chown postfix:postfix $inside" "fix: chmod 700 $(dirname "$inside")" \
    "fix: chown postfix:postfix $inside.lock"
run "$BIN" setup postfix --config-dir "$d/etc" --apply
expect "--apply gives file, directory and lock file back to postfix" 1 \
    '^ok +token file ' '^ok +token directory ' '^ok +lock file +user postfix can take the lock' '!^FAIL (token|lock)'
owner_mode "--apply: the lock file is postfix's" "$inside.lock" "600 postfix:postfix"
run_fixes "the printed configuration fixes run as printed"
run "$BIN" setup postfix --config-dir "$d/etc"
expect "after --apply and the fixes: exit status 0" 0 '^a relay through this set-up would work' '!^FAIL' \
    '^ok +mechanism filter +.*XOAUTH2' '^ok +client mechanisms +.*XOAUTH2' '^ok +security options +.*lets XOAUTH2 through'

cp -p "$inside" "$E2E_TMP/inside.before"
idp_counters_reset
if pf_start A; then
    pf_send A "e2e setup A"
    log_has "A relays the message through B (status=sent)" A "relay=127\.0\.0\.1\[127\.0\.0\.1\]:$port_b, .*status=sent"
    log_has "B logs alice in with XOAUTH2" B "sasl_method=XOAUTH2, sasl_username=alice"
    delivered "the message is in bob's mailbox on B" "e2e setup A"
    run "${json[@]}" compare "$E2E_TMP/inside.before" "$inside" rotated
    expect "the token file was refreshed inside the chroot (new access token, rotated refresh token saved)" 0 '!^FAILED'
    owner_mode "the refreshed file keeps mode 600 and owner postfix" "$inside" "600 postfix:postfix"
    if cmp -s "$E2E_TMP/outside.before" "$outside"; then ok "the copy outside the chroot was not used"
    else not_ok "the copy outside the chroot was not used" "$outside changed"; fi
    n=$(idp_counter /token)
    if [ "$n" = 1 ]; then ok "one /token request at the provider"; else not_ok "one /token request at the provider" "got $n"; fi
    pf_stop A
fi
run "$BIN" setup postfix --config-dir "$d/etc"
expect "after the relay: still exit status 0 (the lock file the plugin left is fine)" 0 '^ok +lock file +user postfix can take the lock'

# The map names the host's path of the file inside the chroot.
postconf -c "$d/etc" -e "smtp_sasl_password_maps = static:alice:file:$inside"
run "$BIN" setup postfix --config-dir "$d/etc"
expect "a host path in the map is reported" 1 "^FAIL token file +the map names $inside, a path on the host"
has "... with the map line naming the path inside the chroot" \
    "fix: postconf -c $d/etc -e 'smtp_sasl_password_maps = static:alice:file:$outside'"

# A texthash map: the relay host's entry looked up as Postfix does (postmap -q).
printf '[127.0.0.1]:%s alice:file:%s\n' "$port_b" "$outside" > "$d/etc/sasl_passwd"
postconf -c "$d/etc" -e "smtp_sasl_password_maps = texthash:$d/etc/sasl_passwd"
run "$BIN" setup postfix --config-dir "$d/etc"
expect "a texthash map: the relay host's entry and its token file" 0 \
    "^ok +password maps +\[127\.0\.0\.1\]:$port_b: user alice, token file $outside \(from texthash:" '^ok +token file '
printf '[127.0.0.1]:1 alice:file:%s\n' "$outside" > "$d/etc/sasl_passwd"
run "$BIN" setup postfix --config-dir "$d/etc"
expect "a map without the relay host's entry is reported" 1 "^FAIL password maps +no entry for \[127\.0\.0\.1\]:$port_b"
has "... with the line to add" "fix: add the line '[127.0.0.1]:$port_b USER:file:/etc/sasl-oauth/token.json' to $d/etc/sasl_passwd"
postconf -c "$d/etc" -e "smtp_sasl_password_maps = static:alice:file:$outside"

# A token endpoint by name: the refresh needs the resolver inside the chroot,
# which a private instance lacks (Debian's service copies it in).
"${json[@]}" set "$inside" token_endpoint= provider=microsoft
run "$BIN" setup postfix --config-dir "$d/etc"
expect "a token endpoint by name without etc/resolv.conf in the chroot is reported" 1 \
    "^FAIL resolver +user postfix cannot read /etc/resolv.conf inside the chroot"
has "... with the command that copies it in" "fix: install -D -m 644 /etc/resolv.conf $d/queue/etc/resolv.conf"
run_fixes "the printed copy of the resolver's file runs as printed"
run "$BIN" setup postfix --config-dir "$d/etc"
expect "with etc/resolv.conf in the chroot: exit status 0" 0 '^ok +resolver +user postfix reads /etc/resolv.conf inside the chroot'

# ---------------------------------------------------------------- C: token init --postfix

d=$E2E_TMP/C
relay_instance C
pf_main C "smtp_sasl_mechanism_filter = oauthbearer" "smtp_sasl_security_options = noanonymous"
echo "mechanisms: OAUTHBEARER" > "$d/sasl-oauth.conf"
printf 'test-secret\n' > "$E2E_TMP/cc.secret"
chmod 600 "$E2E_TMP/cc.secret"
run "$BIN" token init --postfix --config-dir "$d/etc" --provider "$issuer" --client-id sasl-oauth-test \
    --client-secret-file "$E2E_TMP/cc.secret" --client-credentials --resource urn:sasl-oauth:imap --user alice
cfile=$d/queue/etc/sasl-oauth/token.json
expect "token init --postfix writes into smtp's chroot and prints the map line" 0 \
    "^wrote $cfile for Postfix's smtp client, which opens it as /etc/sasl-oauth/token.json"
has "... the map line" "postconf -c $d/etc -e 'smtp_sasl_password_maps = static:alice:file:/etc/sasl-oauth/token.json'"
owner_mode "token init --postfix: the file is postfix's, mode 600" "$cfile" "600 postfix:postfix"
owner_mode "token init --postfix: its directory is postfix's, mode 700" "$(dirname "$cfile")" "700 postfix:postfix"
postconf -c "$d/etc" -e "smtp_sasl_password_maps = static:alice:file:/etc/sasl-oauth/token.json"
run "$BIN" token init --postfix --config-dir "$d/etc" --provider "$issuer" --client-id sasl-oauth-test \
    --client-secret-file "$E2E_TMP/cc.secret" --client-credentials --resource urn:sasl-oauth:imap
expect "token init --postfix keeps an existing file without --force" 2 'exists: use --force'
run "$BIN" setup postfix --config-dir "$d/etc"
expect "C: setup postfix passes" 0 '^ok +token file +/etc/sasl-oauth/token.json .*reads as user postfix' '!^FAIL'
"${json[@]}" set "$cfile" expires_at=now-60
cp -p "$cfile" "$E2E_TMP/c.before"
idp_counters_reset
if pf_start C; then
    pf_send C "e2e setup C"
    log_has "C relays the message through B (status=sent)" C "relay=127\.0\.0\.1\[127\.0\.0\.1\]:$port_b, .*status=sent"
    log_has "B logs alice in with OAUTHBEARER" B "sasl_method=OAUTHBEARER, sasl_username=alice"
    delivered "C's message is in bob's mailbox on B" "e2e setup C"
    run "${json[@]}" compare "$E2E_TMP/c.before" "$cfile"
    expect "C's token file was refreshed inside the chroot (client credentials)" 0 '!^FAILED'
    owner_mode "C's refreshed file keeps mode 600 and owner postfix" "$cfile" "600 postfix:postfix"
    pf_stop C
fi

pf_stop B
e2e_finish
