#!/usr/bin/env bash
# Interoperability matrix, OpenLDAP column: Debian's slapd 2.5 (SASL through
# libsasl2 with our server plugin, a minimal configuration of ours: no
# database, `sasl-secprops none`, an authz-regexp mapping the SASL identity
# to uid=<name>,ou=people,dc=example,dc=test), and ldap-utils' ldapwhoami with
# our client plugin, the token given with -w:
#   - ldapwhoami -Y OAUTHBEARER and -Y XOAUTH2 with a JWT and an opaque token
#     answer dn:uid=alice,… (the token's identity, claim `username`);
#   - the identity comes from the token, not from the client's -U;
#   - a refused token: Invalid credentials (49) with the plugin's reason;
#   - ldapsearch -Y OAUTHBEARER: the same bind, then a search of the root DSE.
#
# slapd reads its SASL application file (slapd.conf: mech_list and our
# options) only from /etc/ldap/sasl2: slapd runs inside `unshare -m` with a
# private folder bind-mounted there, so the system's folder is untouched.
#
# Usage: interop_slapd.sh PLUGIN_DIR   (root: unshare -m; Debian slapd
#        ldap-utils; `make plugin idp`)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=idp_lib.sh
. "$here/idp_lib.sh"
# shellcheck source=interop_lib.sh
. "$here/interop_lib.sh"

SLAPD=${SLAPD:-/usr/sbin/slapd}

idp_script_start "$@"
if [ ! -x "$SLAPD" ] || ! command -v ldapwhoami > /dev/null; then
    not_ok "slapd and ldapwhoami are installed" "apt-get install slapd ldap-utils (scripts/deps.sh)"
    e2e_finish
fi
if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2> /dev/null; then
    not_ok "root with unshare -m" "slapd's SASL folder is bind-mounted in a private mount namespace"
    e2e_finish
fi
if [ ! -d /etc/ldap/sasl2 ]; then
    not_ok "/etc/ldap/sasl2 exists (Debian's slapd package makes it)" "reinstall slapd"
    e2e_finish
fi
idp_require || e2e_finish
plugins=$(plugin_copy "$plugin_dir")
idp_start || { not_ok "the identity provider starts"; e2e_finish; }

dir="$E2E_TMP/slapd"
mkdir -p "$dir/sasl2"
port=$(free_port)
cat > "$dir/slapd.conf" <<EOF
# private slapd: no database, only the root DSE and SASL binds
include /etc/ldap/schema/core.schema
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
# bearer mechanisms do not claim NOPLAINTEXT: slapd's default secprops
# (noplain,noanonymous) would hide them without TLS
sasl-secprops none
# libsasl2 hands over uid=<name>[@realm],cn=<mechanism>,cn=auth
authz-regexp "^uid=([^,@]+)(@[^,]*)?,cn=[^,]+,cn=auth\$" "uid=\$1,ou=people,dc=example,dc=test"
EOF
cat > "$dir/sasl2/slapd.conf" <<EOF
mech_list: OAUTHBEARER XOAUTH2
oauth_issuer: $IDP_ISSUER
oauth_audience: urn:sasl-oauth:imap urn:sasl-oauth:opaque
oauth_client_id: resource-server
oauth_client_secret: rs-secret
oauth_username_claim: username
oauth_required_scope: mail
EOF
# unshare without --fork execs: $! is slapd itself (-d 0: in the foreground).
(exec unshare -m -- sh -c '
    mount --bind "$1/sasl2" /etc/ldap/sasl2
    exec env SASL_PATH="$2" "$3" -f "$1/slapd.conf" -h "ldap://127.0.0.1:$4/" -d 0
' sh "$dir" "$plugins" "$SLAPD" "$port") > "$dir/slapd.out" 2>&1 &
E2E_PIDS+=("$!")
slapd_pid=$!
for _ in $(seq 100); do
    if ! is_running "$slapd_pid"; then break; fi
    if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2> /dev/null; then
        break
    fi
    sleep 0.1
done
if is_running "$slapd_pid"; then
    ok "slapd runs on 127.0.0.1:$port (our SASL file bind-mounted on /etc/ldap/sasl2 in its own mount namespace)"
else
    not_ok "slapd starts" "it exited" "$dir/slapd.out"
    e2e_finish
fi
if ! cmp -s /etc/ldap/sasl2/slapd.conf "$dir/sasl2/slapd.conf" 2> /dev/null; then
    ok "the system's /etc/ldap/sasl2 is untouched (the bind mount is private to slapd)"
else
    not_ok "the system's /etc/ldap/sasl2 is untouched" "our slapd.conf is visible outside slapd's namespace"
fi

tok jwt
jwt=$TOKEN
tok opaque
opaque=$TOKEN
tok jwt-other
bad=$TOKEN

whoami() { # MECH [ARGS...]: ldapwhoami with our client plugin only
    local mech=$1
    shift
    env SASL_PATH="$plugins" timeout 20 ldapwhoami -H "ldap://127.0.0.1:$port/" -Y "$mech" "$@"
}
alice_dn='^dn:uid=alice,ou=people,dc=example,dc=test$'

for mech in OAUTHBEARER XOAUTH2; do
    cell_begin ldapwhoami slapd "$mech"
    run whoami "$mech" -U alice -w "$jwt" -O none
    expect "ldapwhoami -Y $mech -> slapd: a JWT binds, whoami answers dn:uid=alice,ou=people,dc=example,dc=test" 0 \
        "^SASL/$mech authentication started" "$alice_dn"
    run env LDAPSASL_SECPROPS=none SASL_PATH="$plugins" timeout 20 \
        ldapwhoami -H "ldap://127.0.0.1:$port/" -Y "$mech" -U alice -w "$opaque"
    expect "ldapwhoami -Y $mech -> slapd: an opaque token (introspection), secprops from LDAPSASL_SECPROPS: dn of alice" 0 \
        "$alice_dn"
    run whoami "$mech" -U alice -w "$bad" -O none
    expect "ldapwhoami -Y $mech -> slapd: a refused token: Invalid credentials (49) with the plugin's reason" 49 \
        'Invalid credentials \(49\)' 'additional info: .*sasl-oauth: .*audience' '!^dn:'
    cell_end
done

# ldapsearch takes the same SASL options (-Y, -U, -w, -O): a search of the
# root DSE after an OAUTHBEARER bind (the bound identity is ldapwhoami's
# check above; slapd 2.5 ignores the RFC 3829 bind control -e bauthzid).
cell_begin ldapsearch slapd OAUTHBEARER
search() { # ARGS...: ldapsearch of the root DSE with our client plugin only
    env SASL_PATH="$plugins" timeout 20 ldapsearch -LLL -H "ldap://127.0.0.1:$port/" -Y OAUTHBEARER -O none \
        -b "" -s base "$@" supportedSASLMechanisms
}
run search -U alice -w "$jwt"
expect "ldapsearch -Y OAUTHBEARER -> slapd: a JWT binds, the search of the root DSE answers (OAUTHBEARER listed)" 0 \
    '^SASL/OAUTHBEARER authentication started' '^SASL username: alice$' '^supportedSASLMechanisms: OAUTHBEARER'
run search -U alice -w "$bad"
expect "ldapsearch -Y OAUTHBEARER -> slapd: a refused token: Invalid credentials (49), nothing found" 49 \
    'Invalid credentials \(49\)' '!^supportedSASLMechanisms'
cell_end

# The identity is the token's, never the client's name: with -U bob, both
# mechanisms ask to act as bob (OAUTHBEARER a=bob, XOAUTH2 user=bob), a proxy
# request that slapd's default authz-policy (none) refuses.
run whoami OAUTHBEARER -U bob -w "$jwt" -O none
expect "ldapwhoami -Y OAUTHBEARER -U bob (a=bob) with alice's token: refused, never bob" 50 '!^dn:' 'Insufficient access|\(50\)'
run whoami XOAUTH2 -U bob -w "$jwt" -O none
expect "ldapwhoami -Y XOAUTH2 -U bob (user=bob) with alice's token: refused, never bob" 50 '!^dn:' 'Insufficient access|\(50\)'

if is_running "$slapd_pid"; then ok "slapd still runs after every bind"
else not_ok "slapd still runs after every bind" "it exited" "$dir/slapd.out"; fi

e2e_finish
