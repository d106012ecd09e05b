#!/usr/bin/env bash
# Self-test of the test identity provider: starts tests/idp/server.mjs on a
# free 127.0.0.1 port, exercises discovery, JWT and opaque tokens,
# introspection, revocation, key rotation, restart with --state, the
# authorization-code, refresh and device flows, and the outage modes.
# Prints `ok - …` / `not ok - …` and `N passed, N failed`; exit 1 on failure.
# Needs node (with `npm ci --prefix tests/idp` done; run here if missing),
# curl and python3.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
GET="$HERE/get-token.sh"
TMP=$(mktemp -d)
PID=
PASS=0 FAIL=0

cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
nok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
# check DESCRIPTION COMMAND... : ok when the command succeeds
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
# py JSON EXPR : evaluate a python expression over j = parsed JSON
py() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); r=eval(sys.argv[2]); print(r if not isinstance(r,(dict,list,bool)) else json.dumps(r))' "$1" "$2" 2>/dev/null; }
# jwt_part TOKEN 0|1 : decoded header or payload JSON
jwt_part() { python3 -c 'import sys,json,base64; s=sys.argv[1].split(".")[int(sys.argv[2])]; print(json.dumps(json.loads(base64.urlsafe_b64decode(s+"="*(-len(s)%4)))))' "$1" "$2" 2>/dev/null; }
eq() { [ "$1" = "$2" ] || { echo "#   got '$1', expected '$2'" >&2; return 1; }; }

if [ ! -d "$HERE/node_modules/oidc-provider" ]; then
  echo "# installing oidc-provider (npm ci --prefix $HERE)"
  npm ci --prefix "$HERE" --no-audit --no-fund >"$TMP/npm.log" 2>&1 || { cat "$TMP/npm.log" >&2; echo "not ok - npm ci"; echo "0 passed, 1 failed"; exit 1; }
fi

STATE="$TMP/state"
start() {
  : >"$TMP/out"
  node "$HERE/server.mjs" --port 0 --state "$STATE" "$@" >"$TMP/out" 2>>"$TMP/err" &
  PID=$!
  local _
  for _ in $(seq 1 600); do
    grep -q '^ready ' "$TMP/out" && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  ISSUER=$(sed -n 's/^ready //p' "$TMP/out")
  [ -n "$ISSUER" ]
}
stop() {
  kill -TERM "$PID" 2>/dev/null
  local rc=0
  wait "$PID" || rc=$?
  PID=
  return $rc
}

if ! start; then
  nok "server starts"; cat "$TMP/err" >&2; echo "$PASS passed, $FAIL failed"; exit 1
fi
ok "server starts: $ISSUER"
check "issuer is http://127.0.0.1:PORT" eval '[[ $ISSUER =~ ^http://127\.0\.0\.1:[0-9]+$ ]]'
check "stdout is exactly the ready line" eq "$(wc -l <"$TMP/out")" 1

# ------------------------------------------------------------ discovery
DISC=$(curl -sf "$ISSUER/.well-known/openid-configuration")
check "discovery: issuer" eq "$(py "$DISC" 'j["issuer"]')" "$ISSUER"
check "discovery: jwks_uri" eq "$(py "$DISC" 'j["jwks_uri"]')" "$ISSUER/jwks"
check "discovery: introspection_endpoint" eq "$(py "$DISC" 'j["introspection_endpoint"]')" "$ISSUER/token/introspection"
check "discovery: revocation_endpoint" eq "$(py "$DISC" 'j["revocation_endpoint"]')" "$ISSUER/token/revocation"
check "discovery: device_authorization_endpoint" eq "$(py "$DISC" 'j["device_authorization_endpoint"]')" "$ISSUER/device/auth"
check "discovery: grants include client_credentials and device_code" eq \
  "$(py "$DISC" '"client_credentials" in j["grant_types_supported"] and "urn:ietf:params:oauth:grant-type:device_code" in j["grant_types_supported"]')" true
JWKS=$(curl -sf "$ISSUER/jwks")
check "jwks: RS256, ES256 and EdDSA public keys, no private parts" eq \
  "$(py "$JWKS" 'sorted(k["alg"] for k in j["keys"]) == ["ES256","EdDSA","RS256"] and not any("d" in k for k in j["keys"])')" true
check "state: jwks.private.json written" test -s "$STATE/jwks.private.json"
KID1=$(py "$JWKS" '[k["kid"] for k in j["keys"] if k["alg"]=="RS256"][0]')

# ------------------------------------------------------------ JWT access token
JWT=$("$GET" "$ISSUER" jwt 2>>"$TMP/err")
H=$(jwt_part "$JWT" 0); P=$(jwt_part "$JWT" 1)
echo "# jwt header  $H"
echo "# jwt payload $P"
check "jwt: header alg RS256, typ at+jwt, kid of the published key" eq \
  "$(py "$H" 'j["alg"]+" "+j["typ"]+" "+j["kid"]')" "RS256 at+jwt $KID1"
check "jwt: iss" eq "$(py "$P" 'j["iss"]')" "$ISSUER"
check "jwt: aud urn:sasl-oauth:imap" eq "$(py "$P" 'j["aud"]')" "urn:sasl-oauth:imap"
check "jwt: scope mail" eq "$(py "$P" 'j["scope"]')" "mail"
check "jwt: sub is the client id, username alice" eq "$(py "$P" 'j["sub"]+" "+j["username"]')" "sasl-oauth-test alice"
check "jwt: exp - iat = 300" eq "$(py "$P" 'j["exp"]-j["iat"]')" 300
for v in es256:ES256 eddsa:EdDSA; do
  T=$("$GET" "$ISSUER" "jwt-${v%%:*}" 2>>"$TMP/err")
  check "jwt-${v%%:*}: alg ${v#*:}, aud urn:sasl-oauth:imap" eq \
    "$(py "$(jwt_part "$T" 0)" 'j["alg"]') $(py "$(jwt_part "$T" 1)" 'j["aud"]')" "${v#*:} urn:sasl-oauth:imap"
done
T=$("$GET" "$ISSUER" jwt --client sasl-oauth-post 2>>"$TMP/err")
check "jwt via client_secret_post client: username bob" eq "$(py "$(jwt_part "$T" 1)" 'j["username"]')" bob
check "wrong client secret is refused" eval '! "$GET" "$ISSUER" jwt --secret wrong 2>/dev/null'
check "unknown resource is refused" eval '! "$GET" "$ISSUER" jwt --resource urn:nope 2>/dev/null'

# ------------------------------------------------------------ opaque + introspection + revocation
OPQ=$("$GET" "$ISSUER" opaque 2>>"$TMP/err")
check "opaque: not a JWT" eval '[[ -n $OPQ && $OPQ != *.* ]]'
intro() { curl -sf -u resource-server:rs-secret --data-urlencode "token=$1" "$ISSUER/token/introspection"; }
I1=$(intro "$OPQ")
echo "# introspection $I1"
check "introspection: active, username alice, scope mail" eq \
  "$(py "$I1" 'str(j["active"])+" "+j["username"]+" "+j["scope"]')" "True alice mail"
check "introspection: aud, iss, client_id, exp" eq \
  "$(py "$I1" 'j["aud"]+" "+j["iss"]+" "+j["client_id"]+" "+str(j["exp"]>j["iat"])')" "urn:sasl-oauth:opaque $ISSUER sasl-oauth-test True"
I1P=$(curl -sf --data-urlencode client_id=resource-server-post --data-urlencode client_secret=rs-post-secret \
  --data-urlencode "token=$OPQ" "$ISSUER/token/introspection")
check "introspection with client_secret_post client" eq "$(py "$I1P" 'j["active"]')" true
check "introspection with a wrong secret is 401" eq \
  "$(curl -s -o /dev/null -w '%{http_code}' -u resource-server:nope --data-urlencode "token=$OPQ" "$ISSUER/token/introspection")" 401
check "introspection of an unknown token: active false" eq "$(py "$(intro made-up-token)" 'j')" '{"active": false}'
check "revocation answers 200" eq \
  "$(curl -s -o /dev/null -w '%{http_code}' -u sasl-oauth-test:test-secret --data-urlencode "token=$OPQ" "$ISSUER/token/revocation")" 200
check "introspection after revocation: active false" eq "$(py "$(intro "$OPQ")" 'j')" '{"active": false}'

# ------------------------------------------------------------ user flows
UJ=$("$GET" "$ISSUER" user-jwt carol --json 2>>"$TMP/err")
UP=$(jwt_part "$(py "$UJ" 'j["access_token"]')" 1)
check "user-jwt: sub and username carol, aud, scope mail" eq \
  "$(py "$UP" 'j["sub"]+" "+j["username"]+" "+j["aud"]+" "+j["scope"]')" "carol carol urn:sasl-oauth:imap mail"
RT=$(py "$UJ" 'j.get("refresh_token","")')
check "user-jwt --json: refresh token issued" test -n "$RT"
RJ=$("$GET" "$ISSUER" refresh "$RT" --json 2>>"$TMP/err")
check "refresh: new JWT for carol" eq "$(py "$(jwt_part "$(py "$RJ" 'j["access_token"]')" 1)" 'j["sub"]')" carol
UO=$("$GET" "$ISSUER" user-opaque dave 2>>"$TMP/err")
check "user-opaque: introspection has sub and username dave" eq "$(py "$(intro "$UO")" 'j["sub"]+" "+j["username"]')" "dave dave"
check "user-jwt --deny fails" eval '! "$GET" "$ISSUER" user-jwt carol --deny 2>/dev/null'
PJ=$("$GET" "$ISSUER" user-jwt erin --client sasl-oauth-public 2>>"$TMP/err")
check "public client code flow with PKCE: sub erin" eq "$(py "$(jwt_part "$PJ" 1)" 'j["sub"]+" "+j["client_id"]')" "erin sasl-oauth-public"

DA=$(curl -sf --data-urlencode client_id=sasl-oauth-public --data-urlencode "scope=openid offline_access mail" \
  --data-urlencode resource=urn:sasl-oauth:imap "$ISSUER/device/auth")
DC=$(py "$DA" 'j["device_code"]'); UC=$(py "$DA" 'j["user_code"]')
dpoll() { curl -s --data-urlencode client_id=sasl-oauth-public \
  --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:device_code --data-urlencode "device_code=$DC" "$ISSUER/token"; }
check "device flow: pending before approval" eq "$(py "$(dpoll)" 'j["error"]')" authorization_pending
check "device flow: approve as frank" eq "$("$GET" "$ISSUER" device-approve "$UC" frank 2>>"$TMP/err")" approved
DT=$(dpoll)
check "device flow: JWT for frank and a refresh token" eq \
  "$(py "$(jwt_part "$(py "$DT" 'j["access_token"]')" 1)" 'j["sub"]') $(py "$DT" '"refresh_token" in j')" "frank true"

# ------------------------------------------------------------ rotation
R=$(curl -sf -X POST "$ISSUER/admin/rotate")
KID2=$(py "$R" 'j["signing_kids"][0]')
JWKS=$(curl -sf "$ISSUER/jwks")
check "rotate: new RS256 kid first, old one still published" eq \
  "$(py "$JWKS" '[k["kid"] for k in j["keys"] if k["alg"]=="RS256"]')" "[\"$KID2\", \"$KID1\"]"
T=$("$GET" "$ISSUER" jwt 2>>"$TMP/err")
check "rotate: new tokens carry the new kid" eq "$(py "$(jwt_part "$T" 0)" 'j["kid"]')" "$KID2"
check "rotate: a token issued before rotation still introspects" eq "$(py "$(intro "$UO")" 'j["active"]')" true

# ------------------------------------------------------------ outage modes and counters
curl -sf -X POST "$ISSUER/admin/counters/reset" >/dev/null
curl -sf -X POST "$ISSUER/admin/mode?mode=error&path=/jwks" >/dev/null
check "mode=error: /jwks answers 503" eq "$(curl -s -o /dev/null -w '%{http_code}' "$ISSUER/jwks")" 503
check "mode=error path=/jwks: discovery still 200" eq "$(curl -s -o /dev/null -w '%{http_code}' "$ISSUER/.well-known/openid-configuration")" 200
curl -sf -X POST "$ISSUER/admin/mode?mode=hang" >/dev/null
check "mode=hang: no answer within 1 s" eval '! curl -s -m 1 -o /dev/null "$ISSUER/jwks"'
curl -sf -X POST "$ISSUER/admin/mode?mode=normal" >/dev/null
check "counters: /jwks counted 2" eq "$(py "$(curl -sf "$ISSUER/admin/counters")" 'j["/jwks"]')" 2

# ------------------------------------------------------------ expiry
curl -sf -X POST "$ISSUER/admin/ttl?access=1&device=1" >/dev/null
DA=$(curl -sf --data-urlencode client_id=sasl-oauth-public --data-urlencode "scope=openid mail" \
  --data-urlencode resource=urn:sasl-oauth:imap "$ISSUER/device/auth")
DC=$(py "$DA" 'j["device_code"]')
check "admin/ttl: device code expires_in 1" eq "$(py "$DA" 'j["expires_in"]')" 1
SHORT=$("$GET" "$ISSUER" opaque 2>>"$TMP/err")
sleep 2.2
check "device flow: expired device code gives expired_token" eq "$(py "$(dpoll)" 'j["error"]')" expired_token
check "introspection of an expired opaque token: active false" eq "$(py "$(intro "$SHORT")" 'j')" '{"active": false}'
curl -sf -X POST "$ISSUER/admin/ttl?access=300&device=600" >/dev/null

# ------------------------------------------------------------ restart keeps keys
if stop; then ok "SIGTERM: exit status 0"; else nok "SIGTERM: exit status 0"; fi
if start; then
  JWKS=$(curl -sf "$ISSUER/jwks")
  check "restart with --state: same keys" eq "$(py "$JWKS" '[k["kid"] for k in j["keys"] if k["alg"]=="RS256"]')" "[\"$KID2\", \"$KID1\"]"
  stop || true
else
  nok "restart with --state"
fi
if start --rotate --access-ttl 30; then
  T=$("$GET" "$ISSUER" jwt 2>>"$TMP/err")
  KID3=$(py "$(jwt_part "$T" 0)" 'j["kid"]')
  check "restart with --rotate: new kid, 3 RS256 keys published" eq \
    "$(py "$(curl -sf "$ISSUER/jwks")" 'len([k for k in j["keys"] if k["alg"]=="RS256"])') $([ "$KID3" != "$KID2" ] && echo new)" "3 new"
  check "--access-ttl 30" eq "$(py "$(jwt_part "$T" 1)" 'j["exp"]-j["iat"]')" 30
  stop || true
else
  nok "restart with --rotate"
fi

if [ "$FAIL" -gt 0 ]; then
  echo "# server stderr:"; sed 's/^/#   /' "$TMP/err" | tail -n 30
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
