#!/usr/bin/env bash
# Cache and branch simulation (callgrind --cache-sim=yes --branch-sim=yes) of
# the raw RS256 verification loop, the ANONYMOUS handshake and the OAUTHBEARER
# RS256 cold and same-token handshakes with the cache off: misses and
# mispredictions per verification or handshake, split into libsasl2, ours and
# aws-lc (c-tests/bench/cgcache.py). Counts, so the load does not matter.
# Needs what scripts/bench.sh leaves in build/bench (plugins, sasl_bench,
# tokens-rs256.txt younger than an hour) and the release verify bench.
#
#   scripts/bench_cachesim.sh [OUT]     (default build/bench/cachesim)
# The simulated caches default to one Sapphire Rapids core (L1i 32 KiB 8-way,
# L1d 48 KiB 12-way, L2 2 MiB 16-way as the last level); override with
# CACHESIM_I1, CACHESIM_D1, CACHESIM_LL (valgrind's SIZE,ASSOC,LINE).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${1:-$ROOT/build/bench/cachesim}
BENCH_DIR=$ROOT/build/bench
FIX=$ROOT/build/fixtures
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
I1=${CACHESIM_I1:-32768,8,64}
D1=${CACHESIM_D1:-49152,12,64}
LL=${CACHESIM_LL:-2097152,16,64}
SIM=(--cache-sim=yes --branch-sim=yes "--I1=$I1" "--D1=$D1" "--LL=$LL")

die() { printf 'bench_cachesim: %s\n' "$*" >&2; exit 1; }
command -v valgrind >/dev/null || die "valgrind not found"
[ -x "$BENCH_DIR/bin/sasl_bench" ] || die "no $BENCH_DIR/bin/sasl_bench: run scripts/bench.sh first"
[ -s "$BENCH_DIR/tokens-rs256.txt" ] || die "no $BENCH_DIR/tokens-rs256.txt: run scripts/bench.sh first"
VBIN=$(find "$TARGET/release/deps" -maxdepth 1 -type f -executable -name 'verify-*' -printf '%T@ %p\n' |
  sort -n | tail -1 | cut -d' ' -f2)
[ -n "$VBIN" ] || die "no verify bench binary: cargo bench --no-run --bench verify"
mkdir -p "$OUT"
export SASL_OAUTH_CONF=$FIX/client.conf

verify() { # N
  SASL_OAUTH_FIXTURES=$FIX SASL_OAUTH_VERIFY_CALLGRIND="aws-lc-rs RS256 $1" \
    valgrind --tool=callgrind "${SIM[@]}" --toggle-collect='*callgrind_loop*' \
    --callgrind-out-file="$OUT/callgrind.verify-rs256" "$VBIN" >/dev/null 2>"$OUT/verify-rs256.log" ||
    die "callgrind of the verify loop failed: see $OUT/verify-rs256.log"
  python3 c-tests/bench/cgcache.py "$OUT/callgrind.verify-rs256" "$1" \
    --label "raw verify RS256, aws-lc-rs parsed key, fixture token"
}
handshake() { # NAME SCENARIO N [CACHE_TTL]
  ${4:+env BENCH_CACHE_TTL=$4} valgrind --tool=callgrind "${SIM[@]}" --toggle-collect=profile_loop \
    --callgrind-out-file="$OUT/callgrind.$1" "$BENCH_DIR/bin/sasl_bench" "$BENCH_DIR/plugins" "$FIX" \
    "$BENCH_DIR" profile "$2" "$3" >/dev/null 2>"$OUT/$1.log" ||
    die "callgrind of $2 failed: see $OUT/$1.log"
  python3 c-tests/bench/cgcache.py "$OUT/callgrind.$1" "$3" --label "$2${4:+ (oauth_cache_ttl $4)}"
}

{
  echo "caches: I1 $I1, D1 $D1, LL $LL (valgrind's model)"
  verify 500
  handshake anonymous "ANONYMOUS" 2000
  handshake rs256-cold-nocache "OAUTHBEARER RS256 cold" 500 0
  handshake rs256-same-nocache "OAUTHBEARER RS256 warm" 500 0
  handshake es256-warm "OAUTHBEARER ES256 warm" 2000
} | tee "$OUT/cachesim.txt"
