# shellcheck shell=bash
# Helpers for tool.sh (tests of the sasl-oauth command line tool). Source it
# after lib.sh; call tool_require and tool_idp_start after e2e_init. Every
# process started here joins E2E_PIDS, so lib.sh's EXIT trap stops it.
#
#   tool_require                 the binary, node, the provider's modules, curl, python3
#   tool_idp_start [FLAGS...]    start tests/idp/server.mjs on 127.0.0.1; sets ISSUER, IDP_PID
#   t_run SECS CMD...            run CMD (bounded); sets T_RC, T_OUT, T_ERR, T_LOG
#   t_status_is N                "; exit status X, expected N" when T_RC is not N
#   bg_start NAME CMD...         run CMD in the background (bounded to 120 s)
#   wait_line NAME ERE SECS      wait until NAME's stdout has a line matching ERE
#   bg_wait NAME SECS            wait for NAME to end (killed after SECS); sets BG_RC, BG_LOG
#   verdict NAME WHY [LOG]       ok when WHY is empty, else not ok with WHY and LOG
#   browse URL USER [deny]       play the browser from an authorization URL: log in as
#                                USER, consent (or abort); prints the redirect that
#                                leaves the provider
#   doctor_case NAME STATUS ARGS... -- ERE...   doctor ARGS and doctor ARGS --json
#   file_mode F, json_get F KEY, json_check F PYTHON, url_param URL KEY, stray_files DIR

TOOL_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOL_IDP_DIR=$(cd "$TOOL_LIB_DIR/../../tests/idp" && pwd)
ISSUER=""
IDP_PID=""
declare -A TOOL_BG_PID=()

tool_require() {
    local why=""
    [ -x "$BIN" ] || why+="; $BIN is missing: run 'cargo build --bins'"
    command -v node > /dev/null || why+="; node is not installed"
    [ -d "$TOOL_IDP_DIR/node_modules/oidc-provider" ] || why+="; $TOOL_IDP_DIR/node_modules is missing: run 'make idp'"
    command -v curl > /dev/null || why+="; curl is not installed"
    command -v python3 > /dev/null || why+="; python3 is not installed"
    if [ -n "$why" ]; then
        not_ok "the tool and the test identity provider can run" "$why"
        return 1
    fi
    # A private copy: a rebuild during the run must not swap the binary under us.
    mkdir -p "$E2E_TMP/bin" "$E2E_TMP/tmp"
    cp "$BIN" "$E2E_TMP/bin/sasl-oauth"
    BIN=$E2E_TMP/bin/sasl-oauth
    # doctor writes a scratch directory under the temporary directory
    export TMPDIR=$E2E_TMP/tmp
}

tool_idp_start() {
    local _ out=$E2E_TMP/idp.out err=$E2E_TMP/idp.err
    : > "$out"
    node "$TOOL_IDP_DIR/server.mjs" --port 0 --host 127.0.0.1 "$@" > "$out" 2>> "$err" &
    IDP_PID=$!
    E2E_PIDS+=("$IDP_PID")
    for _ in $(seq 600); do
        grep -q '^ready ' "$out" && break
        kill -0 "$IDP_PID" 2> /dev/null || break
        sleep 0.1
    done
    ISSUER=$(sed -n 's/^ready //p' "$out")
    if [ -z "$ISSUER" ]; then
        echo "# the identity provider did not start; its stderr:"
        sed 's/^/#   /' "$err"
        return 1
    fi
}

# ---------------------------------------------------------------- running the tool

t_run() {
    local secs=$1
    shift
    E2E_RUNS=$((E2E_RUNS + 1))
    T_OUT=$E2E_TMP/out/run-$E2E_RUNS.out
    T_ERR=$E2E_TMP/out/run-$E2E_RUNS.err
    T_LOG=$E2E_TMP/out/run-$E2E_RUNS.log
    if timeout "$secs" "$@" > "$T_OUT" 2> "$T_ERR" < /dev/null; then T_RC=0; else T_RC=$?; fi
    _tool_log "$T_LOG" "$T_OUT" "$T_ERR" "$T_RC" "$(short "$@")"
}

_tool_log() {
    local log=$1 out=$2 err=$3 rc=$4 cmd=$5
    {
        echo "\$ ${cmd//$E2E_TMP/\$TMP}"
        echo "-- stdout"
        cat "$out"
        echo "-- stderr"
        cat "$err"
        echo "[exit status $rc]"
    } > "$log"
}

t_status_is() {
    [ "$T_RC" -eq "$1" ] || printf '; exit status %s, expected %s' "$T_RC" "$1"
}

_bg_vars() {
    BG_OUT=$E2E_TMP/out/bg-$1.out
    BG_ERR=$E2E_TMP/out/bg-$1.err
    BG_LOG=$E2E_TMP/out/bg-$1.log
    BG_PID=${TOOL_BG_PID[$1]:-}
}

bg_start() {
    local name=$1
    shift
    _bg_vars "$name"
    short "$@" > "$BG_LOG.cmd"
    timeout 120 "$@" > "$BG_OUT" 2> "$BG_ERR" < /dev/null &
    TOOL_BG_PID[$name]=$!
    E2E_PIDS+=("$!")
    BG_PID=$!
}

wait_line() {
    local name=$1 re=$2 secs=$3 _
    _bg_vars "$name"
    for _ in $(seq $((secs * 10))); do
        grep -Eq -- "$re" "$BG_OUT" && return 0
        is_running "$BG_PID" || break
        sleep 0.1
    done
    grep -Eq -- "$re" "$BG_OUT"
}

bg_wait() {
    local name=$1 secs=$2 _ p keep=()
    _bg_vars "$name"
    for _ in $(seq $((secs * 10))); do
        is_running "$BG_PID" || break
        sleep 0.1
    done
    if is_running "$BG_PID"; then
        echo "# $name still runs after ${secs}s: stopping it" >> "$BG_ERR"
        kill -TERM "$BG_PID" 2> /dev/null || true
    fi
    if wait "$BG_PID"; then BG_RC=0; else BG_RC=$?; fi
    for p in "${E2E_PIDS[@]}"; do [ "$p" = "$BG_PID" ] || keep+=("$p"); done
    E2E_PIDS=("${keep[@]}")
    unset "TOOL_BG_PID[$name]"
    _tool_log "$BG_LOG" "$BG_OUT" "$BG_ERR" "$BG_RC" "$(cat "$BG_LOG.cmd")"
}

verdict() {
    if [ -z "$2" ]; then ok "$1"; else not_ok "$1" "$2" "${3:-}"; fi
}

# ---------------------------------------------------------------- files and JSON

file_mode() { stat -c %a "$1" 2> /dev/null || echo none; }

json_get() {
    python3 -c 'import json,sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
print("" if v is None else v)' "$1" "$2" 2> /dev/null || true
}

# json_check FILE CODE: CODE runs with d (the JSON object), claims(jwt), bad(msg),
# now and issuer; prints "; msg" for each bad().
json_check() {
    python3 - "$1" "$ISSUER" "$2" <<'EOF'
import base64, json, sys, time
problems = []
def bad(m): problems.append(m)
def claims(t):
    try:
        p = t.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    except Exception:
        bad("the access token is not a JWT")
        return {}
now = int(time.time())
issuer = sys.argv[2]
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    bad("not JSON: %s" % e)
else:
    exec(sys.argv[3])
print("".join("; " + p for p in problems), end="")
EOF
}

url_param() {
    python3 -c 'import sys, urllib.parse as u
print(dict(u.parse_qsl(u.urlsplit(sys.argv[1]).query)).get(sys.argv[2], ""))' "$1" "$2"
}

# stray_files DIR: anything beside the token files and their lock files.
stray_files() {
    local f out=""
    for f in "$1"/* "$1"/.[!.]*; do
        [ -e "$f" ] || continue
        case ${f##*/} in *.json | *.json.lock) ;; *) out+="${f##*/} " ;; esac
    done
    printf '%s' "$out"
}

# ---------------------------------------------------------------- the browser

# browse URL USER [deny]: GET the authorization URL with a cookie jar, follow
# the provider's redirects by hand, log in as USER and consent on its
# interaction pages (or abort them with "deny"); prints the first redirect
# that leaves the provider (the loopback callback). Log: out/browse.log.
browse() {
    local url=$1 user=$2 deny=${3:-} jar page log=$E2E_TMP/out/browse.log
    local loc=$url status prompt _
    jar=$(mktemp "$E2E_TMP/jar.XXXXXX")
    page=$(mktemp "$E2E_TMP/page.XXXXXX")
    _req() {
        local r
        r=$(curl -sS --max-time 10 -b "$jar" -c "$jar" -o "$page" -w '%{http_code} %{redirect_url}' "$@" 2>> "$log") || r="000 "
        status=${r%% *}
        loc=${r#* }
        echo "$* -> $status $loc" >> "$log"
    }
    for _ in $(seq 15); do
        case $loc in
            "$ISSUER"/interaction/*)
                local here=$loc
                _req "$here"
                [ "$status" = 200 ] || { echo "interaction page: HTTP $status" >> "$log"; return 1; }
                if [ -n "$deny" ]; then
                    _req "$here/abort"
                    continue
                fi
                prompt=$(sed -n 's/.*name="prompt" value="\([a-z]*\)".*/\1/p' "$page" | head -n1)
                case $prompt in
                    login) _req --data-urlencode prompt=login --data-urlencode "login=$user" \
                        --data-urlencode password=any "$here" ;;
                    consent) _req --data-urlencode prompt=consent "$here" ;;
                    *) echo "unexpected interaction page (prompt '$prompt')" >> "$log"; return 1 ;;
                esac
                ;;
            "$ISSUER"/*) _req "$loc" ;;
            *)
                printf '%s\n' "$loc"
                return 0
                ;;
        esac
        if [ -z "$loc" ]; then
            echo "HTTP $status without a redirect" >> "$log"
            return 1
        fi
    done
    echo "too many redirects" >> "$log"
    return 1
}

# ---------------------------------------------------------------- doctor

# doctor_case NAME STATUS ARGS... -- ERE...: `doctor ARGS` exits with STATUS and
# its output matches each ERE (one starting with ! must not match); `doctor
# ARGS --json` parses, its "ok" matches its exit status, which is STATUS too.
doctor_case() {
    local name=$1 want=$2 args=() p why
    shift 2
    while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
    [ $# -eq 0 ] || shift
    t_run 30 "$BIN" doctor "${args[@]}"
    why=$(t_status_is "$want")
    for p in "$@"; do
        if [ "${p:0:1}" = "!" ]; then
            ! grep -Eq -- "${p:1}" "$T_OUT" || why+="; output matches /${p:1}/"
        else
            grep -Eq -- "$p" "$T_OUT" || why+="; output lacks /$p/"
        fi
    done
    verdict "$name: exit $want, the output says so" "$why" "$T_LOG"
    t_run 30 "$BIN" doctor "${args[@]}" --json
    why=$(t_status_is "$want")
    why+=$(python3 - "$T_OUT" "$T_RC" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception as e:
    print("; stdout is not JSON: %s" % e, end=""); sys.exit()
rc = int(sys.argv[2])
if j.get("ok") is not (rc == 0):
    print("; ok is %r with exit status %d" % (j.get("ok"), rc), end="")
checks = j.get("checks")
if not isinstance(checks, list) or not checks:
    print("; no checks list", end=""); sys.exit()
failed = [c.get("check") for c in checks if c.get("ok") is False]
if bool(failed) != (rc != 0):
    print("; failed checks %r with exit status %d" % (failed, rc), end="")
EOF
)
    verdict "$name: --json parses and its ok matches the exit status" "$why" "$T_LOG"
}
