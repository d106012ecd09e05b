#!/usr/bin/env bash
# make bench, second part: OAUTHBEARER with opaque tokens checked by RFC 7662
# introspection at the local test identity provider (tests/idp), cache warm
# and cold, with ANONYMOUS and PLAIN measured in the same run for the ratios.
#
# It reuses sasl_bench: a fixtures directory whose server.conf validates by
# introspection only, and whose token slots (rs256/ps256/es256/es384/eddsa) all hold
# opaque tokens; the "RS256" rows of its output are the opaque-token rows.
# Run after scripts/bench.sh (it reuses its build and plugin directory).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=$ROOT/build/bench
FIXO=$OUT/fixtures-introspection
RUNS=${BENCH_RUNS:-5}
SECS=${BENCH_SECS:-0.3}
COLD=${BENCH_INTROSPECTION_COLD:-100}
BENCH=$OUT/bin/sasl_bench
[ -x "$BENCH" ] && [ -d "$OUT/plugins" ] || { echo "run scripts/bench.sh first" >&2; exit 1; }

E2E_PIDS=()
# shellcheck source=../c-tests/e2e/idp_lib.sh
. "$ROOT/c-tests/e2e/idp_lib.sh"
# shellcheck disable=SC2154 # p is the trap's own loop variable
trap 'for p in "${E2E_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
idp_start --access-ttl 3600 > /dev/null

rm -rf "$FIXO"
mkdir -p "$FIXO/tokens"
# The client mechanisms are registered only when the client's file names them.
echo "mechanisms: OAUTHBEARER XOAUTH2 OAUTH10A OAUTH" > "$FIXO/client.conf"
export SASL_OAUTH_CONF=$FIXO/client.conf
cat > "$FIXO/server.conf" <<CONF
oauth_introspection_url: $IDP_ISSUER/token/introspection
oauth_client_id: resource-server
oauth_client_secret: rs-secret
oauth_issuer: $IDP_ISSUER
oauth_audience: urn:sasl-oauth:opaque
oauth_username_claim: username
oauth_required_scope: mail
CONF
warm=$(idp_token opaque)
for a in rs256 ps256 es256 es384 eddsa; do printf '%s' "$warm" > "$FIXO/tokens/$a.jwt"; done
# Cold: every handshake a token the cache has not seen (6 slots per algorithm).
n=$((COLD * 6))
echo "# minting $n opaque tokens at the test provider" >&2
: > "$OUT/tokens-opaque.txt"
for ((i = 0; i < n; i++)); do idp_token opaque >> "$OUT/tokens-opaque.txt"; done
mkdir -p "$OUT/introspection"
ln -sf "$OUT/sasldb" "$OUT/introspection/sasldb"
for a in rs256 ps256 es256 es384 eddsa; do cp "$OUT/tokens-opaque.txt" "$OUT/introspection/tokens-$a.txt"; done

for ((r = 1; r <= RUNS; r++)); do
  echo "# introspection run $r of $RUNS" >&2
  "$BENCH" "$OUT/plugins" "$FIXO" "$OUT/introspection" run --secs "$SECS" --cold "$COLD" \
    > "$OUT/introspection/run-$r.txt"
done

python3 - "$OUT/introspection" "$RUNS" <<'PY'
import statistics, sys
d, runs = sys.argv[1], int(sys.argv[2])
rows = {}
for r in range(1, runs + 1):
    for line in open(f"{d}/run-{r}.txt"):
        if not line.startswith("R "):
            continue
        name, threads, n, wall, server, cpu = line[2:].strip().split("|")
        if threads != "1":
            continue
        rows.setdefault(r, {})[name] = (float(wall) / int(n) * 1e6, float(server) / int(n) * 1e6)
def med(f):
    return statistics.median(f(rows[r]) for r in rows)
label = {"OAUTHBEARER RS256 warm": "OAUTHBEARER opaque, introspection, cache warm",
         "OAUTHBEARER RS256 cold": "OAUTHBEARER opaque, introspection, cache cold",
         "XOAUTH2 RS256 warm": "XOAUTH2 opaque, introspection, cache warm",
         "XOAUTH2 RS256 cold": "XOAUTH2 opaque, introspection, cache cold"}
print(f"## Opaque tokens by introspection ({len(rows)} runs, medians, 1 thread)\n")
print("| scenario | µs / handshake | × ANONYMOUS | × PLAIN sasldb | server µs |")
print("|---|---:|---:|---:|---:|")
for name in ["ANONYMOUS", "PLAIN sasldb", *label]:
    us = med(lambda x: x[name][0])
    a = med(lambda x: x[name][0] / x["ANONYMOUS"][0])
    p = med(lambda x: x[name][0] / x["PLAIN sasldb"][0])
    s = med(lambda x: x[name][1])
    print(f"| {label.get(name, name)} | {us:.2f} | {a:.2f} | {p:.2f} | {s:.2f} |")
PY
