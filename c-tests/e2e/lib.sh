# shellcheck shell=bash
# Shared helpers for the real-server scripts (c-tests/e2e/*.sh, scripts/demo.sh).
# Source it after `set -euo pipefail`, then call e2e_init. Everything a script
# makes lives in one private temporary directory; nothing system-wide is used.

CYRUS_BIN=${CYRUS_BIN:-/usr/lib/cyrus/bin}
E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

E2E_PASSED=0
E2E_FAILED=0
E2E_SKIPPED=0
E2E_RUNS=0
E2E_DONE=""        # set once the summary line is printed
E2E_PIDS=()        # helper processes we started (stopped on exit)
E2E_INSTANCES=()   # Cyrus instances we started (stopped on exit, dumped on failure)
E2E_SYSLOG=""      # file of captured syslog lines; empty when capture is impossible
E2E_QUIET=""       # set by the demo: no ok/not ok lines and no summary
E2E_DUMPS=()       # a script's own log printers, run by e2e_dump (add with E2E_DUMPS+=(fn))

# e2e_start MIN MAX USAGE "$@": how a script starts: exit 2 with
# "usage: SCRIPT USAGE" unless it was given MIN to MAX arguments, then e2e_init.
e2e_start() {
    local min=$1 max=$2 usage=$3
    shift 3
    if [ $# -lt "$min" ] || [ $# -gt "$max" ]; then
        echo "usage: $0 $usage" >&2
        exit 2
    fi
    e2e_init
}

# e2e_init: make the private directory and arrange for cleanup on any exit.
e2e_init() {
    E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sasl-oauth-e2e.XXXXXX")
    # imapd runs as the Cyrus user, which must reach its files below here.
    chmod 755 "$E2E_TMP"
    mkdir -p "$E2E_TMP/out" "$E2E_TMP/files"
    # The plugin registers client mechanisms only when the client's file names
    # them: every client started here (imtest, ldapwhoami, the test programs)
    # gets all four, unless a script gives it another file.
    E2E_CLIENT_MECHS="mechanisms: OAUTHBEARER XOAUTH2 OAUTH10A OAUTH"
    echo "$E2E_CLIENT_MECHS" > "$E2E_TMP/client-mechanisms.conf"
    chmod 644 "$E2E_TMP/client-mechanisms.conf"
    export SASL_OAUTH_CONF=$E2E_TMP/client-mechanisms.conf
    trap e2e_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM HUP
    trap 'exit 141' PIPE # e.g. output piped to head: still clean up
}

e2e_cleanup() {
    local status=$?
    set +e
    trap '' PIPE # a closed stdout must not stop the cleanup half-way
    if [ -z "$E2E_DONE" ] && [ -z "$E2E_QUIET" ]; then
        # Stopped early (a set-up step failed): still end with the summary line.
        not_ok "script ran to its end (it stopped early with status $status)"
        e2e_dump
        echo "$E2E_PASSED passed, $E2E_FAILED failed"
        [ "$status" -ne 0 ] || status=1
    elif [ -z "$E2E_DONE" ] && [ "$status" -ne 0 ]; then
        e2e_dump
    fi
    local name
    for name in "${E2E_INSTANCES[@]}"; do cyrus_stop "$name"; done
    local pid
    for pid in "${E2E_PIDS[@]}"; do stop_pid "$pid"; done
    e2e_keep_logs
    if [ -n "${E2E_KEEP:-}" ]; then
        echo "# kept $E2E_TMP (E2E_KEEP is set)" >&2
    else
        rm -rf "$E2E_TMP"
    fi
    exit "$status"
}

# e2e_keep_logs: with SASL_OAUTH_TEST_LOGDIR set (make test), keep the server
# logs and token files of this run, for the final scan for leaked secrets.
e2e_keep_logs() {
    [ -n "${SASL_OAUTH_TEST_LOGDIR:-}" ] && [ -d "${E2E_TMP:-}" ] || return 0
    local keep f i=0
    keep="$SASL_OAUTH_TEST_LOGDIR/e2e/$(basename "$0" .sh).$$"
    mkdir -p "$keep"
    while IFS= read -r -d '' f; do
        i=$((i + 1))
        cp "$f" "$keep/$i.$(basename "$f")"
    done < <(find "$E2E_TMP" -type f \( -name syslog.log -o -name 'maillog*' -o -path '*/files/*.json' \) -print0)
}

# stop_pid PID: TERM, wait up to 5 s, then KILL. Only for processes we started.
stop_pid() {
    local pid=$1 _
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        is_running "$pid" || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# is_running PID: alive and not a zombie waiting to be reaped. (/proc rather
# than ps, so that procps is not needed.)
is_running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }   # the fields after "(command) "
    [ "${stat%% *}" != Z ]
}

# child_pids PID: the pids of PID's children.
child_pids() {
    local f stat fields
    for f in /proc/[0-9]*/stat; do
        stat=$(cat "$f" 2>/dev/null) || continue
        read -r -a fields <<< "${stat##*) }"   # state ppid ...
        if [ "${fields[1]:-}" = "$1" ]; then
            f=${f#/proc/}
            echo "${f%/stat}"
        fi
    done
}

# ---------------------------------------------------------------- reporting

ok() {
    E2E_PASSED=$((E2E_PASSED + 1))
    echo "ok - $1"
}

# not_ok NAME [WHY] [LOGFILE]: report a failure with what is needed to debug it.
not_ok() {
    E2E_FAILED=$((E2E_FAILED + 1))
    echo "not ok - $1"
    if [ -n "${2:-}" ]; then echo "#   why: ${2#; }"; fi
    if [ -n "${3:-}" ] && [ -s "$3" ]; then
        echo "#   output (${3##*/}, last 60 lines):"
        tail -n 60 "$3" | sed 's/^/#     /'
    fi
}

skip() {
    E2E_SKIPPED=$((E2E_SKIPPED + 1))
    echo "ok - $1 # SKIP $2"
}

# e2e_finish: dump diagnostics if anything failed, print the summary line, exit.
e2e_finish() {
    if [ "$E2E_FAILED" -ne 0 ]; then e2e_dump; fi
    echo "$E2E_PASSED passed, $E2E_FAILED failed"
    E2E_DONE=1
    [ "$E2E_FAILED" -eq 0 ]
    exit $?
}

# e2e_dump: the configuration and every log, since syslog is not there to read.
e2e_dump() {
    local name dir f
    echo "# ---- diagnostics (private dir $E2E_TMP; E2E_KEEP=1 keeps it) ----"
    for name in "${E2E_INSTANCES[@]}"; do
        dir="$E2E_TMP/$name"
        for f in imapd.conf cyrus.conf master.out; do
            if [ -f "$dir/$f" ]; then
                echo "# == $name/$f"
                sed 's/^/#   /' "$dir/$f"
            fi
        done
    done
    if [ -n "$E2E_SYSLOG" ]; then
        echo "# == server syslog (captured)"
        sed 's/^/#   /' "$E2E_SYSLOG"
    elif [ "${#E2E_INSTANCES[@]}" -gt 0 ]; then
        echo "# == server syslog: not captured (needs root and unshare -m)"
    fi
    local dump
    for dump in "${E2E_DUMPS[@]}"; do "$dump"; done
    echo "# ---- end of diagnostics ----"
}

# short ARGS...: the command line with long words (tokens) shortened.
short() {
    local w out=""
    for w in "$@"; do
        if [ "${#w}" -gt 60 ]; then w="${w:0:24}...(${#w} chars)"; fi
        out+="$w "
    done
    printf '%s\n' "${out% }"
}

# run CMD...: run CMD, keeping its output in a fresh log; sets RUN_STATUS, RUN_LOG.
run() {
    E2E_RUNS=$((E2E_RUNS + 1))
    RUN_LOG="$E2E_TMP/out/run-$E2E_RUNS.log"
    RUN_SYSLOG_MARK=0
    if [ -n "$E2E_SYSLOG" ]; then RUN_SYSLOG_MARK=$(wc -l < "$E2E_SYSLOG"); fi
    echo "\$ $(short "$@")" > "$RUN_LOG"
    if "$@" >> "$RUN_LOG" 2>&1; then RUN_STATUS=0; else RUN_STATUS=$?; fi
    echo "[exit status $RUN_STATUS]" >> "$RUN_LOG"
}

# expect NAME STATUS [ERE...]: the last run exited with STATUS and its output
# matches each extended regexp (one starting with ! must not match).
expect() {
    local name=$1 want=$2 why="" p
    shift 2
    if [ "$RUN_STATUS" -ne "$want" ]; then why+="; exit status $RUN_STATUS, expected $want"; fi
    for p in "$@"; do
        if [ "${p:0:1}" = "!" ]; then
            if grep -Eq -- "${p:1}" "$RUN_LOG"; then why+="; output matches /${p:1}/"; fi
        else
            if ! grep -Eq -- "$p" "$RUN_LOG"; then why+="; output lacks /$p/"; fi
        fi
    done
    if [ -z "$why" ]; then ok "$name"; else not_ok "$name" "$why" "$RUN_LOG"; fi
}

# expect_syslog NAME ERE: a server log line written since the last run matches.
# Lines reach the catcher asynchronously, so wait a little for them.
expect_syslog() {
    local name=$1 re=$2 _ new="$E2E_TMP/out/syslog-$E2E_RUNS.log"
    if [ -z "$E2E_SYSLOG" ]; then
        skip "$name" "server log not captured (needs root and unshare -m)"
        return 0
    fi
    for _ in $(seq 30); do
        tail -n "+$((RUN_SYSLOG_MARK + 1))" "$E2E_SYSLOG" > "$new"
        if grep -Eq -- "$re" "$new"; then ok "$name"; return 0; fi
        sleep 0.1
    done
    not_ok "$name" "no server log line since the command matches /$re/" "$new"
}

# ---------------------------------------------------------------- utilities

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The user Cyrus runs as: it refuses to run as root ("must run as the Cyrus user").
cyrus_run_user() {
    if [ "$(id -u)" -ne 0 ]; then id -un
    elif id cyrus >/dev/null 2>&1; then echo cyrus
    else echo nobody
    fi
}

# jwt_seconds_left TOKEN: seconds until the token's exp (negative when expired).
jwt_seconds_left() {
    python3 - "$1" <<'EOF'
import base64, json, sys, time
p = sys.argv[1].split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
print(int(claims["exp"] - time.time()))
EOF
}

# fixtures_check FIXTURES: the files this suite reads exist and the "valid" tokens
# have not expired yet (they live one hour after `make fixtures`).
fixtures_check() {
    local fx=$1 f left
    for f in server.conf jwks.json tokens/rs256.jwt tokens/expired.jwt; do
        if [ ! -f "$fx/$f" ]; then
            not_ok "fixtures are present" "$fx/$f is missing: run 'make fixtures'"
            return 1
        fi
    done
    left=$(jwt_seconds_left "$(cat "$fx/tokens/rs256.jwt")")
    if [ "$left" -lt 120 ]; then
        not_ok "fixtures are fresh" "the valid tokens in $fx expire in ${left}s: run 'make fixtures' again"
        return 1
    fi
}

# plugin_copy PLUGIN_DIR: a private copy of the plugin directory, readable by the
# Cyrus user whatever the permissions of the build tree. Prints its path.
plugin_copy() {
    local src=$1 dst="$E2E_TMP/plugins" f n=0
    mkdir -p "$dst"
    for f in "$src"/*.so; do
        [ -f "$f" ] || continue
        cp "$f" "$dst/"
        n=$((n + 1))
    done
    if [ "$n" -eq 0 ]; then
        echo "no *.so in $src: run 'make plugin'" >&2
        return 1
    fi
    chmod -R a+rX "$dst"
    echo "$dst"
}

# oauth_imapd_lines FIXTURES: the plugin's options from FIXTURES/server.conf as
# imapd.conf lines (imapd passes `sasl_<key>` on to plugins). Files they name are
# copied in, so that the Cyrus user can read them.
oauth_imapd_lines() {
    local key val
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in '' | '#'*) continue ;; esac
        key=${line%%:*}
        key=${key//[[:space:]]/}
        val=${line#*:}
        val=${val#"${val%%[![:space:]]*}"}
        if [[ $key == *_file ]] && [ -f "$val" ]; then
            cp "$val" "$E2E_TMP/files/"
            chmod a+r "$E2E_TMP/files/${val##*/}"
            val="$E2E_TMP/files/${val##*/}"
        fi
        echo "sasl_$key: $val"
    done < "$1/server.conf"
}

# ---------------------------------------------------------------- server log

# Cyrus (and libsasl2, and so the plugin) log only to syslog, and this machine
# runs no syslog daemon. As root we can give the server its own /dev/log: it
# runs in a private mount namespace whose /dev is a small tmpfs with the device
# nodes it needs and /dev/log pointing at a socket read by syslog_catcher.py.
syslog_capture_possible() {
    [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null
}

syslog_start() {
    E2E_SYSLOG=""
    syslog_capture_possible || return 0
    local sock="$E2E_TMP/log.sock" _
    : > "$E2E_TMP/syslog.log"
    python3 "$E2E_LIB_DIR/syslog_catcher.py" "$sock" "$E2E_TMP/syslog.log" \
        2>> "$E2E_TMP/syslog-catcher.err" &
    E2E_PIDS+=("$!")
    for _ in $(seq 50); do
        [ -S "$sock" ] && break
        sleep 0.1
    done
    if [ ! -S "$sock" ]; then
        echo "# the syslog catcher did not start: server log not captured" >&2
        cat "$E2E_TMP/syslog-catcher.err" >&2 || true
        return 0
    fi
    E2E_SYSLOG="$E2E_TMP/syslog.log"
}

# devlog_prefix: sets DEVLOG_PREFIX, a command prefix that runs a command in
# the private /dev described above (needs E2E_TMP/log.sock). The new /dev exists
# only in that command's mount namespace; the command keeps the same pid.
devlog_prefix() {
    DEVLOG_PREFIX=(unshare -m -- sh -c '
        set -e
        real=$1; sock=$2; shift 2
        mkdir -p "$real"
        mount --bind /dev "$real"
        mount -t tmpfs -o mode=755,size=1m e2e-dev /dev
        for n in null zero full random urandom tty; do
            [ -e "$real/$n" ] || continue
            : > "/dev/$n"
            mount --bind "$real/$n" "/dev/$n"
        done
        mkdir /dev/shm /dev/pts
        ln -s /proc/self/fd /dev/fd
        ln -s "$sock" /dev/log
        exec "$@"
    ' sh "$E2E_TMP/ns-realdev" "$E2E_TMP/log.sock")
}

# ---------------------------------------------------------------- Cyrus imapd

# cyrus_new NAME: a private instance (config, partition, imapd.conf with the
# basics). Add lines with cyrus_conf NAME LINE..., then call cyrus_start.
cyrus_new() {
    local name=$1 dir="$E2E_TMP/$1"
    # the sub-directories Cyrus expects, to keep its log free of noise
    mkdir -p "$dir"/config/{db,socket,proc,lock,log} "$dir/partition" "$dir/sieve" "$dir/sasl2"
    cat > "$dir/imapd.conf" <<EOF
# private instance "$name": no path outside $dir is used
configdirectory: $dir/config
defaultpartition: default
partition-default: $dir/partition
sievedir: $dir/sieve
servername: e2e-$name
syslog_prefix: e2e-$name
# Cyrus refuses to run as root
cyrus_user: $(cyrus_run_user)
# no 3 s pause after each failed login
failedloginpause: 0
# bearer mechanisms do not claim NOPLAINTEXT; without TLS Cyrus would hide them
allowplaintext: yes
# libsasl2 and plugin lines up to DEBUG reach the (captured) syslog
sasl_log_level: 5
EOF
}

cyrus_conf() {
    local name=$1
    shift
    printf '%s\n' "$@" >> "$E2E_TMP/$name/imapd.conf"
}

cyrus_port() { cat "$E2E_TMP/$1/port"; }

# cyrus_start NAME SASL_PATH: start master on a free 127.0.0.1 port and wait for
# the IMAP greeting. SASL_PATH is where libsasl2 looks for plugins: imapd.conf
# has no option for it, but imapd (started by master) honours $SASL_PATH.
# An empty SASL_PATH: none, libsasl2 looks in the system's plugin directory.
cyrus_start() {
    local name=$1 sasl_path=$2 dir="$E2E_TMP/$1" port pid _ path_env=(-u SASL_PATH)
    port=$(free_port)
    echo "$port" > "$dir/port"
    cat > "$dir/cyrus.conf" <<EOF
# master does not pass its -C on to its children: each cmd needs its own
START {
  recover cmd="ctl_cyrusdb -r -C $dir/imapd.conf"
}
SERVICES {
  imap cmd="imapd -C $dir/imapd.conf" listen="127.0.0.1:$port" prefork=${CYRUS_PREFORK:-0} maxchild=10
}
EOF
    chown -R "$(cyrus_run_user)" "$dir/config" "$dir/partition" "$dir/sieve"
    # SASL_CONF_PATH: an empty private dir, so no /etc/sasl2/*.conf is read.
    if [ -n "$sasl_path" ]; then path_env=("SASL_PATH=$sasl_path"); fi
    local cmd=(env "${path_env[@]}" "SASL_CONF_PATH=$dir/sasl2"
        "$CYRUS_BIN/master" -C "$dir/imapd.conf" -M "$dir/cyrus.conf" -p "$dir/master.pid")
    DEVLOG_PREFIX=()
    if [ -n "$E2E_SYSLOG" ]; then devlog_prefix; fi
    # exec: $! must be master itself, so that stopping it stops its imapd too.
    # setsid: master signals its whole process group when it stops; that must
    # not reach this script (it does when both run as the same user).
    (exec setsid "${DEVLOG_PREFIX[@]}" "${cmd[@]}") > "$dir/master.out" 2>&1 &
    pid=$!
    echo "$pid" > "$dir/pid"
    E2E_INSTANCES+=("$name")
    for _ in $(seq 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "# Cyrus master for $name exited at start" >&2
            return 1
        fi
        if imap_greeting "$port" > "$dir/greeting" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "# Cyrus $name gave no IMAP greeting on 127.0.0.1:$port within 10 s" >&2
    return 1
}

# imap_greeting PORT: print the server's first line; fail unless it is "* OK".
imap_greeting() {
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
line = s.makefile("rb").readline().decode("utf-8", "replace").rstrip()
s.sendall(b"z LOGOUT\r\n")
print(line)
sys.exit(0 if line.startswith("* OK") else 1)
EOF
}

# cyrus_stop NAME: stop master and whatever imapd it still has.
cyrus_stop() {
    local dir="$E2E_TMP/$1" pid kids
    [ -f "$dir/pid" ] || return 0
    pid=$(cat "$dir/pid")
    rm -f "$dir/pid"
    kids=$(child_pids "$pid")
    stop_pid "$pid"
    for pid in $kids; do kill -KILL "$pid" 2>/dev/null || true; done
    return 0
}

# ---------------------------------------------------------------- IMAP clients

# curl_imap ARGS...: curl -v against an IMAP URL, then the decoded server
# challenges ("+ base64") appended as "# challenge: ..." lines, for expect.
curl_imap() {
    local status=0
    curl -sS -v --max-time 20 "$@" 2>&1 || status=$?
    decode_challenges
    return "$status"
}

decode_challenges() {
    python3 -c '
import base64, re, sys
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.match(r"^< \+ ([A-Za-z0-9+/=]+)\s*$", line)
    if m:
        try:
            print("# challenge: " + base64.b64decode(m.group(1)).decode("utf-8", "replace"))
        except Exception as e:
            print("# challenge (undecodable): %s" % e)
' "$RUN_LOG"
}

# assert_no_crash_in_syslog DAEMON: the check that no DAEMON process died of
# a signal or panicked, by the captured syslog (syslog_start); a skip when
# the server log was not captured.
assert_no_crash_in_syslog() {
    local name="no $1 died of a signal or panicked"
    if [ -z "${E2E_SYSLOG:-}" ]; then
        skip "$name" "server log not captured"
    elif grep -Eqi 'signaled to death|signal [0-9]+|panic|segfault' "$E2E_SYSLOG"; then
        not_ok "$name" "see the syslog" "$E2E_SYSLOG"
    else
        ok "$name"
    fi
}
