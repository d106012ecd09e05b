#!/usr/bin/env bash
# Obtain tokens from the test identity provider (tests/idp/server.mjs).
#
#   get-token.sh ISSUER KIND [options]            client_credentials token
#   get-token.sh ISSUER user-KIND USER [options]  authorization-code flow as USER
#   get-token.sh ISSUER refresh REFRESH_TOKEN [options]
#   get-token.sh ISSUER device-approve USER_CODE USER [--deny]
#
# KIND (selects the resource indicator, hence format, audience and key):
#   jwt          urn:sasl-oauth:imap          JWT RS256, aud urn:sasl-oauth:imap
#   jwt-es256    urn:sasl-oauth:imap:es256    JWT ES256, aud urn:sasl-oauth:imap
#   jwt-eddsa    urn:sasl-oauth:imap:eddsa    JWT EdDSA, aud urn:sasl-oauth:imap
#   opaque       urn:sasl-oauth:opaque        opaque,    aud urn:sasl-oauth:opaque
#   jwt-other    urn:sasl-oauth:other         JWT RS256, aud urn:sasl-oauth:other
#   opaque-other urn:sasl-oauth:other:opaque  opaque,    aud urn:sasl-oauth:other
#   none         (no resource)                opaque, no aud, no scope
#
# Options:
#   --client ID --secret S   client (default sasl-oauth-test / test-secret)
#   --auth basic|post|none   client authentication (default: post for
#                            sasl-oauth-post, none without a secret, else basic)
#   --scope "S"              requested scope (default "mail"; user flows
#                            "openid offline_access mail")
#   --resource URI           override the resource indicator of KIND
#   --no-consent             user flows: omit prompt=consent (then no refresh token)
#   --json                   print the whole token response JSON instead of the
#                            access token
#
# Prints one access token (or the JSON) on stdout; errors on stderr, exit 1.
# Needs bash, curl and python3.
set -euo pipefail

die() { echo "get-token.sh: $*" >&2; exit 1; }
usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 2 ] || usage
ISSUER=${1%/}; KIND=$2; shift 2

USER_NAME= ; ARG=
case $KIND in
  user-*) [ $# -ge 1 ] || usage; USER_NAME=$1; shift ;;
  refresh) [ $# -ge 1 ] || usage; ARG=$1; shift ;;
  device-approve) [ $# -ge 2 ] || usage; ARG=$1; USER_NAME=$2; shift 2 ;;
esac

CLIENT=sasl-oauth-test SECRET=test-secret SECRET_SET='' AUTH='' SCOPE='' SCOPE_SET='' RESOURCE='' RESOURCE_SET='' JSON='' CONSENT=1 DENY=''
while [ $# -gt 0 ]; do
  case $1 in
    --client) CLIENT=$2; [ -n "$SECRET_SET" ] || SECRET=; shift 2 ;;
    --secret) SECRET=$2; SECRET_SET=1; shift 2 ;;
    --auth) AUTH=$2; shift 2 ;;
    --scope) SCOPE=$2; SCOPE_SET=1; shift 2 ;;
    --resource) RESOURCE=$2; RESOURCE_SET=1; shift 2 ;;
    --json) JSON=1; shift ;;
    --no-consent) CONSENT=; shift ;;
    --deny) DENY=1; shift ;;
    -h|--help) usage ;;
    *) die "unknown option $1" ;;
  esac
done
# --client without --secret: the well-known secrets of our clients
if [ -z "$SECRET_SET" ] && [ -z "$SECRET" ]; then
  case $CLIENT in
    sasl-oauth-test) SECRET=test-secret ;;
    sasl-oauth-post) SECRET=post-secret ;;
    resource-server) SECRET=rs-secret ;;
    resource-server-post) SECRET=rs-post-secret ;;
  esac
fi
if [ -z "$AUTH" ]; then
  if [ -z "$SECRET" ]; then AUTH=none
  elif [ "$CLIENT" = sasl-oauth-post ]; then AUTH=post
  else AUTH=basic; fi
fi

resource_of() {
  case $1 in
    jwt) echo urn:sasl-oauth:imap ;;
    jwt-es256) echo urn:sasl-oauth:imap:es256 ;;
    jwt-eddsa) echo urn:sasl-oauth:imap:eddsa ;;
    opaque) echo urn:sasl-oauth:opaque ;;
    jwt-other) echo urn:sasl-oauth:other ;;
    opaque-other) echo urn:sasl-oauth:other:opaque ;;
    none) echo "" ;;
    *) die "unknown kind $1" ;;
  esac
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
JAR=$TMP/cookies

# client authentication as curl arguments
auth_args=()
case $AUTH in
  basic) auth_args=(-u "$CLIENT:$SECRET") ;;
  post) auth_args=(--data-urlencode "client_id=$CLIENT" --data-urlencode "client_secret=$SECRET") ;;
  none) auth_args=(--data-urlencode "client_id=$CLIENT") ;;
  *) die "--auth must be basic, post or none" ;;
esac

json_get() { # KEY < json ; prints value or nothing
  python3 -c 'import json,sys
try: v=json.load(sys.stdin).get(sys.argv[1])
except Exception: v=None
print("" if v is None else v)' "$1"
}

# POST to the token endpoint, print the result
token_request() {
  local body status
  status=$(curl -sS -o "$TMP/token.json" -w '%{http_code}' "${auth_args[@]}" "$@" "$ISSUER/token") \
    || die "token endpoint unreachable at $ISSUER/token"
  body=$(cat "$TMP/token.json")
  [ "$status" = 200 ] || die "token endpoint answered $status: $body"
  if [ -n "$JSON" ]; then
    printf '%s\n' "$body"
  else
    local at; at=$(json_get access_token <<<"$body")
    [ -n "$at" ] || die "no access_token in $body"
    printf '%s\n' "$at"
  fi
}

# GET/POST with the cookie jar, no redirects; sets STATUS, LOCATION, $TMP/page
http() {
  local out
  out=$(curl -sS -b "$JAR" -c "$JAR" -o "$TMP/page" -w '%{http_code} %{redirect_url}' "$@") \
    || die "request failed: $*"
  STATUS=${out%% *}; LOCATION=${out#* }
}

# Drive devInteractions from URL $1 (a redirect to /interaction/...) until
# a redirect leaves the provider's interaction pages; sets LOCATION.
interact() {
  LOCATION=$1
  local _ prompt page
  for _ in $(seq 1 12); do
    case $LOCATION in
      "$ISSUER"/interaction/*)
        page=$LOCATION
        http "$page"
        [ "$STATUS" = 200 ] || die "interaction page answered $STATUS: $(head -c 300 "$TMP/page")"
        prompt=$(sed -n 's/.*name="prompt" value="\([a-z]*\)".*/\1/p' "$TMP/page" | head -n1)
        if [ -n "$DENY" ]; then
          http "$page/abort"
          continue
        fi
        case $prompt in
          login) http --data-urlencode prompt=login --data-urlencode "login=$USER_NAME" \
                   --data-urlencode password=x "$page" ;;
          consent) http --data-urlencode prompt=consent "$page" ;;
          *) die "unexpected interaction page (prompt '$prompt')" ;;
        esac
        ;;
      "$ISSUER"/*)
        http "$LOCATION"
        ;;
      *) return 0 ;;
    esac
    [ -n "$LOCATION" ] || return 0
  done
  die "too many redirects"
}

case $KIND in
  refresh)
    args=(--data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$ARG")
    [ -z "$RESOURCE_SET" ] || args+=(--data-urlencode "resource=$RESOURCE")
    [ -z "$SCOPE_SET" ] || args+=(--data-urlencode "scope=$SCOPE")
    token_request "${args[@]}"
    ;;

  device-approve)
    # the browser side of the device flow: enter USER_CODE, log in, consent
    http "$ISSUER/device"
    xsrf=$(sed -n 's/.*name="xsrf" value="\([^"]*\)".*/\1/p' "$TMP/page" | head -n1)
    [ -n "$xsrf" ] || die "no xsrf field on $ISSUER/device"
    http --data-urlencode "xsrf=$xsrf" --data-urlencode "user_code=$ARG" "$ISSUER/device"
    # confirmation page: same form again with confirm=yes (abort=yes denies)
    xsrf=$(sed -n 's/.*name="xsrf" value="\([^"]*\)".*/\1/p' "$TMP/page" | head -n1)
    grep -q 'name="confirm"' "$TMP/page" || die "user code not accepted: $(sed -n 's/.*<p[^>]*>\([^<]*\).*/\1/p' "$TMP/page" | head -n3)"
    if [ -n "$DENY" ]; then
      http --data-urlencode "xsrf=$xsrf" --data-urlencode "user_code=$ARG" --data-urlencode abort=yes "$ISSUER/device"
      echo denied; exit 0
    fi
    http --data-urlencode "xsrf=$xsrf" --data-urlencode "user_code=$ARG" --data-urlencode confirm=yes "$ISSUER/device"
    [ -n "$LOCATION" ] || die "device confirmation answered $STATUS without redirect"
    interact "$LOCATION"
    [ "$STATUS" = 200 ] || die "device confirmation answered $STATUS"
    if [ -n "$DENY" ]; then echo denied; else
      grep -qi 'sign-in is complete\|success' "$TMP/page" || die "device flow did not complete: $(head -c 300 "$TMP/page")"
      echo approved
    fi
    ;;

  user-*)
    kind=${KIND#user-}
    [ -n "$RESOURCE_SET" ] || RESOURCE=$(resource_of "$kind") || exit 1
    [ -n "$SCOPE_SET" ] || SCOPE="openid offline_access mail"
    REDIRECT=http://127.0.0.1/callback
    read -r VERIFIER CHALLENGE STATE < <(python3 -c '
import base64,hashlib,secrets
v=secrets.token_urlsafe(48)
c=base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).rstrip(b"=").decode()
print(v, c, secrets.token_urlsafe(12))')
    q=(--get --data-urlencode "client_id=$CLIENT" --data-urlencode response_type=code
       --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "scope=$SCOPE"
       --data-urlencode "state=$STATE" --data-urlencode "code_challenge=$CHALLENGE"
       --data-urlencode code_challenge_method=S256)
    [ -z "$RESOURCE" ] || q+=(--data-urlencode "resource=$RESOURCE")
    [ -z "$CONSENT" ] || q+=(--data-urlencode prompt=consent)
    http "${q[@]}" "$ISSUER/auth"
    [ -n "$LOCATION" ] || die "authorization request answered $STATUS: $(head -c 300 "$TMP/page")"
    interact "$LOCATION"
    read -r CODE GOTSTATE ERR < <(python3 -c '
import sys,urllib.parse as u
q=u.parse_qs(u.urlsplit(sys.argv[1]).query)
g=lambda k: q.get(k,["-"])[0]
print(g("code"), g("state"), g("error"))' "$LOCATION")
    [ "$ERR" = - ] || die "authorization failed: $LOCATION"
    [ "$CODE" != - ] || die "no code in redirect: $LOCATION"
    [ "$GOTSTATE" = "$STATE" ] || die "state mismatch"
    args=(--data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE"
          --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=$VERIFIER")
    [ -z "$RESOURCE" ] || args+=(--data-urlencode "resource=$RESOURCE")
    token_request "${args[@]}"
    ;;

  *)
    [ -n "$RESOURCE_SET" ] || RESOURCE=$(resource_of "$KIND") || exit 1
    [ -n "$SCOPE_SET" ] || SCOPE=mail
    args=(--data-urlencode grant_type=client_credentials)
    [ -z "$SCOPE" ] || args+=(--data-urlencode "scope=$SCOPE")
    [ -z "$RESOURCE" ] || args+=(--data-urlencode "resource=$RESOURCE")
    token_request "${args[@]}"
    ;;
esac
