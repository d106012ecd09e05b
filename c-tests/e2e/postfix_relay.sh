#!/usr/bin/env bash
# Postfix end to end: a Postfix instance (A) relays a message through a second
# Postfix instance (B) on 127.0.0.1 whose smtpd authenticates with our server
# plugin (JWTs of the test identity provider, keys by discovery). A's smtp
# client logs in with our client plugin and a password map entry
# `file:/…/token.json` whose access token has already expired: the plugin
# refreshes the file (refresh_token grant, rotating refresh tokens) and the
# message is sent. Runs:
#   - smtp_sasl_mechanism_filter = xoauth2, smtp not chrooted;
#   - smtp_sasl_mechanism_filter = oauthbearer, smtp not chrooted;
#   - oauthbearer with smtp chrooted (master.cf chroot y) and the token file
#     inside the queue directory (the map names it as seen inside the chroot);
#   - a token file whose unexpired access token the server refuses: the plugin
#     refreshes it and returns SASL_TRYAGAIN, Postfix defers the message, and
#     `postqueue -f` sends it with the new token.
# Plus: B refuses mail from a client that did not authenticate.
#
# Both instances are private (config, queue and data directories and the
# maillog below one temporary directory, `postfix -c DIR`); the system
# instance (/etc/postfix) is neither read for configuration nor started.
# Debian quirks used here (docs/platform.md §2.2): smtpd reads its SASL options from
# $config_directory/sasl/smtpd.conf; daemons get SASL_PATH and
# SASL_OAUTH_CONF only through import_environment; maillog_file must match
# maillog_file_prefixes; `postfix check/start` print nothing without a
# terminal, so their problems are read from the maillog.
#
# Usage: postfix_relay.sh PLUGIN_DIR   (root; Debian package postfix; `make idp`)
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
# Access tokens live an hour: longer than the client's refresh_window (300 s).
idp_start --access-ttl 3600 || e2e_finish
issuer=$IDP_ISSUER

# ---------------------------------------------------------------- instances

# ---------------------------------------------------------------- B: the server

port_b=$(free_port)
pf_oauth_server B "$port_b" "$issuer"
pf_start B || e2e_finish

# The greeting and EHLO: AUTH offers both mechanisms.
run smtp_probe "$port_b" bob@example.test
expect "B's smtpd offers AUTH OAUTHBEARER XOAUTH2 (plugin loaded by smtpd through SASL_PATH, options from sasl/smtpd.conf)" 0 \
    'ehlo 250 .*AUTH[ =].*OAUTHBEARER' 'ehlo 250 .*AUTH[ =].*XOAUTH2'
expect "B refuses a recipient from a client that did not authenticate" 0 '^rcpt 5[0-9][0-9] '

# ---------------------------------------------------------------- A: the relay

# pf_relay NAME CHROOT MECH TOKEN_PATH_IN_MAP: instance A configured for one run.
pf_relay() {
    local name=$1 chroot=$2 mech=$3 path=$4
    pf_new "$name"
    pf_master "$name" "$chroot"
    pf_main "$name" \
        "relayhost = [127.0.0.1]:$port_b" \
        "smtp_sasl_auth_enable = yes" \
        "smtp_sasl_type = cyrus" \
        "smtp_sasl_password_maps = static:alice:file:$path" \
        "smtp_sasl_security_options = noanonymous" \
        "smtp_sasl_mechanism_filter = $mech" \
        "smtp_tls_security_level = none" \
        "# a deferred message is retried at once when asked (postqueue -f)" \
        "minimal_backoff_time = 1s" "maximal_backoff_time = 2s" "queue_run_delay = 1s"
}

# token_file FILE: a token file for alice (public client: refresh tokens rotate)
# whose access token expired a minute ago, owned by postfix (smtp runs as postfix
# and writes the file and its lock file beside it).
token_file() {
    local f=$1 dir
    dir=$(dirname "$f")
    mkdir -p "$dir"
    idp_token user-jwt alice --client sasl-oauth-public --json > "$E2E_TMP/response.json"
    "${json[@]}" make "$f" --response "$E2E_TMP/response.json" expires_at=now-60 \
        token_endpoint="$issuer/token" client_id=sasl-oauth-public grant=refresh_token \
        resource=urn:sasl-oauth:imap user=alice provider=e2e-idp
    chown postfix:postfix "$dir" "$f"
    chmod 700 "$dir"
    chmod 600 "$f"
}



# relay_run NAME CHROOT MECH: one complete run of A.
relay_run() {
    local name=$1 chroot=$2 mech=$3 f path mechname
    mechname=$(echo "$mech" | tr a-z A-Z)
    if [ "$chroot" = y ]; then
        # Inside the chroot (the queue directory) the file is /sasl-oauth/token.json.
        f=$E2E_TMP/$name/queue/sasl-oauth/token.json
        path=/sasl-oauth/token.json
    else
        f=$E2E_TMP/$name/tokens/token.json
        path=$f
    fi
    pf_relay "$name" "$chroot" "$mech" "$path"
    token_file "$f"
    cp -p "$f" "$E2E_TMP/$name.before"
    if [ "$chroot" = y ]; then
        # The map's path exists only inside the chroot: the smtp client can
        # only have used it from there.
        if [ ! -e "$path" ]; then ok "$name: $path exists only inside the smtp chroot"
        else not_ok "$name: $path exists only inside the smtp chroot" "$path exists on the host"; fi
    fi
    idp_counters_reset
    pf_start "$name" || return 0
    pf_send "$name" "e2e $name"
    log_has "$name: A's log shows status=sent through 127.0.0.1:$port_b" "$name" \
        "relay=127\.0\.0\.1\[127\.0\.0\.1\]:$port_b, .*status=sent"
    log_has "$name: B's log shows the login of alice with $mechname" B \
        "sasl_method=$mechname, sasl_username=alice"
    delivered "$name: the message is in bob's mailbox on B" "e2e $name"
    run "${json[@]}" compare "$E2E_TMP/$name.before" "$f" rotated
    expect "$name: the token file was refreshed (new access token, later expires_at, rotated refresh token saved)" 0 \
        '!^FAILED'
    local mo
    mo=$(stat -c '%a %U:%G' "$f")
    if [ "$mo" = "600 postfix:postfix" ]; then ok "$name: the token file keeps mode 600 and owner postfix"
    else not_ok "$name: the token file keeps mode 600 and owner postfix" "got $mo"; fi
    local n
    n=$(idp_counter /token)
    if [ "$n" = 1 ]; then ok "$name: one /token request at the provider"
    else not_ok "$name: one /token request at the provider" "got $n"; fi
    if grep -q 'warning: .*SASL\|sasl-oauth.*error' "$E2E_TMP/$name/maillog"; then
        not_ok "$name: no SASL warnings in A's log" "" "$E2E_TMP/$name/maillog"
    else
        ok "$name: no SASL warnings in A's log"
    fi
    pf_stop "$name"
}

relay_run relay-xoauth2 n xoauth2
relay_run relay-oauthbearer n oauthbearer
relay_run relay-chroot y oauthbearer

# ---------------------------------------------------------------- refused token: retry

# The file's access token is unexpired but refused by B (garbage); the plugin
# refreshes the file and returns SASL_TRYAGAIN; Postfix defers the message and
# sends it on the next attempt with the new token.
name=relay-retry
f=$E2E_TMP/$name/tokens/token.json
pf_relay "$name" n oauthbearer "$f"
token_file "$f"
"${json[@]}" set "$f" access_token=garbage-refused-by-the-server expires_at=now+3000 obtained_at=now-600
cp -p "$f" "$E2E_TMP/$name.before"
idp_counters_reset
if pf_start "$name"; then
    pf_send "$name" "e2e $name"
    log_has "$name: the first attempt is deferred (server refused the token)" "$name" \
        "status=deferred .*(SASL|authentication)"
    postqueue -c "$E2E_TMP/$name/etc" -f > /dev/null 2>&1 || true
    log_has "$name: after postqueue -f the message is sent with the new token" "$name" \
        "relay=127\.0\.0\.1\[127\.0\.0\.1\]:$port_b, .*status=sent"
    run "${json[@]}" compare "$E2E_TMP/$name.before" "$f" rotated
    expect "$name: the token file was refreshed once the server refused the token" 0 '!^FAILED'
    n=$(idp_counter /token)
    if [ "$n" = 1 ]; then ok "$name: one /token request at the provider"
    else not_ok "$name: one /token request at the provider" "got $n"; fi
    pf_stop "$name"
fi

pf_stop B
e2e_finish
