#!/usr/bin/env bash
# Two identity providers (tests/idp/server.mjs, twice), two issuers in one
# configuration, checked with `sasl-oauth check` (the plugin's validation,
# code for code): tokens of each issuer are accepted with that issuer's keys
# (found by its own discovery); a JWT naming issuer B signed with issuer A's
# key is refused, under A's kid and under B's; a group claim rule
# (groups=mail-users) holds or fails alike for JWTs and introspected opaque
# tokens.
#
# Usage: providers_idp.sh PLUGIN_DIR      (from `make plugin idp`, `cargo build --bins`)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=idp_lib.sh
. "$here/idp_lib.sh"

if [ $# -ne 1 ]; then
    echo "usage: $0 PLUGIN_DIR" >&2
    exit 2
fi

idp_e2e_init
idp_require || finish
cli=$repo/target/debug/sasl-oauth
if [ ! -x "$cli" ]; then
    not_ok "sasl-oauth is built" "no $cli: run 'cargo build --bins'"
    finish
fi

# Two providers, each with its own keys (kept in its state directory).
idp_start --state "$E2E_TMP/idp-a" || { not_ok "provider A starts"; finish; }
issuer_a=$IDP_ISSUER
idp_start --state "$E2E_TMP/idp-b" || { not_ok "provider B starts"; finish; }
issuer_b=$IDP_ISSUER
ok "two providers run: A at $issuer_a, B at $issuer_b"

conf=$E2E_TMP/smtpd.conf
cat > "$conf" <<EOF
# written by providers_idp.sh
oauth_issuer: $issuer_a $issuer_b
oauth_audience: urn:sasl-oauth:imap urn:sasl-oauth:opaque
oauth_client_id: resource-server
oauth_client_secret: rs-secret
oauth_username_claim: username
oauth_required_scope: mail
oauth_required_claims: groups=mail-users
oauth_cache_ttl: 0
EOF

# A token of a user of each provider (tok asks the provider at IDP_ISSUER).
IDP_ISSUER=$issuer_a tok user-jwt alice
a_jwt=$TOKEN
IDP_ISSUER=$issuer_b tok user-jwt bob
b_jwt=$TOKEN
IDP_ISSUER=$issuer_a tok user-opaque alice
a_opaque=$TOKEN
IDP_ISSUER=$issuer_a tok user-jwt outsider
a_outsider_jwt=$TOKEN
IDP_ISSUER=$issuer_a tok user-opaque outsider
a_outsider_opaque=$TOKEN

check() { # TOKEN
    printf '%s\n' "$1" > "$E2E_TMP/token"
    run "$cli" check --config "$conf" --token-file "$E2E_TMP/token"
}

check "$a_jwt"
expect "issuer A's JWT is accepted with A's keys" 0 \
    "iss is $issuer_a" "claim rule groups=mail-users holds" "ACCEPTED: authentication identity 'alice'"
check "$b_jwt"
expect "issuer B's JWT is accepted with B's keys (B's own discovery)" 0 \
    "iss is $issuer_b" "key from jwks_uri from $issuer_b/" "ACCEPTED: authentication identity 'bob'"
check "$a_opaque"
expect "an opaque token is introspected and meets the group rule" 0 \
    "introspected at $issuer_a" "claim rule groups=mail-users holds" "ACCEPTED: authentication identity 'alice'"
check "$a_outsider_jwt"
expect "a JWT without the group is refused, naming the rule" 1 \
    "REFUSED.*claim rule on 'groups' not met" '!ACCEPTED'
check "$a_outsider_opaque"
expect "an opaque token without the group is refused, naming the rule" 1 \
    "REFUSED.*claim rule on 'groups' not met" '!ACCEPTED'

# forge KID: a JWT naming issuer B, signed with provider A's RS256 key
# (under KID, or A's own kid when empty).
forge() {
    node - "$E2E_TMP/idp-a/jwks.private.json" "$issuer_b" "$1" <<'JS'
const crypto = require('crypto');
const fs = require('fs');
const [file, iss, kid] = process.argv.slice(2);
const jwk = JSON.parse(fs.readFileSync(file, 'utf8')).keys.find((k) => k.alg === 'RS256');
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const input = `${b64({ alg: 'RS256', kid: kid || jwk.kid, typ: 'at+jwt' })}.${b64({
  iss, aud: 'urn:sasl-oauth:imap', sub: 'mallory', username: 'mallory', scope: 'mail',
  groups: ['mail-users'], iat: now, exp: now + 600 })}`;
const key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
console.log(`${input}.${crypto.sign('sha256', Buffer.from(input), key).toString('base64url')}`);
JS
}
b_kid=$(python3 -c 'import json,sys; print([k["kid"] for k in json.load(open(sys.argv[1]))["keys"] if k["alg"] == "RS256"][0])' \
    "$E2E_TMP/idp-b/jwks.public.json")
check "$(forge "")"
expect "a JWT naming issuer B signed with A's key (A's kid) is refused" 1 \
    "REFUSED.*unknown kid" '!ACCEPTED'
check "$(forge "$b_kid")"
expect "a JWT naming issuer B signed with A's key (B's kid) is refused" 1 \
    "REFUSED.*bad signature" '!ACCEPTED'

finish
