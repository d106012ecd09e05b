# Private Postfix instances for the e2e scripts (sourced after lib.sh).
# Each instance NAME lives in $E2E_TMP/NAME (etc, queue, data, maillog) and
# loads SASL plugins from $plugins; PF_STARTED holds the config directories
# of the instances started, for pf_stop_all at exit.
# shellcheck shell=bash disable=SC2154  # $plugins: set by the sourcing script

PF_STARTED=()

pf_stop_all() {
    local dir
    for dir in "${PF_STARTED[@]}"; do pf_stop_dir "$dir"; done
    PF_STARTED=()
}

# pf_stop_dir CONFIG_DIR: postfix stop, and wait (at most 5 s, then KILL) until
# that instance's master, which we started, is gone.
pf_stop_dir() {
    local d=$1 pid="" _ queue
    queue=$(postconf -c "$d" -h queue_directory 2> /dev/null) || queue=""
    if [ -n "$queue" ] && [ -f "$queue/pid/master.pid" ]; then
        pid=$(tr -dc 0-9 < "$queue/pid/master.pid")
    fi
    postfix -c "$d" stop > /dev/null 2>&1 || true
    [ -n "$pid" ] || return 0
    for _ in $(seq 50); do
        is_running "$pid" || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2> /dev/null || true
}

# pf_new NAME: directories and a main.cf/master.cf with the common settings.
# Sets nothing else; pf_main NAME LINE... adds main.cf lines.
pf_new() {
    local name=$1 d="$E2E_TMP/$1"
    mkdir -p "$d/etc/sasl" "$d/queue" "$d/data"
    chown postfix:postfix "$d/data"
    cat > "$d/etc/main.cf" <<EOF
# private instance $name: nothing outside $d is used
compatibility_level = 3.6
config_directory = $d/etc
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
myhostname = $name.e2e.invalid
mydomain = e2e.invalid
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
smtp_host_lookup = native
disable_dns_lookups = yes
biff = no
syslog_name = e2e-postfix-$name
maillog_file = $d/maillog
maillog_file_prefixes = $E2E_TMP
# libsasl2 finds only our plugin; the client side reads its own configuration
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C SASL_PATH=$plugins SASL_OAUTH_CONF=$d/sasl-oauth.conf
EOF
    echo "$E2E_CLIENT_MECHS" > "$d/sasl-oauth.conf"
    chmod 644 "$d/sasl-oauth.conf"
}

pf_main() {
    local name=$1
    shift
    printf '%s\n' "$@" >> "$E2E_TMP/$name/etc/main.cf"
}

# pf_start NAME: postfix check + start (silent without a terminal: their
# complaints land in the maillog), then wait for master's pid file.
pf_start() {
    local name=$1 d="$E2E_TMP/$1" _
    run postfix -c "$d/etc" check
    if [ "$RUN_STATUS" -ne 0 ]; then
        not_ok "Postfix $name: postfix check" "exit status $RUN_STATUS" "$d/maillog"
        return 1
    fi
    run postfix -c "$d/etc" start
    PF_STARTED+=("$d/etc")
    if [ "$RUN_STATUS" -ne 0 ]; then
        not_ok "Postfix $name: postfix start" "exit status $RUN_STATUS" "$d/maillog"
        return 1
    fi
    for _ in $(seq 100); do
        if postfix -c "$d/etc" status > /dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    not_ok "Postfix $name: master runs" "postfix status fails 10 s after start" "$d/maillog"
    return 1
}

pf_stop() {
    local d="$E2E_TMP/$1/etc" rest=() x
    pf_stop_dir "$d"
    for x in "${PF_STARTED[@]}"; do [ "$x" = "$d" ] || rest+=("$x"); done
    PF_STARTED=("${rest[@]}")
}

# pf_wait_log NAME ERE [SECONDS]: a line of the instance's maillog matches.
pf_wait_log() {
    local f="$E2E_TMP/$1/maillog" _
    for _ in $(seq $((${3:-30} * 10))); do
        if grep -Eq -- "$2" "$f" 2> /dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

# log_has NAME INSTANCE ERE: check the maillog (with the lines for one queue id).
log_has() {
    if pf_wait_log "$2" "$3" "${4:-20}"; then ok "$1"
    else not_ok "$1" "no line of $2's maillog matches /$3/" "$E2E_TMP/$2/maillog"; fi
}

# pf_script_start "$@": how a Postfix script starts: one argument, PLUGIN_DIR; the
# private directory, cleaned up by pf_cleanup on any exit; then root, Debian's
# postfix and the test provider checked, each a failure saying what to do.
# Sets plugin_dir (absolute) and plugins (a private copy of the plugin).
pf_script_start() {
    e2e_start 1 1 PLUGIN_DIR "$@"
    trap pf_cleanup EXIT
    plugin_dir=$(cd "$1" && pwd)
    if [ "$(id -u)" -ne 0 ]; then
        not_ok "running as root" "Postfix instances need root"
        e2e_finish
    fi
    if ! command -v postfix > /dev/null || ! id postfix > /dev/null 2>&1; then
        not_ok "Debian's postfix is installed" "apt-get install postfix (scripts/deps.sh)"
        e2e_finish
    fi
    idp_require || e2e_finish
    plugins=$(plugin_copy "$plugin_dir")
}

# pf_cleanup: the EXIT trap of a script with Postfix instances: stop them
# however the script ends (the provider's log first after an early exit),
# then lib.sh's cleanup, which reads the exit status from $?.
pf_cleanup() {
    local status=$?
    set +e
    trap '' PIPE # a closed stdout must not stop the cleanup half-way
    pf_stop_all
    if [ -z "$E2E_DONE" ] && declare -F idp_dump > /dev/null; then idp_dump; fi
    (exit "$status")
    e2e_cleanup
}

# pf_master NAME CHROOT [EXTRA_LINES]: master.cf with the services mail
# needs, the smtp client chrooted if CHROOT is y, plus EXTRA_LINES (an smtpd
# listener, more smtp transports).
pf_master() {
    local chroot=$2 f="$E2E_TMP/$1/etc/master.cf"
    {
        echo "# service type  private unpriv  chroot  wakeup  maxproc command"
        if [ -n "${3:-}" ]; then printf '%s\n' "$3"; fi
        cat <<EOF
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       $chroot       -       -       smtp
relay     unix  -       -       $chroot       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    } > "$f"
}

# smtp_probe PORT [MAIL]: EHLO (and with MAIL, an unauthenticated RCPT).
smtp_probe() {
    python3 - "$@" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
code, text = s.ehlo("probe.e2e.invalid")
print("ehlo %d %s" % (code, text.decode().replace("\n", " | ")))
if len(sys.argv) > 2:
    s.mail("probe@e2e.invalid")
    code, text = s.rcpt(sys.argv[2])
    print("rcpt %d %s" % (code, text.decode()))
s.quit()
EOF
}

# delivered NAME SUBJECT [INSTANCE]: the check NAME that the message reached
# bob's Maildir on INSTANCE (B unless given), within 15 s.
delivered() {
    local _ at=${3:-B}
    for _ in $(seq 150); do
        if grep -rqs -- "Subject: $2" "$E2E_TMP/$at/mail/bob/"; then ok "$1"; return 0; fi
        sleep 0.1
    done
    not_ok "$1" "no message with Subject: $2 in $at's Maildir for bob" "$E2E_TMP/$at/maillog"
}

# pf_oauth_server NAME PORT ISSUER: a receiving instance (not started) whose
# smtpd, chrooted (Debian's default), listens on 127.0.0.1:PORT and lets in
# only clients that log in with our server plugin (OAUTHBEARER, XOAUTH2;
# ISSUER's JWTs for urn:sasl-oauth:imap, keys by discovery inside the
# chroot); it delivers example.test's bob to NAME/mail/bob/.
pf_oauth_server() {
    local name=$1 port=$2 issuer=$3 d="$E2E_TMP/$1"
    pf_new "$name"
    pf_master "$name" y "127.0.0.1:$port inet n - y - - smtpd"
    mkdir -p "$d/mail"
    chown nobody:nogroup "$d/mail"
    echo "bob@example.test bob/" > "$d/etc/vmailbox"
    pf_main "$name" \
        "smtpd_banner = \$myhostname ESMTP e2e" \
        "smtpd_sasl_auth_enable = yes" \
        "smtpd_sasl_type = cyrus" \
        "smtpd_sasl_path = smtpd" \
        "smtpd_sasl_security_options = noanonymous" \
        "smtpd_tls_security_level = none" \
        "# only authenticated clients may send, even to the local virtual domain" \
        "smtpd_relay_restrictions = permit_sasl_authenticated, reject" \
        "smtpd_recipient_restrictions = permit_sasl_authenticated, reject" \
        "virtual_mailbox_domains = example.test" \
        "virtual_mailbox_base = $d/mail" \
        "virtual_mailbox_maps = texthash:$d/etc/vmailbox" \
        "virtual_uid_maps = static:$(id -u nobody)" \
        "virtual_gid_maps = static:$(id -g nobody)"
    # Debian's smtpd reads its SASL options here (cyrus_sasl_config_path is ignored).
    cat > "$d/etc/sasl/smtpd.conf" <<EOF
mech_list: OAUTHBEARER XOAUTH2
oauth_issuer: $issuer
oauth_audience: urn:sasl-oauth:imap
oauth_username_claim: username
EOF
}

# pf_send NAME SUBJECT: a message from alice to bob@example.test injected
# with NAME's sendmail (the check that it is accepted), then NAME's queue flushed.
pf_send() {
    local name=$1 subject=$2 d="$E2E_TMP/$1"
    printf 'From: alice@a.e2e.invalid\nTo: bob@example.test\nSubject: %s\n\nrelayed by %s\n' \
        "$subject" "$name" > "$d/message"
    run sendmail -C "$d/etc" -f alice@a.e2e.invalid bob@example.test < "$d/message"
    expect "$name: sendmail -C accepts the message" 0
    postqueue -c "$d/etc" -f > /dev/null 2>&1 || true
}
