#!/usr/bin/env bash
# Interoperability matrix, Postfix column: Postfix 3.7 smtpd with
# `smtpd_sasl_type = cyrus` and our server plugin (instance B: one listener
# offering OAUTHBEARER and XOAUTH2, one with smtpd_sasl_mechanism_filter =
# xoauth2), tokens checked against the test identity provider, and clients
# nobody here wrote, each sending a message that must reach bob's mailbox:
#   - curl smtp:// --oauth2-bearer with --mail-from/--mail-rcpt: OAUTHBEARER,
#     and XOAUTH2 on the XOAUTH2-only listener (curl prefers OAUTHBEARER);
#   - Python's smtplib, both mechanisms, with and without initial response;
#   - Postfix's own smtp client (instance A) with our client plugin, one
#     transport per mechanism (smtp_sasl_mechanism_filter), mail queued by
#     sendmail and delivered through B;
#   - the SMTP message forms of curl, mutt, NeoMutt, msmtp and Kafka
#     (interop_forms.py).
# Refused tokens: the error challenge, the client's answer, a 535.
#
# Both instances are private (`postfix -c DIR`, everything below one
# temporary directory); the system instance is neither read nor started.
# Debian quirks (docs/platform.md §2.2): smtpd reads its SASL options from
# $config_directory/sasl/smtpd.conf; SASL_PATH reaches the daemons only
# through import_environment; maillog_file must match maillog_file_prefixes.
#
# Usage: interop_postfix.sh PLUGIN_DIR   (root; Debian postfix; `make plugin idp`)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=idp_lib.sh
. "$here/idp_lib.sh"
# shellcheck source=postfix_lib.sh
. "$here/postfix_lib.sh"
# shellcheck source=interop_lib.sh
. "$here/interop_lib.sh"

pf_script_start "$@"
idp_start || { not_ok "the identity provider starts"; e2e_finish; }

# ---------------------------------------------------------------- instances

# ---------------------------------------------------------------- B: the server

p1=$(free_port)
p2=$(free_port)
pf_new B
# smtpd chrooted (Debian's default): SASL init runs before the chroot.
pf_master B n "127.0.0.1:$p1 inet n - y - - smtpd
127.0.0.1:$p2 inet n - y - - smtpd
  -o smtpd_sasl_mechanism_filter=xoauth2"
mkdir -p "$E2E_TMP/B/mail"
chown nobody:nogroup "$E2E_TMP/B/mail"
echo "bob@example.test bob/" > "$E2E_TMP/B/etc/vmailbox"
pf_main B \
    "smtpd_banner = \$myhostname ESMTP e2e" \
    "smtpd_sasl_auth_enable = yes" \
    "smtpd_sasl_type = cyrus" \
    "smtpd_sasl_path = smtpd" \
    "smtpd_sasl_security_options = noanonymous" \
    "smtpd_tls_security_level = none" \
    "smtpd_relay_restrictions = permit_sasl_authenticated, reject" \
    "smtpd_recipient_restrictions = permit_sasl_authenticated, reject" \
    "recipient_delimiter = +" \
    "virtual_mailbox_domains = example.test" \
    "virtual_mailbox_base = $E2E_TMP/B/mail" \
    "virtual_mailbox_maps = texthash:$E2E_TMP/B/etc/vmailbox" \
    "virtual_uid_maps = static:$(id -u nobody)" \
    "virtual_gid_maps = static:$(id -g nobody)"
cat > "$E2E_TMP/B/etc/sasl/smtpd.conf" <<EOF
mech_list: OAUTHBEARER XOAUTH2
oauth_issuer: $IDP_ISSUER
oauth_audience: urn:sasl-oauth:imap urn:sasl-oauth:opaque
oauth_client_id: resource-server
oauth_client_secret: rs-secret
oauth_username_claim: username
oauth_required_scope: mail
EOF
pf_start B || e2e_finish

run smtp_probe "$p1" bob@example.test
expect "Postfix smtpd :$p1 offers AUTH OAUTHBEARER XOAUTH2 and refuses unauthenticated mail" 0 \
    'ehlo 250 .*AUTH[ =].*OAUTHBEARER' 'ehlo 250 .*AUTH[ =].*XOAUTH2' '^rcpt 5[0-9][0-9] '
run smtp_probe "$p2" bob@example.test
expect "Postfix smtpd :$p2 (smtpd_sasl_mechanism_filter = xoauth2) offers only XOAUTH2" 0 \
    'ehlo 250 .*AUTH[ =]XOAUTH2( |$)' '!OAUTHBEARER'

tok jwt
jwt=$TOKEN
tok opaque
opaque=$TOKEN
tok jwt-other
bad=$TOKEN
printf '%s\n' "$jwt" > "$E2E_TMP/files/jwt"
printf '%s\n' "$opaque" > "$E2E_TMP/files/opaque"
printf '%s\n' "$bad" > "$E2E_TMP/files/bad"

# ---------------------------------------------------------------- curl

# curl_smtp PORT TOKEN SUBJECT: curl sends one message to bob as alice.
curl_smtp() {
    local port=$1 token=$2 subject=$3 msg status=0
    msg="$E2E_TMP/files/msg-${subject// /-}"
    printf 'From: alice@example.test\r\nTo: bob@example.test\r\nSubject: %s\r\n\r\nsent by curl\r\n' \
        "$subject" > "$msg"
    curl -sS -v --max-time 20 "smtp://127.0.0.1:$port/curl.e2e.invalid" \
        --mail-from alice@example.test --mail-rcpt bob@example.test --upload-file "$msg" \
        --oauth2-bearer "$token" -u alice: 2>&1 || status=$?
    return "$status"
}

cell_begin curl postfix OAUTHBEARER
run curl_smtp "$p1" "$jwt" "curl oauthbearer"
expect "curl smtp -> Postfix smtpd: OAUTHBEARER (AUTH, 334, message) logs in and the message is accepted" 0 \
    '^> AUTH OAUTHBEARER[[:space:]]*$' '^< 235 ' '^< 250 .*queued as'
log_has "curl smtp -> Postfix smtpd: smtpd logs sasl_method=OAUTHBEARER, sasl_username=alice" B \
    'sasl_method=OAUTHBEARER, sasl_username=alice'
delivered "curl smtp -> Postfix smtpd: the message is in bob's mailbox" "curl oauthbearer"
run curl_smtp "$p1" "$bad" "curl refused"
decode_smtp_challenges
expect "curl smtp -> Postfix smtpd: OAUTHBEARER with a refused token: error challenge, AQ==, 535" 67 \
    '# challenge: .*"status": *"invalid_token"' '^> AQ==' '^< 535 ' '!^< 235 '
log_has "curl smtp -> Postfix smtpd: smtpd's log gives the plugin's reason (wrong audience)" B \
    'sasl-oauth: login refused: audience mismatch'
cell_end

cell_begin curl postfix XOAUTH2
run curl_smtp "$p2" "$opaque" "curl xoauth2"
expect "curl smtp -> Postfix smtpd (XOAUTH2 only): XOAUTH2 logs in (opaque token) and the message is accepted" 0 \
    '^> AUTH XOAUTH2[[:space:]]*$' '^< 235 ' '^< 250 .*queued as'
log_has "curl smtp -> Postfix smtpd: smtpd logs sasl_method=XOAUTH2, sasl_username=alice" B \
    'sasl_method=XOAUTH2, sasl_username=alice'
delivered "curl smtp -> Postfix smtpd: the XOAUTH2 message is in bob's mailbox" "curl xoauth2"
run curl_smtp "$p2" "$bad" "curl refused x2"
decode_smtp_challenges
expect "curl smtp -> Postfix smtpd: XOAUTH2 with a refused token: error challenge (status 401), curl gives up, nothing sent" 67 \
    '# challenge: .*"status": *"401"' '!^< 235 ' '!queued as'
server_alive "curl smtp -> Postfix smtpd: smtpd still answers after curl hung up mid-exchange" 127.0.0.1 "$p2" '^220 '
cell_end

# ---------------------------------------------------------------- Python smtplib

for mech in OAUTHBEARER XOAUTH2; do
    cell_begin python-smtplib postfix "$mech"
    run python3 "$here/interop_smtplib.py" "$mech" "$p1" alice "$E2E_TMP/files/jwt" \
        --send alice@example.test bob@example.test "smtplib $mech ir"
    expect "Python smtplib -> Postfix smtpd: $mech (initial response) logs in and sends" 0 \
        "AUTH $mech [A-Za-z0-9+/=]" '^auth: 235 ' '^sent$'
    delivered "Python smtplib -> Postfix smtpd: the $mech message is in bob's mailbox" "smtplib $mech ir"
    run python3 "$here/interop_smtplib.py" "$mech" "$p1" alice "$E2E_TMP/files/opaque" --no-ir \
        --send alice@example.test bob@example.test "smtplib $mech noir"
    expect "Python smtplib -> Postfix smtpd: $mech without initial response (opaque token) logs in and sends" 0 \
        "send: 'AUTH $mech\\\\r" '^auth: 235 ' '^sent$'
    delivered "Python smtplib -> Postfix smtpd: that message is in bob's mailbox" "smtplib $mech noir"
    run python3 "$here/interop_smtplib.py" "$mech" "$p1" alice "$E2E_TMP/files/bad"
    if [ "$mech" = OAUTHBEARER ]; then status='"status": *"invalid_token"'; else status='"status": *"401"'; fi
    expect "Python smtplib -> Postfix smtpd: $mech with a refused token: error challenge answered, 535" 1 \
        "# challenge: .*$status" '^auth: 535 ' '!^auth: 235'
    cell_end
done

# ---------------------------------------------------------------- message forms

forms_out="$E2E_TMP/out/forms-smtp.log"
python3 "$here/interop_forms.py" --server postfix --smtp "$p1" --user alice \
    --jwt "$E2E_TMP/files/jwt" --opaque "$E2E_TMP/files/opaque" --bad "$E2E_TMP/files/bad" \
    > "$forms_out" 2>&1 || true
cells_from "$forms_out"
if ! grep -q '^cell	' "$forms_out"; then
    not_ok "interop_forms.py ran to its end (SMTP)" "" "$forms_out"
fi

# ---------------------------------------------------------------- Postfix smtp client

# A: sendmail queues, one smtp transport per mechanism relays to B as alice
# with our client plugin (password = the token), B delivers to bob.
pf_new A
pf_master A n "smtp-ob   unix  -       -       n       -       -       smtp
  -o smtp_sasl_mechanism_filter=oauthbearer
smtp-x2   unix  -       -       n       -       -       smtp
  -o smtp_sasl_mechanism_filter=xoauth2
smtp-bad  unix  -       -       n       -       -       smtp
  -o smtp_sasl_mechanism_filter=oauthbearer
  -o smtp_sasl_password_maps=static:alice:$bad"
printf 'bob+ob@example.test smtp-ob:[127.0.0.1]:%s\nbob+x2@example.test smtp-x2:[127.0.0.1]:%s\nbob+bad@example.test smtp-bad:[127.0.0.1]:%s\n' \
    "$p1" "$p1" "$p1" > "$E2E_TMP/A/etc/transport"
pf_main A \
    "default_transport = error:no route in this test" \
    "transport_maps = texthash:$E2E_TMP/A/etc/transport" \
    "smtp_sasl_auth_enable = yes" \
    "smtp_sasl_type = cyrus" \
    "smtp_sasl_password_maps = static:alice:$jwt" \
    "# the plugin does not claim noplaintext (a bearer token is replayable)" \
    "smtp_sasl_security_options = noanonymous" \
    "smtp_tls_security_level = none"
if pf_start A; then
    for mech in OAUTHBEARER XOAUTH2; do
        cell_begin postfix-smtp postfix "$mech"
        if [ "$mech" = OAUTHBEARER ]; then rcpt=bob+ob@example.test; else rcpt=bob+x2@example.test; fi
        printf 'From: alice@a.e2e.invalid\nTo: %s\nSubject: postfix smtp %s\n\nrelayed by Postfix smtp\n' \
            "$rcpt" "$mech" > "$E2E_TMP/A/message-$mech"
        run sendmail -C "$E2E_TMP/A/etc" -f alice@a.e2e.invalid "$rcpt" < "$E2E_TMP/A/message-$mech"
        expect "Postfix smtp -> Postfix smtpd: sendmail queues the $mech message on A" 0
        postqueue -c "$E2E_TMP/A/etc" -f > /dev/null 2>&1 || true
        rcpt_re=${rcpt//+/\\+}
        log_has "Postfix smtp (our client plugin) -> Postfix smtpd: A's log shows status=sent for $rcpt" A \
            "to=<$rcpt_re>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$p1, .*status=sent"
        # The queue id B gave this very message: B's smtpd logged its login.
        qid=$(sed -n "s/.*to=<$rcpt>, relay=127.*status=sent (250 .*queued as \([0-9A-F]*\)).*/\1/p" \
            "$E2E_TMP/A/maillog" | tail -n 1)
        log_has "Postfix smtp -> Postfix smtpd: B received that message (queue id ${qid:-?}) after alice's $mech login" B \
            "${qid:-no-queue-id}: client=.*, sasl_method=$mech, sasl_username=alice" 2
        delivered "Postfix smtp -> Postfix smtpd: the $mech message is in bob's mailbox" "postfix smtp $mech"
        if [ "$mech" = OAUTHBEARER ]; then
            # A refused token: the message is deferred, the log says why.
            printf 'From: alice@a.e2e.invalid\nTo: bob+bad@example.test\nSubject: postfix smtp refused\n\nnot relayed\n' |
                sendmail -C "$E2E_TMP/A/etc" -f alice@a.e2e.invalid bob+bad@example.test
            postqueue -c "$E2E_TMP/A/etc" -f > /dev/null 2>&1 || true
            log_has "Postfix smtp -> Postfix smtpd: with a refused token the message is deferred, the log naming the SASL failure" A \
                'to=<bob\+bad@example\.test>, .*status=deferred .*SASL authentication failed'
        fi
        cell_end
    done
    # The refused token's warning names the server's answer (the plugin's
    # client logs it); no other SASL warning may appear.
    log_has "Postfix smtp: A's log gives the server's refusal from the plugin" A \
        'warning: SASL authentication failure: sasl-oauth: OAUTHBEARER server refused the token: status invalid_token'
    if grep 'warning: .*SASL' "$E2E_TMP/A/maillog" | grep -vq 'sasl-oauth: OAUTHBEARER server refused the token'; then
        not_ok "no other SASL warnings in A's log" "" "$E2E_TMP/A/maillog"
    else
        ok "no other SASL warnings in A's log"
    fi
fi

if grep -Eq 'fatal|panic|signal [0-9]+' "$E2E_TMP/B/maillog"; then
    not_ok "no smtpd died (B's log has no fatal, panic or signal line)" "" "$E2E_TMP/B/maillog"
else
    ok "no smtpd died (B's log has no fatal, panic or signal line)"
fi

e2e_finish
