# shellcheck shell=bash
# The test identity provider (tests/idp/server.mjs, npm oidc-provider) for the
# end-to-end scripts: start it on a free 127.0.0.1 port, stop it, get tokens
# from it, and drive its admin endpoints (outage modes, key rotation, counters).
#
# Source it after lib.sh and e2e_init: the provider's pid joins E2E_PIDS, so
# e2e_cleanup (lib.sh's EXIT trap) stops it however the script ends. Sourced
# without lib.sh, it installs its own EXIT trap instead.
#
#   idp_require                  fail (not ok) unless node and tests/idp/node_modules exist
#   idp_start [SERVER FLAGS...]  start it; sets IDP_ISSUER, IDP_PID, IDP_PORT
#   idp_stop                     stop it (SIGTERM; connection refused afterwards)
#   idp_token KIND [OPTIONS...]  print an access token (tests/idp/get-token.sh)
#   idp_revoke TOKEN             revoke a token at /token/revocation (grant-wide)
#   idp_active TOKEN             print true/false: introspection's `active`
#   idp_mode MODE [PATH] [DELAY] misbehave: error|garbage|hang|slow|normal
#   idp_rotate                   new signing key generation (old keys stay published)
#   idp_counter PATH             requests to PATH since the last reset (0 if none)
#   idp_counters_reset
#   jwt_header_field TOKEN FIELD print a field of a JWT's header (e.g. kid)

IDP_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IDP_DIR=$(cd "$IDP_LIB_DIR/../../tests/idp" && pwd)
IDP_GET_TOKEN="$IDP_DIR/get-token.sh"
IDP_ISSUER=""
IDP_PID=""
IDP_PORT=""
IDP_LOG_DIR=""

# Without lib.sh: our own private directory and trap.
if ! declare -F e2e_cleanup >/dev/null; then
    IDP_OWN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sasl-oauth-idp.XXXXXX")
    trap 'idp_stop; rm -rf "$IDP_OWN_TMP"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM HUP
fi

_idp_tmp() {
    if [ -n "${E2E_TMP:-}" ]; then echo "$E2E_TMP"; else echo "$IDP_OWN_TMP"; fi
}

idp_require() {
    local why=""
    command -v node >/dev/null || why="node is not installed"
    [ -n "$why" ] || [ -d "$IDP_DIR/node_modules/oidc-provider" ] ||
        why="$IDP_DIR/node_modules is missing: run 'make idp'"
    command -v curl >/dev/null || why="curl is not installed"
    if [ -n "$why" ]; then
        if declare -F not_ok >/dev/null; then not_ok "the test identity provider can run" "$why"; fi
        echo "# $why" >&2
        return 1
    fi
}

# idp_start [FLAGS...]: node server.mjs --port 0 FLAGS; waits for its ready line
# (at most 60 s: a loaded machine starts node slowly). Its stderr goes to TMP/idp.err (shown by idp_dump).
idp_start() {
    local tmp _
    tmp=$(_idp_tmp)
    # shellcheck disable=SC2034 # read by the sourcing scripts
    IDP_LOG_DIR=$tmp
    local attempt
    # A second start when the first printed no ready line: the provider is
    # the tests' tool, and a node that once failed to start silently (seen
    # once on a fresh CI machine) must not fail the suite; both are logged.
    for attempt in 1 2; do
        : > "$tmp/idp.out"
        node "$IDP_DIR/server.mjs" --port 0 --host 127.0.0.1 "$@" > "$tmp/idp.out" 2>> "$tmp/idp.err" &
        IDP_PID=$!
        if declare -p E2E_PIDS >/dev/null 2>&1; then E2E_PIDS+=("$IDP_PID"); fi
        for _ in $(seq 600); do
            grep -q '^ready ' "$tmp/idp.out" && break
            kill -0 "$IDP_PID" 2>/dev/null || break
            sleep 0.1
        done
        IDP_ISSUER=$(sed -n 's/^ready //p' "$tmp/idp.out")
        [ -n "$IDP_ISSUER" ] && break
        if [ "$attempt" = 1 ]; then
            echo "# the identity provider printed no ready line; starting it again" >&2
            kill "$IDP_PID" 2>/dev/null || true
        fi
    done
    if [ -z "$IDP_ISSUER" ]; then
        echo "# the identity provider did not start; its stderr:" >&2
        sed 's/^/#   /' "$tmp/idp.err" >&2
        return 1
    fi
    # shellcheck disable=SC2034 # read by the sourcing scripts
    IDP_PORT=${IDP_ISSUER##*:}
}

idp_stop() {
    [ -n "$IDP_PID" ] || return 0
    kill -TERM "$IDP_PID" 2>/dev/null || true
    local _
    for _ in $(seq 50); do
        kill -0 "$IDP_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$IDP_PID" 2>/dev/null || true
    wait "$IDP_PID" 2>/dev/null || true
    IDP_PID=""
}

# idp_dump: the provider's stderr (for diagnostics after a failure).
idp_dump() {
    local tmp
    tmp=$(_idp_tmp)
    [ -s "$tmp/idp.err" ] || return 0
    echo "# == identity provider stderr (last 40 lines)"
    tail -n 40 "$tmp/idp.err" | sed 's/^/#   /'
}

idp_token() {
    "$IDP_GET_TOKEN" "$IDP_ISSUER" "$@"
}

# idp_revoke TOKEN: as the client the token was issued to (sasl-oauth-test).
idp_revoke() {
    curl -sS -f -u sasl-oauth-test:test-secret --data-urlencode "token=$1" \
        "$IDP_ISSUER/token/revocation" > /dev/null
}

idp_active() {
    curl -sS -u resource-server:rs-secret --data-urlencode "token=$1" \
        "$IDP_ISSUER/token/introspection" |
        python3 -c 'import json,sys; print(str(json.load(sys.stdin).get("active")).lower())'
}

idp_mode() {
    local q="mode=$1"
    [ -z "${2:-}" ] || q+="&path=$2"
    [ -z "${3:-}" ] || q+="&delay=$3"
    curl -sS -f -X POST "$IDP_ISSUER/admin/mode?$q" > /dev/null
}

idp_rotate() {
    curl -sS -f -X POST "$IDP_ISSUER/admin/rotate" > /dev/null
}

idp_counter() {
    curl -sS -f "$IDP_ISSUER/admin/counters" |
        python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$1"
}

idp_counters_reset() {
    curl -sS -f -X POST "$IDP_ISSUER/admin/counters/reset" > /dev/null
}

jwt_header_field() {
    python3 - "$1" "$2" <<'EOF'
import base64, json, sys
h = sys.argv[1].split(".")[0]
print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4))).get(sys.argv[2], ""))
EOF
}

# idp_e2e_init: lib.sh's e2e_init for a script that runs the provider; when
# a set-up step fails (the script exits before finish; e2e_cleanup then
# prints the summary and keeps the exit status) the provider's log first.
idp_e2e_init() {
    e2e_init
    # shellcheck disable=SC2154 # rc is set inside the trap
    trap 'rc=$?; set +e; trap "" PIPE; if [ -z "$E2E_DONE" ]; then idp_dump; fi; (exit $rc); e2e_cleanup' EXIT
}

# idp_script_start "$@": how a script with the provider starts: one argument,
# PLUGIN_DIR (made absolute in plugin_dir), then idp_e2e_init.
idp_script_start() {
    if [ $# -ne 1 ]; then
        echo "usage: $0 PLUGIN_DIR" >&2
        exit 2
    fi
    # shellcheck disable=SC2034 # read by the calling script
    plugin_dir=$(cd "$1" && pwd)
    idp_e2e_init
}

# finish: the provider's log when a check failed, then the summary line.
finish() {
    if [ "$E2E_FAILED" -ne 0 ]; then idp_dump; fi
    e2e_finish
}

# tok KIND [OPTIONS...]: a fresh token from the test provider in TOKEN, or a
# failed check and the end of the script.
tok() {
    # shellcheck disable=SC2034 # TOKEN is the result, read by the caller
    if ! TOKEN=$(idp_token "$@" 2>> "$E2E_TMP/out/tokens.log"); then
        not_ok "the provider issues a '$*' token" "get-token.sh failed" "$E2E_TMP/out/tokens.log"
        finish
    fi
}
