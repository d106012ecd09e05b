#!/usr/bin/env bash
# make bench: handshake cost and memory of OAUTHBEARER and XOAUTH2 against
# libsasl2's own ANONYMOUS (floor) and PLAIN with sasldb (reference), in one
# run; the raw ring verify cost; memory per connection and over 1,000,000
# handshakes; callgrind profiles. Prints the table (also written to
# build/bench/results.md); docs/benchmarks.md explains how to read it. Also
# a server whose options come only through each connection's own getopt.
#
# Knobs (environment):
#   BENCH_RUNS=5        runs of the whole table (medians are reported)
#   BENCH_SECS=0.3      seconds per warm/floor scenario and thread count
#   BENCH_COLD=2000     cold handshakes per thread and scenario, ES384 a quarter (tokens minted:
#                       3x per cold scenario: RS256 and EdDSA 6x, ES256 9x (also the two-issuer
#                       scenario), PS256 3x and ES384 3x a quarter (OAUTHBEARER only); at least
#                       the 300 of a cold profile)
#   BENCH_CONNS=1000    open server connections for the memory figure
#   BENCH_GROWTH=1000000  handshakes for the growth check
#   BENCH_PROFILE=1     callgrind profiles (0: skip)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CARGO=${CARGO:-cargo}
RUNS=${BENCH_RUNS:-5}
SECS=${BENCH_SECS:-0.3}
COLD=${BENCH_COLD:-2000}
CONNS=${BENCH_CONNS:-1000}
GROWTH=${BENCH_GROWTH:-1000000}
PROFILE=${BENCH_PROFILE:-1}
FIX=$ROOT/build/fixtures
OUT=$ROOT/build/bench
SYSPLUG=$(pkg-config --variable=libdir libsasl2 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)/sasl2
# Handshakes of each cold callgrind profile.
PROFILE_COLD=300

say() { printf '# %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

for tool in saslpasswd2 pkg-config cc python3; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian: sasl2-bin, pkg-config, gcc, python3)"
done
for p in libanonymous.so libplain.so libsasldb.so; do
  [ -e "$SYSPLUG/$p" ] || die "$SYSPLUG/$p missing (Debian: libsasl2-modules, libsasl2-modules-db)"
done
grep -q '^name = "verify"' Cargo.toml ||
  die 'Cargo.toml has no [[bench]] name = "verify" harness = false entry'

# ---- build: release plugin, the testkit (mints tokens), the C benchmark
say "building the release plugin, the testkit and the C benchmark"
$CARGO build -q --release --lib
$CARGO build -q --release -p testkit
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
TESTKIT=$TARGET/release/testkit
PLUGIN=$TARGET/release/libsasloauth.so
make -s -C c-tests/bench
BENCH=$OUT/bin/sasl_bench
# The fixture tokens expire an hour after they are minted.
if [ ! -f "$FIX/server.conf" ] || [ ! -f "$FIX/keys/ec384.pk8.der" ] ||
  [ -n "$(find "$FIX/tokens/rs256.jwt" -mmin +45 2>/dev/null)" ] || [ ! -f "$FIX/tokens/rs256.jwt" ]; then
  say "no fixtures (or none with the ES384 key, or tokens about to expire): making them"
  "$TESTKIT" fixtures "$FIX"
  cp "$TESTKIT" "$FIX/testkit"
fi
# The client mechanisms are registered only when the client's file names them.
export SASL_OAUTH_CONF=$FIX/client.conf

# ---- a private plugin directory: the system's ANONYMOUS, PLAIN, sasldb and ours
mkdir -p "$OUT"
rm -rf "$OUT/plugins"
mkdir -p "$OUT/plugins"
for p in libanonymous.so libplain.so libsasldb.so; do ln -s "$SYSPLUG/$p" "$OUT/plugins/$p"; done
ln -s "$PLUGIN" "$OUT/plugins/libsasloauth.so"

# ---- a private sasldb: alice@server.example.com (the server's default realm is its FQDN)
rm -f "$OUT/sasldb"
printf '%s' bench-password | saslpasswd2 -f "$OUT/sasldb" -p -c -u server.example.com alice

# ---- distinct valid tokens for the cold cache: same claims, a different exp
# each (so a different signing input); reused while younger than the keys and 20 min.
mint() { # ALG FILE N
  local alg=$1 file=$2 ntok=$3 h
  for h in 0 1; do
    (
      for ((i = h; i < ntok; i += 2)); do
        "$TESTKIT" mint --keys "$FIX/keys" --alg "$alg" --exp-in $((3600 + i))
      done >"$file.$h"
    ) &
  done
  wait
  cat "$file.0" "$file.1" >"$file"
  rm -f "$file.0" "$file.1"
  [ "$(sort -u "$file" | wc -l)" -eq "$ntok" ] || die "$file: tokens are not all distinct"
}
# cold_tokens ALG: what the runs use (sasl_bench.c: each cold scenario 3 x its
# handshakes per thread, BENCH_COLD; ES384's BENCH_COLD / 4, at least 20 or
# BENCH_COLD) and at least what the cold profiles use.
cold_tokens() {
  local n per
  case $1 in
    RS256 | EdDSA) n=$((COLD * 6)) ;;
    ES256) n=$((COLD * 9)) ;;
    PS256) n=$((COLD * 3)) ;;
    ES384)
      per=$((COLD / 4))
      if ((per < 20)); then per=$((COLD < 20 ? COLD : 20)); fi
      n=$((per * 3))
      ;;
    *) die "cold_tokens: $1" ;;
  esac
  if [ "$PROFILE" = 1 ] && ((n < PROFILE_COLD)); then n=$PROFILE_COLD; fi
  echo "$n"
}
for alg in RS256 PS256 ES256 ES384 EdDSA; do
  f=$OUT/tokens-${alg,,}.txt
  n=$(cold_tokens "$alg")
  if [ -f "$f" ] && [ "$f" -nt "$FIX/keys/rsa.der" ] && [ "$(wc -l <"$f")" -ge "$n" ] &&
    [ -z "$(find "$f" -mmin +20)" ]; then
    continue
  fi
  say "minting $n $alg tokens"
  mint "$alg" "$f" "$n"
done

# ---- machine and versions
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src Cargo.toml 2>/dev/null || echo ' (src/ or Cargo.toml modified)')"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), nproc $(nproc)"
  echo "kernel: $(uname -sr)"
  echo "libsasl2: $(dpkg-query -W -f '${Version}' libsasl2-2 2>/dev/null || echo unknown)"
  echo "glibc: $(ldd --version | head -1 | awk '{print $NF}')"
  echo "rustc: $(rustc --version)"
  echo "ring: $(awk '/^name = "ring"/{getline; print $3}' Cargo.lock | tr -d '"')"
  echo "aws-lc-rs: $(awk '/^name = "aws-lc-rs"/{getline; print $3}' Cargo.lock | tr -d '"') (aws-lc-sys $(awk '/^name = "aws-lc-sys"/{getline; print $3}' Cargo.lock | tr -d '"'))"
  echo "JWS verifier of the plugin: $(grep -q '^default = \["aws-lc"\]' Cargo.toml && echo aws-lc-rs || echo ring)"
  echo "cc: $(cc --version | head -1)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.txt"

# ---- raw verify (Rust micro-benchmark)
say "verify micro-benchmark: ring and aws-lc-rs, and the plugin's validator (cargo bench --bench verify)"
SASL_OAUTH_FIXTURES=$FIX SASL_OAUTH_BENCH_TOKENS=$OUT $CARGO bench -q --bench verify 2>/dev/null >"$OUT/verify.txt" ||
  SASL_OAUTH_FIXTURES=$FIX SASL_OAUTH_BENCH_TOKENS=$OUT $CARGO bench --bench verify >"$OUT/verify.txt"

# ---- the same verifiers' instructions per verification (callgrind: independent of the load)
rm -f "$OUT/verify-instr.txt"
if [ "$PROFILE" = 1 ] && command -v valgrind >/dev/null; then
  VBIN=$(find "$TARGET/release/deps" -maxdepth 1 -type f -executable -name 'verify-*' -printf '%T@ %p\n' |
    sort -n | tail -1 | cut -d' ' -f2)
  for lib in ring aws-lc-rs; do
    for alg in RS256 PS256 ES256 ES384 EdDSA; do
      ir=$(SASL_OAUTH_FIXTURES=$FIX SASL_OAUTH_VERIFY_CALLGRIND="$lib $alg 20" \
        valgrind --tool=callgrind --toggle-collect='*callgrind_loop*' \
        --callgrind-out-file="$OUT/callgrind.verify" "$VBIN" 2>&1 | sed -n 's/.*Collected : //p')
      [ -n "$ir" ] || die "callgrind of the $lib $alg verification failed"
      echo "I $lib|$alg|$((ir / 20))" >>"$OUT/verify-instr.txt"
    done
  done
fi

# ---- handshake runs
ARGS=("$OUT/plugins" "$FIX" "$OUT")
rm -f "$OUT"/run-*.txt
for ((r = 1; r <= RUNS; r++)); do
  say "run $r of $RUNS"
  {
    echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
    "$BENCH" "${ARGS[@]}" run --secs "$SECS" --cold "$COLD"
    # The same OAUTHBEARER rows in a process whose cache is off (oauth_cache_ttl
    # 0): "cold cache off" (distinct tokens) and "same token cache off".
    BENCH_CACHE_TTL=0 "$BENCH" "${ARGS[@]}" run --secs "$SECS" --cold "$COLD" \
      --only "OAUTHBEARER " | grep -v "+sasldb" || true
    # Two issuers and two claim rules: the plugin builds its runtime from the
    # options init sees, so these rows run in a process configured for them.
    BENCH_TWO_ISSUERS=1 "$BENCH" "${ARGS[@]}" run --secs "$SECS" --cold "$COLD" \
      --only "two issuers"
    echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$OUT/run-$r.txt"
done

say "options only per connection (OAUTHBEARER against ANONYMOUS, alternated)"
"$BENCH" "${ARGS[@]}" perconn --secs "$SECS" --rounds $((RUNS * 2 + 1)) >"$OUT/perconn.txt"
say "memory per connection ($CONNS open server connections)"
"$BENCH" "${ARGS[@]}" mem --conns "$CONNS" >"$OUT/mem.txt"
say "growth over $GROWTH handshakes"
"$BENCH" "${ARGS[@]}" growth --total "$GROWTH" --every $((GROWTH / 10)) >"$OUT/growth.txt"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"

# ---- profiles: callgrind counts instructions, so they do not depend on the load
rm -f "$OUT"/profile-*.txt
if [ "$PROFILE" = 1 ] && command -v valgrind >/dev/null; then
  profile() { # NAME SCENARIO N [CACHE_TTL]
    say "callgrind: $2 ($3 handshakes)${4:+, oauth_cache_ttl $4}"
    ${4:+env BENCH_CACHE_TTL=$4} valgrind --tool=callgrind --toggle-collect=profile_loop \
      --callgrind-out-file="$OUT/callgrind.$1" "$BENCH" "${ARGS[@]}" profile "$2" "$3" \
      >/dev/null 2>"$OUT/callgrind.$1.log" || die "callgrind failed: see $OUT/callgrind.$1.log"
    {
      echo "== $2${4:+ (oauth_cache_ttl $4)}"
      python3 c-tests/bench/cgsplit.py "$OUT/callgrind.$1" "$3" --top 25
    } >"$OUT/profile-$1.txt"
  }
  profile anonymous "ANONYMOUS" 2000
  profile plain "PLAIN sasldb" 500
  profile oauthbearer-warm "OAUTHBEARER ES256 warm" 2000
  profile oauthbearer-warm-perconn "OAUTHBEARER ES256 warm per-connection options" 2000
  profile xoauth2-warm "XOAUTH2 ES256 warm" 2000
  for alg in RS256 PS256 ES256 ES384 EdDSA; do
    profile "oauthbearer-cold-${alg,,}" "OAUTHBEARER $alg cold" "$PROFILE_COLD"
    profile "oauthbearer-cold-nocache-${alg,,}" "OAUTHBEARER $alg cold" "$PROFILE_COLD" 0
    profile "oauthbearer-same-nocache-${alg,,}" "OAUTHBEARER $alg warm" "$PROFILE_COLD" 0
  done
  BENCH_TWO_ISSUERS=1 profile oauthbearer-warm-two-issuers "OAUTHBEARER ES256 warm two issuers" 2000
  BENCH_TWO_ISSUERS=1 profile oauthbearer-cold-es256-two-issuers "OAUTHBEARER ES256 cold two issuers" \
    "$PROFILE_COLD"
fi

python3 c-tests/bench/summarize.py "$OUT" | tee "$OUT/results.md"
