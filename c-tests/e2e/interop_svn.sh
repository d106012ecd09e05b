#!/usr/bin/env bash
# Interoperability matrix, Subversion column: Debian's svnserve 1.14
# (`[sasl] use-sasl = true`, libsasl2 with our server plugin, options in the
# SASL application file svn.conf) and Debian's svn client (libsasl2 with our
# client plugin, the token given as --password). For OAUTHBEARER and XOAUTH2
# (the client's mechanisms line names one, so that libsasl2 has no choice):
#   - a JWT and an opaque token with --username alice: `svn mkdir` commits
#     a new revision whose author is the token's user, alice;
#   - a refused token (a JWT for another audience): svn exits non-zero
#     within its timeout, no revision is made, svnserve logs the reason;
#   - alice's token with --username bob (sent as the name to act as):
#     refused, never a commit as bob.
#
# svn declares SASL_SUCCESS_DATA and treats a success without data as an
# error while the client mechanism still says SASL_CONTINUE: the client
# plugin sends its token message with SASL_OK there (see docs/protocol.md).
#
# Usage: interop_svn.sh PLUGIN_DIR   (`make plugin idp`; Debian package
#        subversion; root for the syslog capture)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=idp_lib.sh
. "$here/idp_lib.sh"
# shellcheck source=interop_lib.sh
. "$here/interop_lib.sh"

idp_script_start "$@"
for p in svn svnserve svnadmin svnlook; do
    if ! command -v "$p" > /dev/null; then
        not_ok "$p is installed" "apt-get install subversion (scripts/deps.sh)"
        e2e_finish
    fi
done
idp_require || e2e_finish
plugins=$(plugin_copy "$plugin_dir")
syslog_start
idp_start || { not_ok "the identity provider starts"; e2e_finish; }

# Debian's svn and svnserve are built with SASL: svnserve links libsasl2,
# svn through its libsvn_ra_svn. (Output captured first: with pipefail, a
# `ldd | grep -q` fails when grep stops reading early.)
sasl_linked() { # FILE
    local deps
    deps=$(ldd "$1" 2> /dev/null || true)
    [[ $deps == *libsasl2.so* ]]
}
ra=$(ldd "$(command -v svn)" 2> /dev/null | awk '/libsvn_ra_svn/ { print $3 }' || true)
if sasl_linked "$(command -v svnserve)"; then ok "svnserve is built with SASL (links libsasl2)"
else not_ok "svnserve is built with SASL (links libsasl2)" "ldd shows no libsasl2"; fi
if [ -n "$ra" ] && sasl_linked "$ra"; then ok "svn is built with SASL ($ra links libsasl2)"
else not_ok "svn is built with SASL (libsvn_ra_svn links libsasl2)" "ldd shows no libsasl2 (libsvn_ra_svn: '$ra')"; fi

dir="$E2E_TMP/svn"
mkdir -p "$dir/sasl2"
svnadmin create "$dir/repo"
cat > "$dir/repo/conf/svnserve.conf" <<EOF
[general]
anon-access = none
auth-access = write
# svnserve's SASL user realm: libsasl2 appends @example.test to names
realm = example.test
[sasl]
use-sasl = true
EOF
# svnserve's SASL application name is svn: its options are in svn.conf.
cat > "$dir/sasl2/svn.conf" <<EOF
mech_list: OAUTHBEARER XOAUTH2
# libsasl2 and plugin lines up to DEBUG reach the (captured) syslog
log_level: 5
oauth_issuer: $IDP_ISSUER
oauth_audience: urn:sasl-oauth:imap urn:sasl-oauth:opaque
oauth_client_id: resource-server
oauth_client_secret: rs-secret
oauth_username_claim: username
oauth_required_scope: mail
EOF
port=$(free_port)
DEVLOG_PREFIX=()
if [ -n "$E2E_SYSLOG" ]; then devlog_prefix; fi
(exec setsid "${DEVLOG_PREFIX[@]}" env SASL_PATH="$plugins" SASL_CONF_PATH="$dir/sasl2" \
    svnserve -d --foreground -r "$dir/repo" --listen-host 127.0.0.1 --listen-port "$port" \
    --log-file "$dir/svnserve.log") > "$dir/svnserve.out" 2>&1 &
svnserve_pid=$!
E2E_PIDS+=("$svnserve_pid")
for _ in $(seq 100); do
    if ! is_running "$svnserve_pid"; then break; fi
    if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2> /dev/null; then
        break
    fi
    sleep 0.1
done
if is_running "$svnserve_pid"; then
    ok "svnserve runs on 127.0.0.1:$port (use-sasl, our plugin through SASL_PATH, svn.conf through SASL_CONF_PATH)"
else
    not_ok "svnserve starts" "it exited" "$dir/svnserve.out"
    e2e_finish
fi

tok jwt
jwt=$TOKEN
tok opaque
opaque=$TOKEN
tok jwt-other
bad=$TOKEN

# svn_as MECH USER TOKEN SVN_ARGS...: the svn client with our client plugin
# only, offering MECH only, credentials from the command line, nothing saved.
svn_as() {
    local mech=$1 user=$2 token=$3 conf="$E2E_TMP/client-$1.conf"
    shift 3
    echo "mechanisms: $mech" > "$conf"
    env SASL_PATH="$plugins" SASL_OAUTH_CONF="$conf" timeout 30 \
        svn --config-dir "$E2E_TMP/svn-config" --non-interactive --no-auth-cache \
        --config-option config:auth:password-stores= \
        --username "$user" --password "$token" "$@"
}
youngest() { svnlook youngest "$dir/repo"; }
url="svn://127.0.0.1:$port"

for mech in OAUTHBEARER XOAUTH2; do
    cell_begin svn svnserve "$mech"
    for kind in jwt opaque; do
        if [ "$kind" = jwt ]; then token=$jwt; else token=$opaque; fi
        before=$(youngest)
        run svn_as "$mech" alice "$token" mkdir -m "$mech $kind" "$url/$mech-$kind"
        expect "svn ($mech, $kind token) -> svnserve: svn mkdir commits" 0 '^Committed revision [0-9]+\.'
        after=$(youngest)
        author=$(svnlook author -r "$after" "$dir/repo" 2> /dev/null || true)
        if [ "$after" -eq $((before + 1)) ] && [ "$author" = alice ]; then
            ok "svn ($mech, $kind token) -> svnserve: revision $after is alice's"
        else
            not_ok "svn ($mech, $kind token) -> svnserve: a new revision by alice" "youngest $before -> $after, author '$author'" "$RUN_LOG"
        fi
    done
    before=$(youngest)
    run svn_as "$mech" alice "$bad" mkdir -m "$mech refused" "$url/$mech-refused"
    if [ "$RUN_STATUS" -ne 0 ] && [ "$RUN_STATUS" -ne 124 ]; then
        ok "svn ($mech) with a refused token: non-zero exit status ($RUN_STATUS) before its timeout"
    else
        not_ok "svn ($mech) with a refused token: non-zero exit status before its timeout" "exit status $RUN_STATUS" "$RUN_LOG"
    fi
    expect "svn ($mech) with a refused token: an authentication error, no commit" "$RUN_STATUS" \
        'E170001: .*authentication' '!Committed revision'
    expect_syslog "svn ($mech) with a refused token: svnserve's log has the plugin's reason" \
        'sasl-oauth: login refused: audience mismatch'
    if [ "$(youngest)" = "$before" ]; then ok "svn ($mech) with a refused token: no new revision"
    else not_ok "svn ($mech) with a refused token: no new revision" "youngest $before -> $(youngest)"; fi
    cell_end
done

# The identity is the token's: alice's token with --username bob (sent as
# the authorization name) is refused, never a commit as bob.
before=$(youngest)
run svn_as OAUTHBEARER bob "$jwt" mkdir -m "as bob" "$url/as-bob"
expect "svn --username bob with alice's token (OAUTHBEARER a=bob): refused by svnserve" 1 \
    'E170001: Authentication error from server: .*' '!Committed revision'
if [ "$(youngest)" = "$before" ]; then ok "svn --username bob with alice's token: no revision"
else not_ok "svn --username bob with alice's token: no revision" "youngest $before -> $(youngest)"; fi

run svn_as OAUTHBEARER alice "$jwt" log -q "$url"
expect "svn log: every revision is alice's" 0 '^r[0-9]+ \| alice \|' '!^r[0-9]+ \| (bob|\(no author\))'
if is_running "$svnserve_pid"; then ok "svnserve still runs after every client"
else not_ok "svnserve still runs after every client" "it exited" "$dir/svnserve.out"; fi
assert_no_crash_in_syslog svnserve

e2e_finish
