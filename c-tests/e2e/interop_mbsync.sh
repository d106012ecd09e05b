#!/usr/bin/env bash
# Interoperability matrix, mbsync row: isync's mbsync 1.4 (SASL through
# libsasl2 with our client plugin) synchronising a local Maildir with Cyrus
# imapd 3.6 (our server plugin; tokens checked against the test identity
# provider). mbsync hands every credential to SASL as an interaction prompt
# (its User for the names, Pass or PassCmd's first line for the secret) and
# picks the mechanism with AuthMechs. For OAUTHBEARER and XOAUTH2:
#   - `Pass TOKEN`: mbsync logs in as alice and pushes a local message into
#     her INBOX on the server (found in Cyrus' partition);
#   - `PassCmd "cat FILE"` printing `file:/path/token.json` whose access token
#     expired a minute ago: the plugin refreshes the file during the sync,
#     exactly one /token request at the provider, and the sync succeeds;
#   - a refused token (a JWT for another audience): the error challenge is
#     answered, mbsync exits non-zero within its timeout, nothing is pushed,
#     and the server's status reaches mbsync's error line.
#
# Usage: interop_mbsync.sh PLUGIN_DIR   (`make plugin idp`; root for the syslog;
#        Debian packages isync cyrus-imapd)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=idp_lib.sh
. "$here/idp_lib.sh"
# shellcheck source=interop_lib.sh
. "$here/interop_lib.sh"

json=(python3 "$here/tokenfile_json.py")

idp_script_start "$@"
if ! command -v mbsync > /dev/null; then
    not_ok "mbsync is installed" "apt-get install isync (scripts/deps.sh)"
    e2e_finish
fi
idp_require || e2e_finish
plugins=$(plugin_copy "$plugin_dir")
syslog_start
# Access tokens live an hour: longer than the client's refresh window (300 s).
idp_start --access-ttl 3600 || { not_ok "the identity provider starts"; e2e_finish; }

cyrus_new MBSYNC
cyrus_conf MBSYNC "sasl_mech_list: OAUTHBEARER XOAUTH2" \
    "sasl_oauth_issuer: $IDP_ISSUER" \
    "sasl_oauth_audience: urn:sasl-oauth:imap urn:sasl-oauth:opaque" \
    "sasl_oauth_client_id: resource-server" \
    "sasl_oauth_client_secret: rs-secret" \
    "sasl_oauth_username_claim: username" \
    "sasl_oauth_required_scope: mail" \
    "# alice's INBOX is made at her first login" \
    "autocreate_quota: 0"
cyrus_start MBSYNC "$plugins" || { not_ok "Cyrus imapd starts"; e2e_finish; }
port=$(cyrus_port MBSYNC)
ok "Cyrus imapd runs on 127.0.0.1:$port (OAUTHBEARER XOAUTH2)"

tok jwt
jwt=$TOKEN
tok jwt-other
bad=$TOKEN
shim=$(errdetail_shim) || { not_ok "the errdetail shim builds (cc, libsasl2-dev)"; e2e_finish; }

# mbsync_conf NAME MECH SECRET_LINE: an mbsync configuration with its own
# local Maildir and sync state; SECRET_LINE is `Pass …` or `PassCmd …`.
mbsync_conf() {
    local name=$1 mech=$2 secret=$3 d="$E2E_TMP/mbsync-$1"
    mkdir -p "$d/mail/INBOX"/{cur,new,tmp}
    cat > "$d/mbsyncrc" <<EOF
IMAPAccount $name
Host 127.0.0.1
Port $port
User alice
$secret
AuthMechs $mech
# plain IMAP on 127.0.0.1 (the server offers no TLS here)
SSLType None
Timeout 20

IMAPStore $name-far
Account $name

MaildirStore $name-near
Path $d/mail/
Inbox $d/mail/INBOX
SubFolders Verbatim

Channel $name
Far :$name-far:
Near :$name-near:
Patterns INBOX
Create Both
SyncState $d/state/
EOF
    mkdir -p "$d/state"
}

# local_message NAME SUBJECT: a new message in the local INBOX, to be pushed.
local_message() {
    local d="$E2E_TMP/mbsync-$1"
    printf 'From: alice@example.test\nTo: alice@example.test\nSubject: %s\nMessage-ID: <%s@e2e>\n\npushed by mbsync\n' \
        "$2" "$2" > "$d/mail/INBOX/new/$(date +%s).$$.$2:2,"
}

# on_server SUBJECT: the message is in a mailbox file under Cyrus' partition.
on_server() {
    grep -rlq -- "Subject: $1" "$E2E_TMP/MBSYNC/partition" 2> /dev/null
}

mbsync_run() { # NAME [MBSYNC FLAGS...]
    local name=$1
    shift
    env SASL_PATH="$plugins" timeout 60 mbsync -c "$E2E_TMP/mbsync-$name/mbsyncrc" -V "$@" "$name"
}

# token_file FILE: alice's token file (public client, refresh tokens rotate),
# its access token expired a minute ago.
token_file() {
    local f=$1
    idp_token user-jwt alice --client sasl-oauth-public --json > "$E2E_TMP/response.json"
    "${json[@]}" make "$f" --response "$E2E_TMP/response.json" expires_at=now-60 \
        token_endpoint="$IDP_ISSUER/token" client_id=sasl-oauth-public grant=refresh_token \
        resource=urn:sasl-oauth:imap user=alice provider=e2e-idp
    chmod 600 "$f"
}

for mech in OAUTHBEARER XOAUTH2; do
    cell_begin mbsync cyrus "$mech"
    lower=$(echo "$mech" | tr A-Z a-z)

    # Pass: the token itself.
    mbsync_conf "$lower-pass" "$mech" "Pass $jwt"
    local_message "$lower-pass" "mbsync-$lower-pass"
    run mbsync_run "$lower-pass"
    expect "mbsync (AuthMechs $mech, Pass TOKEN) -> Cyrus imapd: logs in and syncs, exit status 0" 0 \
        "^Authenticating with SASL mechanism $mech" '!Warning: SASL|Error'
    expect_syslog "mbsync -> Cyrus imapd: imapd logs alice's $mech login" \
        "login: .* alice $mech User logged in"
    if on_server "mbsync-$lower-pass"; then ok "mbsync -> Cyrus imapd ($mech): the local message is in alice's INBOX on the server"
    else not_ok "mbsync -> Cyrus imapd ($mech): the local message is in alice's INBOX on the server" "not under $E2E_TMP/MBSYNC/partition" "$RUN_LOG"; fi

    # PassCmd printing file:/path: an expired token file refreshed during the sync.
    f="$E2E_TMP/files/token-$lower.json"
    token_file "$f"
    cp -p "$f" "$E2E_TMP/files/token-$lower.before"
    printf 'file:%s\n' "$f" > "$E2E_TMP/files/secret-$lower"
    mbsync_conf "$lower-file" "$mech" "PassCmd \"cat $E2E_TMP/files/secret-$lower\""
    local_message "$lower-file" "mbsync-$lower-file"
    idp_counters_reset
    run mbsync_run "$lower-file"
    expect "mbsync (AuthMechs $mech, PassCmd printing file:/path, access token expired) -> Cyrus imapd: syncs, exit status 0" 0 \
        "^Authenticating with SASL mechanism $mech" '!Warning: SASL|Error'
    if on_server "mbsync-$lower-file"; then ok "mbsync -> Cyrus imapd ($mech, token file): the local message is on the server"
    else not_ok "mbsync -> Cyrus imapd ($mech, token file): the local message is on the server" "" "$RUN_LOG"; fi
    run "${json[@]}" compare "$E2E_TMP/files/token-$lower.before" "$f" rotated
    expect "mbsync ($mech): the plugin refreshed the token file during the sync (new access token, later expires_at)" 0 '!^FAILED'
    n=$(idp_counter /token)
    if [ "$n" = 1 ]; then ok "mbsync ($mech): exactly one /token request at the provider"
    else not_ok "mbsync ($mech): exactly one /token request at the provider" "got $n"; fi
    # A second sync uses the refreshed token as it is.
    idp_counters_reset
    run mbsync_run "$lower-file"
    n=$(idp_counter /token)
    if [ "$RUN_STATUS" -eq 0 ] && [ "$n" = 0 ]; then ok "mbsync ($mech): the next sync uses the refreshed token, no /token request"
    else not_ok "mbsync ($mech): the next sync uses the refreshed token, no /token request" "exit status $RUN_STATUS, $n requests" "$RUN_LOG"; fi

    # A refused token: error challenge answered, non-zero exit, no hang.
    mbsync_conf "$lower-bad" "$mech" "Pass $bad"
    local_message "$lower-bad" "mbsync-$lower-bad"
    if [ "$mech" = OAUTHBEARER ]; then status='invalid_token'; answer='AQ=='; else status='401'; answer=''; fi
    # -Dn shows the IMAP exchange; the shim shows what the plugin put in
    # sasl_errdetail() (mbsync prints it only when SASL itself fails).
    run env LD_PRELOAD="$shim" SASL_PATH="$plugins" timeout 60 \
        mbsync -c "$E2E_TMP/mbsync-$lower-bad/mbsyncrc" -Dn "$lower-bad"
    if [ "$RUN_STATUS" -ne 0 ] && [ "$RUN_STATUS" -ne 124 ]; then
        ok "mbsync ($mech) with a refused token: non-zero exit status ($RUN_STATUS) before its timeout"
    else
        not_ok "mbsync ($mech) with a refused token: non-zero exit status before its timeout" "exit status $RUN_STATUS" "$RUN_LOG"
    fi
    expect "mbsync ($mech) with a refused token: error challenge, our answer ('$answer'), NO; the status in sasl_errdetail" "$RUN_STATUS" \
        '^\+ [A-Za-z0-9+/=]+' "^>\+> $answer\$" '^[0-9]+ NO ' \
        "errdetail: .*status $status" '!IMAP wants more steps|Warning: SASL|Segmentation|Aborted'
    if on_server "mbsync-$lower-bad"; then not_ok "mbsync ($mech) with a refused token: nothing pushed" "the message reached the server"
    else ok "mbsync ($mech) with a refused token: nothing pushed"; fi
    cell_end
done

run imap_greeting "$port"
expect "Cyrus imapd still answers after every sync" 0 '^\* OK'
assert_no_crash_in_syslog imapd

e2e_finish
