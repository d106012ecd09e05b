#!/usr/bin/env bash
# Memory and thread checks of the plugin through the real libsasl2.
#
#   memcheck.sh PLUGIN_DIR FIXTURES [HOOKS_DIR]        valgrind memcheck
#   memcheck.sh --helgrind PLUGIN_DIR FIXTURES         valgrind helgrind
#   memcheck.sh --tsan REPO_DIR FIXTURES                ThreadSanitizer (see below)
#
# memcheck: bin/stress (thousands of exchanges of all four mechanisms, success
# and failure paths, our client and server plugins), then the other harness
# programs (test_handshake, test_vectors, test_refusals, test_forged_tokens,
# test_oauth_mechs, test_threads with few iterations, and test_panic against
# HOOKS_DIR, the test-hooks build, when given), each under
#   valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
# Each must end with zero errors and nothing definitely or indirectly lost.
# "Possibly lost" and "still reachable" are not errors: Rust's hash tables keep
# interior pointers (possibly lost) and the plugin's statics (the runtime
# built at init) stay reachable by design (-z nodelete).
#
# Each program also runs its own checks under valgrind: a failing one is
# reported on its own line ("its own tests"), apart from valgrind's verdict.
#
# helgrind: bin/test_threads (8 threads, HELGRIND_ITERATIONS exchanges each)
# under helgrind, with the result cache and without (--no-cache). Helgrind
# understands pthread locks only; Rust's std::sync locks and atomics are
# futex-based and invisible to it, so it flags accesses that they order (a
# correct Mutex<Vec> program in plain Rust gets 25 such contexts). The triage
# at the end prints every report in our code with the lock that orders it,
# from an explicit list of sites; a report at any other site fails. For a
# checker that does see Rust's locks, use --tsan (ThreadSanitizer).
#
# Suppressions: c-tests/valgrind.supp, for frames outside libsasloauth.so only
# (each entry says why). Nothing in our library is suppressed.
#
# Environment: STRESS_ITERATIONS (default 500, 40 exchanges each),
# VALGRIND_OUT (directory for valgrind's logs; default a temporary one, kept
# on failure), HELGRIND_ITERATIONS (default 300 per thread).
# Output: ok/not ok lines, then "N passed, N failed"; exit status 1 on failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
bin=$here/bin
supp=$here/valgrind.supp
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1${2:+: $2}"; }
summary() {
    echo "$passed passed, $failed failed"
    if [ "$failed" -eq 0 ] && [ -z "${VALGRIND_OUT_GIVEN:-}" ]; then rm -rf "$out"; else echo "# valgrind logs: $out"; fi
    [ "$failed" -eq 0 ]
    exit $?
}

mode=memcheck
if [ "${1:-}" = "--helgrind" ]; then mode=helgrind; shift; fi
if [ "${1:-}" = "--tsan" ]; then mode=tsan; shift; fi
if [ $# -lt 2 ]; then
    echo "usage: $0 [--helgrind] PLUGIN_DIR FIXTURES [HOOKS_DIR] | $0 --tsan REPO_DIR FIXTURES" >&2
    exit 2
fi
plugin=$1 fixtures=$2 hooks=${3:-}
[ "$mode" = tsan ] || command -v valgrind >/dev/null || { echo "not ok - valgrind is installed"; echo "0 passed, 1 failed"; exit 1; }
if [ -n "${VALGRIND_OUT:-}" ]; then
    out=$VALGRIND_OUT
    VALGRIND_OUT_GIVEN=1
    mkdir -p "$out"
else
    out=$(mktemp -d "${TMPDIR:-/tmp}/sasl-oauth-valgrind.XXXXXX")
fi

# ------------------------------------------------------------------ memcheck

# vg NAME PROGRAM ARGS...: PROGRAM under memcheck; two checks: valgrind's
# verdict, and the program's own tests.
vg() {
    local name=$1 prog=$2 log rc start secs
    shift 2
    log="$out/$name.vg.log"
    start=$(date +%s%N)
    # Time bounds in the programs catch hangs; valgrind makes everything slower.
    SASL_OAUTH_TEST_TIME_SCALE=10 valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=99 --num-callers=40 --suppressions="$supp" --log-file="$log" \
        "$bin/$prog" "$@" > "$out/$name.out" 2> "$out/$name.err"
    rc=$?
    secs=$(( ($(date +%s%N) - start) / 1000000000 ))
    local errors definite indirect possibly reachable
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$log" | tr -d , | tail -1)
    definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d , | tail -1)
    indirect=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d , | tail -1)
    possibly=$(sed -n 's/.*possibly lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d , | tail -1)
    reachable=$(sed -n 's/.*still reachable: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d , | tail -1)
    # no leak summary at all means no leaks were found (all heap freed)
    if grep -q "All heap blocks were freed" "$log"; then definite=0 indirect=0 possibly=0 reachable=0; fi
    if [ "${errors:-x}" = 0 ] && [ "${definite:-x}" = 0 ] && [ "${indirect:-x}" = 0 ] && [ "$rc" -ne 99 ]; then
        ok "$name under memcheck: 0 errors, 0 bytes definitely/indirectly lost (possibly lost ${possibly:-0}, still reachable ${reachable:-0}; $secs s)"
    else
        not_ok "$name under memcheck" "errors ${errors:-?}, definitely lost ${definite:-?}, indirectly lost ${indirect:-?} (exit $rc); see $log"
        grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|.*definitely lost|.*indirectly lost)' "$log" | head -10 | sed 's/^/#   /'
    fi
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 99 ]; then
        [ "$rc" -eq 99 ] || ok "$name: its own tests pass under valgrind ($(tail -1 "$out/$name.out"))"
    else
        not_ok "$name: its own tests under valgrind" "exit $rc, $(tail -1 "$out/$name.out")"
        grep '^not ok' "$out/$name.out" | head -10 | sed 's/^/#   /'
    fi
    # the exchange count of the stress run, for the record
    grep '^# ' "$out/$name.out" | sed 's/^/#   /'
}

if [ "$mode" = memcheck ]; then
    for p in stress test_handshake test_vectors test_refusals test_forged_tokens test_oauth_mechs test_threads; do
        [ -x "$bin/$p" ] || { not_ok "$bin/$p is built (make -C c-tests all)"; summary; }
    done
    vg stress stress "$plugin" "$fixtures" "${STRESS_ITERATIONS:-500}"
    vg test_handshake test_handshake "$plugin" "$fixtures"
    vg test_vectors test_vectors "$plugin" "$fixtures"
    vg test_refusals test_refusals "$plugin" "$fixtures"
    vg test_forged_tokens test_forged_tokens "$plugin" "$fixtures"
    vg test_oauth_mechs test_oauth_mechs "$plugin" "$fixtures"
    vg test_threads test_threads "$plugin" "$fixtures" --iterations 100
    if [ -n "$hooks" ]; then
        if [ -x "$bin/test_panic" ] && [ -f "$hooks/libsasloauth.so" ]; then
            vg test_panic test_panic "$hooks" "$fixtures"
        else
            not_ok "test_panic under memcheck" "no $bin/test_panic or no $hooks/libsasloauth.so (make plugin-hooks)"
        fi
    fi
    summary
fi

# ------------------------------------------------------------------ tsan

# ThreadSanitizer, which (unlike helgrind) sees Rust's std::sync locks and
# atomics once std itself is rebuilt with the sanitizer (-Zbuild-std, needs
# `rustup component add rust-src`). The plugin is built into its own target
# directory ($TSAN_TARGET_DIR, default REPO/target/tsan) without -z defs (its
# __tsan_* symbols come from the executable); test_threads is built with gcc's
# -fsanitize=thread. gcc 12's libtsan lacks __tsan_memcpy/memmove/memset that
# rustc's instrumentation calls: the executable defines them (libtsan
# intercepts the libc calls they make). libsasl2 itself is not instrumented.
if [ "$mode" = tsan ]; then
    repo=$plugin
    sysroot=$(rustc --print sysroot 2>/dev/null)
    if [ ! -d "$sysroot/lib/rustlib/src/rust/library" ]; then
        not_ok "rust-src is installed (rustup component add rust-src)"
        summary
    fi
    tdir=${TSAN_TARGET_DIR:-$repo/target/tsan}
    if ! (cd "$repo" && RUSTFLAGS="-Zsanitizer=thread" RUSTC_BOOTSTRAP=1 SASL_OAUTH_FUZZ=1 \
          cargo build -q --lib -Zbuild-std --target x86_64-unknown-linux-gnu --target-dir "$tdir") \
          > "$out/tsan-build.log" 2>&1; then
        not_ok "the plugin builds with -Zsanitizer=thread" "see $out/tsan-build.log"
        summary
    fi
    mkdir -p "$out/plugin"
    cp "$tdir/x86_64-unknown-linux-gnu/debug/libsasloauth.so" "$out/plugin/"
    cat > "$out/shim.c" <<'C'
#include <string.h>
void *__tsan_memcpy(void *d, const void *s, size_t n) { return memcpy(d, s, n); }
void *__tsan_memmove(void *d, const void *s, size_t n) { return memmove(d, s, n); }
void *__tsan_memset(void *d, int c, size_t n) { return memset(d, c, n); }
C
    if ! gcc -fsanitize=thread -g -O1 -rdynamic -o "$out/test_threads" "$here/test_threads.c" "$here/common.c" \
         "$out/shim.c" -lsasl2 -lpthread 2> "$out/tsan-cc.log"; then
        not_ok "test_threads builds with -fsanitize=thread" "see $out/tsan-cc.log"
        summary
    fi
    for flags in "" --no-cache; do
        TSAN_OPTIONS="halt_on_error=0 ${TSAN_OPTIONS:-}" "$out/test_threads" "$out/plugin" "$fixtures" \
            --iterations "${TSAN_ITERATIONS:-3000}" $flags > "$out/tsan$flags.out" 2> "$out/tsan$flags.err"
        rc=$?
        warnings=$(grep -c "WARNING: ThreadSanitizer" "$out/tsan$flags.err")
        if [ "$rc" -eq 0 ] && [ "$warnings" -eq 0 ]; then
            ok "test_threads${flags:+ $flags} under ThreadSanitizer: 0 warnings, every result right ($(grep '^# ' "$out/tsan$flags.out" | sed 's/^# //'))"
        else
            not_ok "test_threads${flags:+ $flags} under ThreadSanitizer" "exit $rc, $warnings warning(s); see $out/tsan$flags.err"
            grep -A12 "WARNING: ThreadSanitizer" "$out/tsan$flags.err" | head -40 | sed 's/^/#   /'
        fi
    done
    summary
fi

# ------------------------------------------------------------------ helgrind

[ -x "$bin/test_threads" ] || { not_ok "$bin/test_threads is built"; summary; }

# helgrind_run TAG [test_threads flags]
helgrind_run() {
local tag=$1 log rc start
shift
log="$out/test_threads$tag.helgrind.log"
start=$(date +%s)
valgrind --tool=helgrind --num-callers=40 --suppressions="$supp" --log-file="$log" \
    "$bin/test_threads" "$plugin" "$fixtures" --iterations "${HELGRIND_ITERATIONS:-300}" "$@" \
    > "$out/test_threads$tag.helgrind.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then
    ok "test_threads$tag under helgrind: every result right ($(grep '^# ' "$out/test_threads$tag.helgrind.out" | sed 's/^# //'); $(( $(date +%s) - start )) s)"
else
    not_ok "test_threads$tag under helgrind: its own tests" "exit $rc"
    grep '^not ok' "$out/test_threads$tag.helgrind.out" | head | sed 's/^/#   /'
fi

# Triage of every reported context. Helgrind sees pthread mutexes (libsasl2's,
# through sasl_set_mutex as slapd sets them, and glibc's) but not Rust's
# std::sync::{Mutex, RwLock, OnceLock} nor atomics: those are futex-based. So
# for each report, each of its two stacks must pass through a frame that holds
# a std::sync lock for everything it calls (or be an atomic access); those
# places are listed below with the lock. Any other report in our code fails,
# as does any report outside it that valgrind.supp does not explain.
python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
# (function as helgrind prints it, locations where the lock is held or None
#  for "in the whole function", what orders the accesses)
GUARDS = [
    ("sasloauth::validate::cache::Lru::", None,
     "Lru is reachable only through CachedValidator.lru: std::sync::Mutex<Lru> (cache.rs)"),
    ("<sasloauth::validate::cache::CachedValidator<V> as sasloauth::validate::TokenValidator>::check::{{closure}}",
     None, "the closure run on CachedValidator.lru.lock() (cache.rs:161)"),
    ("<sasloauth::validate::cache::CachedValidator<V> as sasloauth::validate::TokenValidator>::check",
     {"cache.rs:161", "cache.rs:171", "cache.rs:172"}, "CachedValidator.lru.lock() held (cache.rs:161, 171-172)"),
    ("sasloauth::validate::discovery::Discovery::endpoints", None,
     "Discovery.state: std::sync::Mutex held for the whole call (discovery.rs)"),
    ("sasloauth::validate::keys::KeyStore::reload_file_if_changed", None,
     "KeyStore.fetch: std::sync::Mutex<FetchState> held for the whole call (keys.rs)"),
    ("httparse::simd::runtime::get_runtime_feature", None,
     "an AtomicU8 (httparse's cache of CPU features)"),
]
FRAME = re.compile(r"(?:at|by) 0x[0-9A-F]+: (.+?) \(((?:in )?[^)]*)\)$", re.M)
blocks = re.split(r"\n==\d+== -{20,}\n", text)
explained, unexplained, outside = {}, [], []
for b in blocks:
    if "Possible data race" not in b and "lock order" not in b:
        continue
    b = re.sub(r"^==\d+== ?", "", b, flags=re.M)
    if "sasloauth::" not in b and "libsasloauth.so" not in b and "httparse::" not in b:
        outside.append([l.strip() for l in b.strip().splitlines()[:10]])
        continue
    # the two stacks: the access reported, and the one it conflicts with;
    # then where the block was allocated
    stacks = re.split(r"This conflicts with", b)[:2]
    alloc = b.split("Address 0x", 1)[1] if "Address 0x" in b else ""
    # ring's CPU-feature flags (C globals such as ring_core_*_avx2_available,
    # ring_core_*_OPENSSL_ia32cap_P): written once by ring::cpu's detection,
    # then published through an atomic Release (OnceNonZeroUsize) that every
    # user Acquires (ring::cpu::features()) before it calls the C code.
    m = re.search(r'inside data symbol "(ring_core_[0-9_]+_\w*(?:available|ia32cap_P|armcap_P)\w*)"', b)
    if not m and "ring::cpu::intel::cpuid_to_caps_and_set_c_flags" in b:
        # The same flags, reported without the symbol name: one side is ring's
        # one-time detection writing them.
        m = re.match(r"(.*)", "ring_core_0_0_0_OPENSSL_ia32cap_P")
    if m:
        w = "ring's CPU-feature flag %s: published by an atomic Release/Acquire (ring::cpu)" % re.sub(r"_[0-9]+_[0-9]+_[0-9]+_", "_*_", m.group(1))
        explained[w] = explained.get(w, 0) + 1
        continue
    alloc_guarded = any(func.startswith(g) and (where is None or loc.strip() in where)
                        for func, loc in FRAME.findall(alloc) for g, where, _ in GUARDS)
    whys = []
    for k, st in enumerate(stacks):
        st = st.split("Address 0x")[0].split("Location 0x")[0]
        frames = FRAME.findall(st)
        # Recycled memory: the conflicting "write" is the destructor of the
        # block's previous owner (Rust's CString::drop writes its first
        # byte), and the block was allocated again under a guard.
        if k == 1 and alloc_guarded and frames and re.search(r"(as core::ops::drop::Drop>::drop|drop_in_place)", frames[0][0]):
            whys.append("memory reused: the previous owner's destructor vs. the new owner's locked access (block allocated under a guard)")
            continue
        why = None
        for func, loc in frames:
            for g, where, reason in GUARDS:
                if func.startswith(g) and (where is None or loc.strip() in where):
                    why = reason
                    break
            if why:
                break
        whys.append(why)
        if not why:
            ours = [f"{f} ({l})" for f, l in frames if "sasloauth::" in f or "httparse::" in f][:4]
            unexplained.append(ours or [f"{f} ({l})" for f, l in frames][:4])
    if all(whys):
        for w in set(whys):
            explained[w] = explained.get(w, 0) + 1
print("# helgrind: %d report(s) outside our code not in valgrind.supp, %d in our code at std::sync-ordered sites, "
      "%d stack(s) in our code unexplained" % (len(outside), sum(explained.values()), len(unexplained)))
for k, n in sorted(explained.items(), key=lambda kv: -kv[1]):
    print("#   %3d: %s" % (n, k))
for o in outside[:10]:
    print("#   OUTSIDE (add to valgrind.supp with a reason, or report): " + " | ".join(o))
for u in unexplained[:10]:
    print("#   UNEXPLAINED in our code: " + " <- ".join(u))
sys.exit(0 if not unexplained and not outside else 1)
PY
rc=$?
if [ "$rc" -eq 0 ]; then
    ok "helgrind$tag: nothing outside libsasloauth.so beyond valgrind.supp; each report in our code is at a site ordered by a std::sync lock or an atomic (invisible to helgrind)"
else
    not_ok "helgrind$tag: reports not explained by std::sync locks" "see $log"
fi
}

helgrind_run ""
helgrind_run " --no-cache" --no-cache
summary
