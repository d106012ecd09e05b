#!/usr/bin/env bash
# Several accounts on one relay: a Postfix instance (A) sends for two senders
# through two providers, each sender with its own token file from its own
# identity provider:
#   alice@one.example -> [127.0.0.1]:P1 (instance B1: OAUTHBEARER only, trusts
#                        provider one's issuer only), token file one.json
#   carol@two.example -> [127.0.0.1]:P2 (instance B2: XOAUTH2 only, trusts
#                        provider two's issuer only), token file two.json
# A chooses the relay host by sender (sender_dependent_relayhost_maps) and the
# credentials by sender (smtp_sender_dependent_authentication = yes, the
# password map keyed by sender address). Checked:
#   - both token files start expired; one message from each sender: each is
#     delivered by its own server as its own user, each file is refreshed,
#     exactly one /token request at each provider;
#   - only two.json expired again: the next two messages make one /token
#     request at provider two and none at provider one, one.json unchanged;
#   - the wrong pairing fails closed: B1 refuses provider two's tokens and B2
#     provider one's (a direct login with each other's token).
#
# Usage: postfix_accounts.sh PLUGIN_DIR   (root; Debian package postfix; `make idp`)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
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

# Two providers: idp_lib.sh tracks the last one started; keep each issuer.
# Access tokens live an hour: longer than the client's refresh window (300 s).
idp_start --access-ttl 3600 || e2e_finish
issuer_one=$IDP_ISSUER
idp_start --access-ttl 3600 || e2e_finish
issuer_two=$IDP_ISSUER
if [ "$issuer_one" != "$issuer_two" ]; then ok "two identity providers run: $issuer_one and $issuer_two"
else not_ok "two identity providers run" "both are $issuer_one"; e2e_finish; fi
# with_provider ISSUER CMD...: an idp_lib.sh helper run against that provider.
with_provider() {
    local IDP_ISSUER=$1
    shift
    "$@"
}

# ---------------------------------------------------------------- B1, B2: the providers' servers

# server NAME ISSUER MECH: a receiving smtpd trusting ISSUER only, offering
# MECH only, delivering bob@example.test into its own Maildir.
server() {
    local name=$1 issuer=$2 mech=$3 port
    port=$(free_port)
    echo "$port" > "$E2E_TMP/$name.port"
    pf_new "$name"
    pf_master "$name" n "127.0.0.1:$port inet n - n - - smtpd"
    mkdir -p "$E2E_TMP/$name/mail"
    chown nobody:nogroup "$E2E_TMP/$name/mail"
    echo "bob@example.test bob/" > "$E2E_TMP/$name/etc/vmailbox"
    pf_main "$name" \
        "smtpd_banner = \$myhostname ESMTP e2e" \
        "smtpd_sasl_auth_enable = yes" \
        "smtpd_sasl_type = cyrus" \
        "smtpd_sasl_path = smtpd" \
        "smtpd_sasl_security_options = noanonymous" \
        "smtpd_tls_security_level = none" \
        "smtpd_relay_restrictions = permit_sasl_authenticated, reject" \
        "smtpd_recipient_restrictions = permit_sasl_authenticated, reject" \
        "virtual_mailbox_domains = example.test" \
        "virtual_mailbox_base = $E2E_TMP/$name/mail" \
        "virtual_mailbox_maps = texthash:$E2E_TMP/$name/etc/vmailbox" \
        "virtual_uid_maps = static:$(id -u nobody)" \
        "virtual_gid_maps = static:$(id -g nobody)"
    cat > "$E2E_TMP/$name/etc/sasl/smtpd.conf" <<EOF
mech_list: $mech
oauth_issuer: $issuer
oauth_audience: urn:sasl-oauth:imap
oauth_username_claim: username
EOF
    pf_start "$name" || e2e_finish
}
server B1 "$issuer_one" OAUTHBEARER
server B2 "$issuer_two" XOAUTH2
port1=$(cat "$E2E_TMP/B1.port")
port2=$(cat "$E2E_TMP/B2.port")
run smtp_probe "$port1"
expect "B1 offers AUTH OAUTHBEARER only" 0 'ehlo 250 .*AUTH[ =]OAUTHBEARER' '!ehlo 250 .*XOAUTH2'
run smtp_probe "$port2"
expect "B2 offers AUTH XOAUTH2 only" 0 'ehlo 250 .*AUTH[ =]XOAUTH2' '!ehlo 250 .*OAUTHBEARER'

# ---------------------------------------------------------------- token files

tokens="$E2E_TMP/A-tokens"
mkdir -p "$tokens"
# token_file FILE ISSUER USER: USER's token file from that provider (public
# client: refresh tokens rotate), its access token expired a minute ago,
# owned by postfix (smtp writes the file and its lock file beside it).
token_file() {
    local f=$1 issuer=$2 user=$3
    with_provider "$issuer" idp_token user-jwt "$user" --client sasl-oauth-public --json > "$E2E_TMP/response.json"
    "${json[@]}" make "$f" --response "$E2E_TMP/response.json" expires_at=now-60 \
        token_endpoint="$issuer/token" client_id=sasl-oauth-public grant=refresh_token \
        resource=urn:sasl-oauth:imap user="$user" provider="$(basename "$f" .json)"
    chown postfix:postfix "$f"
    chmod 600 "$f"
}
token_file "$tokens/one.json" "$issuer_one" alice
token_file "$tokens/two.json" "$issuer_two" carol
chown postfix:postfix "$tokens"
chmod 700 "$tokens"

# ---------------------------------------------------------------- A: the relay

pf_new A
pf_master A n
cat > "$E2E_TMP/A/etc/relayhost" <<EOF
alice@one.example [127.0.0.1]:$port1
carol@two.example [127.0.0.1]:$port2
EOF
cat > "$E2E_TMP/A/etc/sasl_passwd" <<EOF
alice@one.example alice:file:$tokens/one.json
carol@two.example carol:file:$tokens/two.json
EOF
pf_main A \
    "# the relay host and the credentials follow the envelope sender" \
    "sender_dependent_relayhost_maps = texthash:$E2E_TMP/A/etc/relayhost" \
    "smtp_sender_dependent_authentication = yes" \
    "smtp_sasl_password_maps = texthash:$E2E_TMP/A/etc/sasl_passwd" \
    "smtp_sasl_auth_enable = yes" \
    "smtp_sasl_type = cyrus" \
    "smtp_sasl_security_options = noanonymous" \
    "smtp_tls_security_level = none" \
    "minimal_backoff_time = 1s" "maximal_backoff_time = 2s" "queue_run_delay = 1s"
pf_start A || e2e_finish

# send FROM SUBJECT: inject a message from FROM to bob with A's sendmail.
send() {
    printf 'From: %s\nTo: bob@example.test\nSubject: %s\n\nsent for %s\n' "$1" "$2" "$1" > "$E2E_TMP/A/message"
    run sendmail -C "$E2E_TMP/A/etc" -f "$1" bob@example.test < "$E2E_TMP/A/message"
    expect "sendmail -C accepts the message from $1" 0
}
# in_mailbox NAME INSTANCE SUBJECT: the message reached bob's Maildir there.
in_mailbox() { delivered "$1" "$3" "$2"; }
not_in_mailbox() {
    if grep -rqs -- "Subject: $3" "$E2E_TMP/$2/mail/bob/"; then not_ok "$1" "the message is in $2's Maildir"
    else ok "$1"; fi
}
counter_is() { # NAME ISSUER PATH WANT
    local n
    n=$(with_provider "$2" idp_counter "$3")
    if [ "$n" = "$4" ]; then ok "$1"; else not_ok "$1" "got $n"; fi
}
# round N: one message from each sender, both delivered where they belong.
round() {
    local n=$1
    send alice@one.example "accounts $n alice"
    send carol@two.example "accounts $n carol"
    postqueue -c "$E2E_TMP/A/etc" -f > /dev/null 2>&1 || true
    in_mailbox "round $n: alice's message arrives through B1 (provider one's server)" B1 "accounts $n alice"
    in_mailbox "round $n: carol's message arrives through B2 (provider two's server)" B2 "accounts $n carol"
    not_in_mailbox "round $n: alice's message did not go through B2" B2 "accounts $n alice"
    not_in_mailbox "round $n: carol's message did not go through B1" B1 "accounts $n carol"
}

cp -p "$tokens/one.json" "$E2E_TMP/one.before"
cp -p "$tokens/two.json" "$E2E_TMP/two.before"
with_provider "$issuer_one" idp_counters_reset
with_provider "$issuer_two" idp_counters_reset
round 1
log_has "round 1: B1 logs alice's OAUTHBEARER login" B1 'sasl_method=OAUTHBEARER, sasl_username=alice$'
log_has "round 1: B2 logs carol's XOAUTH2 login" B2 'sasl_method=XOAUTH2, sasl_username=carol$'
run "${json[@]}" compare "$E2E_TMP/one.before" "$tokens/one.json" rotated
expect "round 1: one.json (expired) was refreshed" 0 '!^FAILED'
run "${json[@]}" compare "$E2E_TMP/two.before" "$tokens/two.json" rotated
expect "round 1: two.json (expired) was refreshed" 0 '!^FAILED'
counter_is "round 1: one /token request at provider one" "$issuer_one" /token 1
counter_is "round 1: one /token request at provider two" "$issuer_two" /token 1

# Only two.json expires again: provider two alone is asked.
"${json[@]}" set "$tokens/two.json" expires_at=now-60
cp -p "$tokens/one.json" "$E2E_TMP/one.before"
cp -p "$tokens/two.json" "$E2E_TMP/two.before"
with_provider "$issuer_one" idp_counters_reset
with_provider "$issuer_two" idp_counters_reset
round 2
if cmp -s "$E2E_TMP/one.before" "$tokens/one.json"; then ok "round 2: one.json (still fresh) is unchanged"
else not_ok "round 2: one.json (still fresh) is unchanged" "it was rewritten"; fi
run "${json[@]}" compare "$E2E_TMP/two.before" "$tokens/two.json"
expect "round 2: two.json (expired again) was refreshed" 0 '!^FAILED'
counter_is "round 2: no /token request at provider one" "$issuer_one" /token 0
counter_is "round 2: one /token request at provider two" "$issuer_two" /token 1
if grep -q 'warning: .*SASL\|sasl-oauth.*error' "$E2E_TMP/A/maillog"; then
    not_ok "no SASL warnings in A's log" "" "$E2E_TMP/A/maillog"
else
    ok "no SASL warnings in A's log"
fi

# ---------------------------------------------------------------- the wrong pairing fails closed

# Each server refuses the other provider's token (issuer not trusted): a
# token file given to the wrong relay host could not log in.
cross() { # PORT MECH TOKEN_FILE
    python3 - "$@" <<'EOF'
import base64, json, smtplib, sys
port, mech, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
token = json.load(open(path))["access_token"]
if mech == "XOAUTH2":
    msg = "user=carol\x01auth=Bearer %s\x01\x01" % token
else:
    msg = "n,a=alice,\x01auth=Bearer %s\x01\x01" % token
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
s.ehlo("cross.e2e.invalid")
code, text = s.docmd("AUTH", "%s %s" % (mech, base64.b64encode(msg.encode()).decode()))
print("auth %d" % code)
if code == 334:
    print("challenge " + base64.b64decode(text).decode("utf-8", "replace"))
    code, text = s.docmd("AQ==" if mech == "OAUTHBEARER" else "")
    print("final %d %s" % (code, text.decode()))
s.quit()
EOF
}
run cross "$port1" OAUTHBEARER "$tokens/two.json"
expect "B1 refuses provider two's token (issuer not trusted): error challenge, 535" 0 \
    '^auth 334' '^final 535 ' '!^auth 235'
log_has "B1's log: refused for the issuer" B1 "sasl-oauth: login refused: issuer mismatch: token has '$issuer_two'"
run cross "$port2" XOAUTH2 "$tokens/one.json"
expect "B2 refuses provider one's token (issuer not trusted): error challenge, 535" 0 \
    '^auth 334' '^final 535 ' '!^auth 235'
log_has "B2's log: refused for the issuer" B2 "sasl-oauth: login refused: issuer mismatch: token has '$issuer_one'"

pf_stop A
pf_stop B1
pf_stop B2
e2e_finish
