#!/usr/bin/env bash
# make bench, third part: logins per second through a real server. Three
# private Cyrus imapd instances on 127.0.0.1, each with a prefork pool
# (CYRUS_PREFORK imapd processes waiting), and the load generator
# c-tests/bench/imap_load.py with 8 concurrent clients logging in and out:
#   - JWT: OAUTHBEARER with RS256 and ES256 JWTs (the fixtures' keys), every
#     login a token never seen before (cold, as in a prefork server where most
#     logins land in a process that has not seen the token); result cache on;
#   - opaque: OAUTHBEARER with opaque tokens checked by introspection at the
#     test identity provider (tests/idp), result cache off, so every login is
#     one introspection;
#   - PLAIN with the sasldb auxprop, the password reference.
# The mechanisms take turns, BENCH_IMAP_ROUNDS times, so that each round sees
# the same machine load; ratios are taken within a round. For each run: logins
# per second, the CPU time of the imapd processes (master and everything below
# it), of the load generator and of the provider, per login and as a share of
# the machine's busy CPU, and the most imapd processes seen.
#
# Usage: bench_imap.sh [--smoke] [PLUGIN_DIR [FIXTURES]]
#   PLUGIN_DIR holds libsasloauth.so (default: the release build); FIXTURES is
#   `make fixtures`' directory (default build/fixtures).
#   --smoke: one short round with few tokens, as a check that every mechanism
#   logs in through imapd (make test's e2e); prints ok / not ok lines.
# Knobs: BENCH_IMAP_SECS (3), BENCH_IMAP_ROUNDS (3), BENCH_IMAP_CLIENTS (8),
#   CYRUS_PREFORK (8), BENCH_IMAP_JWTS (JWTs per algorithm; default: those
#   scripts/bench.sh minted, else 6000).
# Writes build/bench/imap/ (runs, results.md); --smoke writes only its temp dir.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SMOKE=""
if [ "${1:-}" = --smoke ]; then
    SMOKE=1
    shift
fi
CARGO=${CARGO:-cargo}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PLUGIN_SRC=${1:-$TARGET/release}
FIX=$(cd "${2:-$ROOT/build/fixtures}" && pwd)
SECS=${BENCH_IMAP_SECS:-3}
ROUNDS=${BENCH_IMAP_ROUNDS:-3}
CLIENTS=${BENCH_IMAP_CLIENTS:-8}
export CYRUS_PREFORK=${CYRUS_PREFORK:-8}
NJWT=${BENCH_IMAP_JWTS:-}
if [ -n "$SMOKE" ]; then
    SECS=1
    ROUNDS=1
    NJWT=200
fi
LOAD=$ROOT/c-tests/bench/imap_load.py
SYSPLUG=$(pkg-config --variable=libdir libsasl2 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)/sasl2

# shellcheck source=../c-tests/e2e/lib.sh
. "$ROOT/c-tests/e2e/lib.sh"
# shellcheck source=../c-tests/e2e/idp_lib.sh
. "$ROOT/c-tests/e2e/idp_lib.sh"

idp_e2e_init
idp_require || finish
[ -f "$PLUGIN_SRC/libsasloauth.so" ] || {
    not_ok "the plugin is built" "no $PLUGIN_SRC/libsasloauth.so"
    finish
}
fixtures_check "$FIX" || finish
# A reader for the servers' syslog (a private /dev/log): without one, every
# log line may go to the console instead, and that stalls the logins.
syslog_start
OUT=$E2E_TMP/out/imap
[ -n "$SMOKE" ] || OUT=$ROOT/build/bench/imap
rm -rf "$OUT"
mkdir -p "$OUT"

# ---- plugins: ours, and the system's PLAIN and sasldb, readable by the Cyrus user
plugins=$E2E_TMP/plugins
mkdir -p "$plugins"
cp "$PLUGIN_SRC/libsasloauth.so" "$SYSPLUG/libplain.so" "$SYSPLUG/libsasldb.so" "$plugins/"
chmod -R a+rX "$plugins"

# ---- tokens: distinct JWTs (testkit mint, the fixtures' keys), split by round
mint() { # ALG FILE N: N distinct tokens (a different exp each), two minting processes
    local alg=$1 file=$2 n=$3 h i pids=()
    for h in 0 1; do
        (for ((i = h; i < n; i += 2)); do
            "$FIX/testkit" mint --keys "$FIX/keys" --alg "$alg" --exp-in $((3600 + i))
        done > "$file.$h") &
        pids+=("$!")
    done
    wait "${pids[@]}"
    cat "$file.0" "$file.1" > "$file"
    rm -f "$file.0" "$file.1"
}
jwt_algs=(RS256 ES256)
[ -z "$SMOKE" ] || jwt_algs=(RS256)
for alg in "${jwt_algs[@]}"; do
    f=$E2E_TMP/files/jwt-${alg,,}.txt
    from=$ROOT/build/bench/tokens-${alg,,}.txt
    if [ -z "$NJWT" ] && [ -f "$from" ] && [ "$from" -nt "$FIX/keys/rsa.der" ]; then
        cp "$from" "$f"
    else
        echo "# minting ${NJWT:-6000} $alg tokens" >&2
        mint "$alg" "$f" "${NJWT:-6000}"
    fi
    per=$(($(wc -l < "$f") / ROUNDS))
    split -d -l "$per" "$f" "$E2E_TMP/files/jwt-${alg,,}."
    if [ "$(sort -u "$f" | wc -l)" -ne "$(wc -l < "$f")" ]; then
        not_ok "the $alg tokens are distinct"
        finish
    fi
done

# ---- the identity provider and opaque tokens (cache off: reused in turn)
idp_start --access-ttl 3600 > /dev/null || { not_ok "the identity provider starts"; finish; }
python3 "$LOAD" opaque-tokens "$IDP_ISSUER" 50 > "$E2E_TMP/files/opaque.txt"

# ---- three instances, the same pool each; syslog level low (no daemon reads it)
quiet() { sed -i 's/^sasl_log_level: .*/sasl_log_level: 1/' "$E2E_TMP/$1/imapd.conf"; }
cyrus_new JWT
quiet JWT
mapfile -t jwt_lines < <(oauth_imapd_lines "$FIX")
cyrus_conf JWT "sasl_mech_list: OAUTHBEARER" "${jwt_lines[@]}"
cyrus_new OPAQUE
quiet OPAQUE
cyrus_conf OPAQUE "sasl_mech_list: OAUTHBEARER" \
    "sasl_oauth_issuer: $IDP_ISSUER" \
    "sasl_oauth_introspection_url: $IDP_ISSUER/token/introspection" \
    "sasl_oauth_audience: urn:sasl-oauth:opaque" \
    "sasl_oauth_client_id: resource-server" \
    "sasl_oauth_client_secret: rs-secret" \
    "sasl_oauth_username_claim: username" \
    "sasl_oauth_required_scope: mail" \
    "sasl_oauth_cache_ttl: 0"
cyrus_new PLAIN
quiet PLAIN
sasldb=$E2E_TMP/files/sasldb
# alice in the realm libsasl2 gives a Cyrus login (its servername or host name).
for realm in e2e-PLAIN e2e-plain "$(hostname)" "$(hostname -f 2>/dev/null || hostname)"; do
    printf '%s' bench-password | saslpasswd2 -f "$sasldb" -p -c -u "$realm" alice
done
chown "$(cyrus_run_user)" "$sasldb"
cyrus_conf PLAIN "sasl_mech_list: PLAIN" "sasl_pwcheck_method: auxprop" \
    "sasl_auxprop_plugin: sasldb" "sasl_sasldb_path: $sasldb"
for name in JWT OPAQUE PLAIN; do
    cyrus_start "$name" "$plugins" || { not_ok "Cyrus $name starts"; finish; }
done
# The pool is there before the first login.
for name in JWT OPAQUE PLAIN; do
    for _ in $(seq 50); do
        [ "$(pgrep -c -P "$(cat "$E2E_TMP/$name/pid")" -x imapd || true)" -ge "$CYRUS_PREFORK" ] && break
        sleep 0.1
    done
done

# ---- the runs, mechanisms in turn
load() { # LABEL INSTANCE ARGS...: one run, its L line prefixed with round and label
    local label=$1 name=$2 line
    shift 2
    line=$(python3 "$LOAD" --port "$(cyrus_port "$name")" --clients "$CLIENTS" --seconds "$SECS" \
        --server "$(cat "$E2E_TMP/$name/pid")" --idp "$IDP_PID" "$@" 2> "$OUT/err.txt") || {
        echo "# $label: $(cat "$OUT/err.txt")" >&2
        echo "F $label|$round"
        return 0
    }
    echo "${line/#L /R $label|$round|}"
}
: > "$OUT/runs.txt"
for ((round = 0; round < ROUNDS; round++)); do
    echo "# round $((round + 1)) of $ROUNDS (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    {
        for alg in "${jwt_algs[@]}"; do
            load "OAUTHBEARER $alg JWT, cold" JWT --mech OAUTHBEARER \
                --tokens "$E2E_TMP/files/jwt-${alg,,}.$(printf %02d "$round")"
        done
        load "OAUTHBEARER opaque, introspection" OPAQUE --mech OAUTHBEARER \
            --tokens "$E2E_TMP/files/opaque.txt" --cycle
        load "PLAIN sasldb" PLAIN --mech PLAIN --password bench-password
    } >> "$OUT/runs.txt"
done
for name in JWT OPAQUE PLAIN; do
    echo "$name $(pgrep -c -P "$(cat "$E2E_TMP/$name/pid")" -x imapd || true)" >> "$OUT/procs-after.txt"
done

# ---- the checks (every mechanism logged in, no failed login) and the table
for label in "${jwt_algs[@]/#/OAUTHBEARER }" "OAUTHBEARER opaque" "PLAIN sasldb"; do
    if grep -q "^F $label" "$OUT/runs.txt"; then
        not_ok "$label: every login through imapd succeeds" "a run had failed logins" "$OUT/runs.txt"
    elif grep -q "^R $label" "$OUT/runs.txt"; then
        ok "$label: logins through imapd ($CYRUS_PREFORK preforked, $CLIENTS clients), none failed"
    else
        not_ok "$label: a run was made"
    fi
done
python3 - "$OUT/runs.txt" "$CYRUS_PREFORK" "$CLIENTS" "$SECS" "$ROUNDS" > "$OUT/results.md" <<'PY'
import statistics, sys
runs, prefork, clients, secs, rounds = sys.argv[1:6]
rows = {}
for line in open(runs):
    if not line.startswith("R "):
        continue
    label, rnd, mech, cl, logins, fails, wall, ccpu, scpu, icpu, procs, busy = line[2:].strip().split("|")
    rows.setdefault(label, []).append(dict(
        round=int(rnd), logins=int(logins), wall=float(wall), client=float(ccpu),
        server=float(scpu), idp=float(icpu), procs=int(procs), busy=float(busy)))
plain = {r["round"]: r["logins"] / r["wall"] for r in rows.get("PLAIN sasldb", [])}
med = statistics.median
print("Logins per second through Cyrus imapd, %s preforked imapd, %s clients, %s s per run, "
      "%s rounds (medians)\n" % (prefork, clients, secs, rounds))
print("| mechanism | logins/s | × PLAIN sasldb | imapd CPU ms / login | client CPU ms / login "
      "| provider CPU ms / login | imapd share | client share | provider share | other | imapd processes |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for label, rs in rows.items():
    rate = med([r["logins"] / r["wall"] for r in rs])
    ratio = med([r["logins"] / r["wall"] / plain[r["round"]] for r in rs if r["round"] in plain])
    per = lambda k: med([1e3 * r[k] / r["logins"] for r in rs])
    share = lambda k: med([r[k] / r["busy"] for r in rs if r["busy"] > 0])
    other = med([max(0.0, 1 - (r["server"] + r["client"] + r["idp"]) / r["busy"]) for r in rs if r["busy"] > 0])
    print("| %s | %s | %.2f | %.3f | %.3f | %.3f | %.0f %% | %.0f %% | %.0f %% | %.0f %% | %d |" % (
        label, format(round(rate), ","), ratio, per("server"), per("client"), per("idp"),
        100 * share("server"), 100 * share("client"), 100 * share("idp"), 100 * other,
        max(r["procs"] for r in rs)))
print("\nShares: of the machine's busy CPU time during the run (all processes, both cores); "
      "'other' is the rest (the machine's other processes).")
PY
cat "$OUT/results.md" >&2
finish
