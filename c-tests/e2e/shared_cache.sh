#!/usr/bin/env bash
# The shared validation caches against real parts: Cyrus imapd with a prefork
# pool of 8 processes, the test identity provider (opaque tokens checked by
# introspection) and a real redis-server started here on a free port.
#   - 400 logins with 20 tokens spread over the pool: the provider's
#     introspection requests counted with per-process caches, with
#     oauth_cache_file (one LMDB file for the host), and with two imapd
#     instances sharing one Redis (oauth_cache_url);
#   - redis-server killed in the middle of a run: no bad token accepted, the
#     logins go on through the provider, the cache is back once Redis is;
#   - a Redis entry written without the key, or with its identity changed,
#     is not accepted (and the log says so);
#   - the LMDB file truncated while the servers run: no crash, no acceptance;
#   - OAUTH10A: a message replayed to the other "host" sharing Redis is refused;
#   - a cache file others may write: the mechanisms are not offered;
#   - sasl-oauth cache purge --user / --all: the next logins are validated again.
# The counts are printed as "# measured:" lines (make bench shows them too).
#
# Usage: shared_cache.sh PLUGIN_DIR      (from `make plugin idp`)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=idp_lib.sh
. "$here/idp_lib.sh"

TOKENS=${CACHE_TOKENS:-20}
LOGINS=${CACHE_LOGINS:-400}
export CYRUS_PREFORK=8
logins_py=$here/cache_logins.py
cli=${SASL_OAUTH_BIN:-$(cd "$here/../.." && pwd)/target/debug/sasl-oauth}
client=$here/imap_oauth_mechs.py

idp_script_start "$@"
idp_require || finish
command -v redis-server >/dev/null || { not_ok "redis-server is installed" "run scripts/deps.sh test"; finish; }
plugins=$(plugin_copy "$plugin_dir")
syslog_start
idp_start --access-ttl 3600 || { not_ok "the identity provider starts"; finish; }
user=$(cyrus_run_user)

: > "$E2E_TMP/files/tokens"
for ((i = 0; i < TOKENS; i++)); do tok opaque; echo "$TOKEN" >> "$E2E_TMP/files/tokens"; done
bad=$E2E_TMP/files/bad-tokens
python3 -c 'import secrets
for _ in range(20): print(secrets.token_urlsafe(32))' > "$bad"
ok "the provider issued $TOKENS opaque tokens"

creds=$E2E_TMP/files/oauth10a-credentials.json
oauth_lines=(
    "sasl_mech_list: OAUTHBEARER OAUTH10A"
    "sasl_oauth_issuer: $IDP_ISSUER"
    "sasl_oauth_audience: urn:sasl-oauth:opaque"
    "sasl_oauth_client_id: resource-server"
    "sasl_oauth_client_secret: rs-secret"
    "sasl_oauth_username_claim: username"
    "sasl_oauth_required_scope: mail"
    "sasl_oauth_timeout: 2000"
    "sasl_oauth_accepted_hosts: 127.0.0.1"
    "sasl_oauth10a_credentials_file: $creds"
)
echo '{"consumers": {"imap-client": {"secret": "cs"}}, "tokens": {"tok-alice": {"secret": "ts", "user": "alice", "consumer": "imap-client"}}}' > "$creds"
chmod a+r "$creds"
client_creds=$E2E_TMP/client-oauth1.json
echo '{"consumer_key": "imap-client", "consumer_secret": "cs", "token": "tok-alice", "token_secret": "ts"}' > "$client_creds"

# pool_pids NAME: the imapd processes of instance NAME that logged someone in.
pool_pids() {
    [ -n "$E2E_SYSLOG" ] || { echo "?"; return; }
    grep -E "e2e-$1/imap\[[0-9]+\]: login: " "$E2E_SYSLOG" | sed -E 's/.*imap\[([0-9]+)\].*/\1/' | sort -u | wc -l
}

# measure NAME PORTS: LOGINS logins over PORTS, introspections counted.
measure() {
    local name=$1 ports=$2 n
    idp_counters_reset
    run python3 "$logins_py" "$ports" "$E2E_TMP/files/tokens" "$LOGINS" --parallel 8
    n=$(idp_counter /token/introspection)
    expect "$name: $LOGINS logins with $TOKENS tokens all succeed" 0 "ok=$LOGINS "
    echo "# measured: $name: $n introspection requests for $LOGINS logins with $TOKENS tokens"
    MEASURED=$n
}

# ---------------------------------------------------------------- per process

cyrus_new PER
cyrus_conf PER "${oauth_lines[@]}"
cyrus_start PER "$plugins"
measure "per-process caches (prefork 8)" "$(cyrus_port PER)"
per=$MEASURED
echo "# measured: per-process caches: logins served by $(pool_pids PER) imapd processes"
if [ "$per" -gt "$TOKENS" ]; then
    ok "per-process caches: more introspections ($per) than tokens ($TOKENS): the pool's processes each validate"
else
    not_ok "per-process caches: more introspections than tokens" "$per for $TOKENS tokens: the logins did not spread over the pool"
fi
cyrus_stop PER

# ---------------------------------------------------------------- LMDB

cyrus_new LMDB
cachefile=$E2E_TMP/LMDB/config/oauth-cache.mdb
cyrus_conf LMDB "${oauth_lines[@]}" "sasl_oauth_cache_file: $cachefile"
cyrus_start LMDB "$plugins"
measure "oauth_cache_file (prefork 8)" "$(cyrus_port LMDB)"
lmdb=$MEASURED
echo "# measured: oauth_cache_file: logins served by $(pool_pids LMDB) imapd processes"
# Goal: one per token. Two processes may check one token at the same moment
# (both miss): a few more are allowed, never per-process numbers.
if [ "$lmdb" -ge "$TOKENS" ] && [ "$lmdb" -le $((TOKENS + 4)) ]; then
    ok "oauth_cache_file: $lmdb introspections for $TOKENS tokens (per-process: $per)"
else
    not_ok "oauth_cache_file: about one introspection per token" "$lmdb for $TOKENS tokens"
fi
mode=$(stat -c '%a %U' "$cachefile")
if [ "$mode" = "600 $user" ]; then ok "the cache file is mode 0600, owned by $user"
else not_ok "the cache file is mode 0600, owned by $user" "it is $mode"; fi

# The kill switch: purge alice's results, then every token is validated again.
run "$cli" cache purge --user alice --imapd-conf "$E2E_TMP/LMDB/imapd.conf"
expect "cache purge --user alice: removes her $TOKENS results from the LMDB file" 0 \
    "^removed $TOKENS cached results of alice from oauth_cache_file "
idp_counters_reset
run python3 "$logins_py" "$(cyrus_port LMDB)" "$E2E_TMP/files/tokens" 40 --parallel 1
n=$(idp_counter /token/introspection)
expect "after the purge, logins succeed" 0 "ok=40 "
if [ "$n" -eq "$TOKENS" ]; then ok "after the purge, each token is validated at the provider once more ($n)"
else not_ok "after the purge, each token is validated once more" "$n introspections for $TOKENS tokens"; fi
run "$cli" cache purge --user bob --imapd-conf "$E2E_TMP/LMDB/imapd.conf"
expect "cache purge --user bob: nothing of his" 0 "^removed 0 cached results of bob "

# OAUTH10A nonces in the LMDB file: a replay to another process of the pool.
port=$(cyrus_port LMDB)
run python3 "$client" "$port" oauth10a "$client_creds" --save "$E2E_TMP/o1-lmdb" --hold 2
expect "OAUTH10A with oauth_cache_file: a signed login succeeds" 0 '^result: OK'
run python3 "$client" "$port" oauth10a "$client_creds" --replay "$E2E_TMP/o1-lmdb"
expect "OAUTH10A with oauth_cache_file: the same message again is refused" 1 '^result: NO'

# Truncated while the servers run: refusals at worst, no crash, no acceptance.
truncate -s 0 "$cachefile"
run python3 "$logins_py" "$port" "$E2E_TMP/files/tokens" 100 --parallel 8 --bad "$bad"
expect "LMDB file truncated: good tokens still log in (by the provider), bad ones are refused" 0 \
    "wrongly_accepted=0 " "errors=0"
expect_syslog "LMDB file truncated: the log says the file is no longer used" \
    'sasl-oauth: .*oauth_cache_file.*(truncated|shrank)'
assert_no_crash_in_syslog imapd
run imap_greeting "$port"
expect "LMDB file truncated: imapd still serves" 0 '^\* OK'
cyrus_stop LMDB

# A file others may write: refused at init, mechanisms not offered.
cyrus_new OPEN
openfile=$E2E_TMP/OPEN/config/oauth-cache.mdb
cyrus_conf OPEN "${oauth_lines[@]}" "sasl_oauth_cache_file: $openfile"
: > "$openfile"
chown "$user" "$openfile"
chmod 666 "$openfile"
cyrus_start OPEN "$plugins"
run cat "$E2E_TMP/OPEN/greeting"
run python3 "$logins_py" "$(cyrus_port OPEN)" "$E2E_TMP/files/tokens" 1 --parallel 1
expect "a cache file others may write: no login" 1 "ok=0 "
expect_syslog "a cache file others may write: one line names it" \
    'sasl-oauth: server mechanisms disabled: oauth_cache_file: .*writable by group or others'
cyrus_stop OPEN

# ---------------------------------------------------------------- Redis

redis_dir=$E2E_TMP/redis
mkdir -p "$redis_dir"
redis_port=$(free_port)
REDIS_PID=""
redis_up() {
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$redis_dir" > "$redis_dir/log" 2>&1 &
    REDIS_PID=$!
    E2E_PIDS+=("$REDIS_PID")
    local _
    for _ in $(seq 100); do
        [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    return 1
}
redis_up || { not_ok "redis-server starts" "" "$redis_dir/log"; finish; }
ok "redis-server runs on 127.0.0.1:$redis_port"
key=$E2E_TMP/files/cache.key
head -c 32 /dev/urandom | base64 > "$key"
chown "$user" "$key"
chmod 600 "$key"
redis_lines=("sasl_oauth_cache_url: redis://127.0.0.1:$redis_port/3" "sasl_oauth_cache_key_file: $key")
for n in RA RB; do
    cyrus_new "$n"
    cyrus_conf "$n" "${oauth_lines[@]}" "${redis_lines[@]}"
    cyrus_start "$n" "$plugins"
done
ports="$(cyrus_port RA),$(cyrus_port RB)"
measure "oauth_cache_url, two imapd instances (prefork 8 each)" "$ports"
redis=$MEASURED
echo "# measured: oauth_cache_url: logins served by $(pool_pids RA) + $(pool_pids RB) imapd processes"
if [ "$redis" -ge "$TOKENS" ] && [ "$redis" -le $((TOKENS + 4)) ]; then
    ok "oauth_cache_url: $redis introspections for $TOKENS tokens over two instances (per-process: $per)"
else
    not_ok "oauth_cache_url: about one introspection per token over two instances" "$redis for $TOKENS tokens"
fi
stored=$(redis-cli -p "$redis_port" -n 3 --scan --pattern 'sasloauth:e:*' | wc -l)
if [ "$stored" -eq "$TOKENS" ]; then ok "Redis holds one entry per token ($stored), keyed by its SHA-256"
else not_ok "Redis holds one entry per token" "$stored entries"; fi
first=$(head -n 1 "$E2E_TMP/files/tokens")
if redis-cli -p "$redis_port" -n 3 --scan | grep -qF "$first"; then
    not_ok "no Redis key holds a token"
else ok "no Redis key holds a token"; fi

run "$cli" cache purge --all --imapd-conf "$E2E_TMP/RA/imapd.conf"
expect "cache purge --all: removes the $TOKENS results from Redis" 0 \
    "^removed $TOKENS cached results in all from oauth_cache_url redis://127.0.0.1:$redis_port/3"
stored=$(redis-cli -p "$redis_port" -n 3 --scan --pattern 'sasloauth:*' | wc -l)
if [ "$stored" -eq 0 ]; then ok "cache purge --all: no entry or index left in Redis"
else not_ok "cache purge --all: no entry or index left in Redis" "$stored keys"; fi
idp_counters_reset
run python3 "$logins_py" "$ports" "$E2E_TMP/files/tokens" 40 --parallel 1
n=$(idp_counter /token/introspection)
if [ "$n" -eq "$TOKENS" ]; then ok "after purge --all, each token is validated once more ($n), then cached"
else not_ok "after purge --all, each token is validated once more" "$n introspections"; fi

# OAUTH10A replay across the two "hosts".
run python3 "$client" "$(cyrus_port RA)" oauth10a "$client_creds" --save "$E2E_TMP/o1-redis"
expect "OAUTH10A: a signed login at the first instance succeeds" 0 '^result: OK'
run python3 "$client" "$(cyrus_port RB)" oauth10a "$client_creds" --replay "$E2E_TMP/o1-redis"
expect "OAUTH10A: the same message replayed to the second instance is refused" 1 '^result: NO'
expect_syslog "OAUTH10A: the second instance's log says replay" 'e2e-RB/imap.*sasl-oauth: .*replay'

# Forged entries: one written without the key for a token the provider
# never issued, and a real entry with its identity changed.
# forge nokey|changed TOKEN: writes the entry of TOKEN in Redis (db 3) over
# a socket of its own (binary-safe): a well-formed entry whose MAC is under
# a random key, or the stored entry with alice replaced by admin.
forge() {
    python3 - "$redis_port" "$@" <<'PY'
import hashlib, hmac, os, socket, struct, sys, time
port, mode, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
def call(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    s.sendall(out)
    line = f.readline()
    if line.startswith(b"$"):
        n = int(line[1:])
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data
    return line
k = hashlib.sha256(token.encode()).digest()
name = b"sasloauth:e:" + k.hex().encode()
call(b"SELECT", b"3")
if mode == "nokey":
    now = int(time.time())
    body = bytes([1]) + struct.pack(">qq", now + 300, now + 3600) + os.urandom(16)
    body += struct.pack(">H", 5) + b"alice"
    tag = hmac.new(os.urandom(32), b"sasl-oauth cache entry v1\0" + k + body, "sha256").digest()
    entry = body + tag
else:
    entry = call(b"GET", name)
    if not entry or b"alice" not in entry:
        sys.exit("no entry for the token")
    entry = entry.replace(b"alice", b"admin")
print(call(b"SET", name, entry, b"EX", b"300").decode().strip())
PY
}
fake=$(head -n 1 "$bad")
run forge nokey "$fake"
expect "an entry without the key is written to Redis" 0 '^\+OK'
run python3 "$logins_py" "$(cyrus_port RA)" "$bad" 1 --parallel 1
expect "Redis: an entry written without the key does not log in" 1 "ok=0 "
expect_syslog "Redis: the log says the entry is not authenticated" 'sasl-oauth: .*not authenticated by the cache key'
run forge changed "$first"
expect "an entry with its identity changed (alice to admin) is written to Redis" 0 '^\+OK'
printf '%s\n' "$first" > "$E2E_TMP/files/first"
run python3 "$logins_py" "$(cyrus_port RB)" "$E2E_TMP/files/first" 1 --parallel 1
expect "Redis: with its entry changed, the token is validated again and logs in" 0 "ok=1 "
expect_syslog "Redis: the changed entry is ignored as not authenticated" \
    'e2e-RB/imap.*sasl-oauth: .*not authenticated by the cache key'
if [ -n "$E2E_SYSLOG" ] && tail -n +"$((RUN_SYSLOG_MARK + 1))" "$E2E_SYSLOG" | grep -q 'login: .* admin '; then
    not_ok "Redis: the changed identity is not the one logged in" "someone logged in as admin"
else
    ok "Redis: the changed identity is not the one logged in"
fi

# redis-server killed in the middle of a run.
idp_counters_reset
python3 "$logins_py" "$ports" "$E2E_TMP/files/tokens" 300 --parallel 4 --bad "$bad" \
    > "$E2E_TMP/out/outage.log" 2>&1 &
logins=$!
sleep 1
kill -KILL "$REDIS_PID"
wait "$logins" && status=0 || status=$?
if [ "$status" -eq 0 ] && grep -q 'wrongly_accepted=0 ' "$E2E_TMP/out/outage.log"; then
    ok "redis-server killed during 300 logins: every good token logged in, no bad one ($(head -n 1 "$E2E_TMP/out/outage.log"))"
else
    not_ok "redis-server killed during a run: no wrong answer" "" "$E2E_TMP/out/outage.log"
fi
run python3 "$logins_py" "$ports" "$E2E_TMP/files/tokens" 40 --parallel 4 --bad "$bad"
expect "Redis down: logins go on through the provider, bad tokens refused" 0 "wrongly_accepted=0 "
if [ -z "$E2E_SYSLOG" ]; then
    skip "Redis down: the log says the cache is unusable" "server log not captured"
elif grep -Eq 'sasl-oauth: .*oauth_cache_url .*unusable' "$E2E_SYSLOG"; then
    ok "Redis down: the log says the cache is unusable ($(grep -Ec 'sasl-oauth: .*oauth_cache_url .*unusable' "$E2E_SYSLOG") lines from $(pool_pids RA) + $(pool_pids RB) processes)"
else
    not_ok "Redis down: the log says the cache is unusable" "no such line" "$E2E_SYSLOG"
fi
down=$(idp_counter /token/introspection)
echo "# measured: Redis down: $down introspection requests (through the provider)"
run python3 "$client" "$(cyrus_port RA)" oauth10a "$client_creds"
expect "Redis down: OAUTH10A logins fail as temporary failures" 1 '^result: NO .*(transient|temporar)'
redis_up || { not_ok "redis-server starts again" "" "$redis_dir/log"; finish; }
sleep 1.5
# Twice the tokens: the first pass fills the new Redis, the second hits it.
run python3 "$logins_py" "$ports" "$E2E_TMP/files/tokens" "$TOKENS" --parallel 1
idp_counters_reset
run python3 "$logins_py" "$ports" "$E2E_TMP/files/tokens" 100 --parallel 8
back=$(idp_counter /token/introspection)
expect "Redis back: logins succeed" 0 "ok=100 "
if [ "$back" -eq 0 ]; then ok "Redis back: the cache serves again (0 introspections for 100 logins)"
else not_ok "Redis back: the cache serves again" "$back introspections for 100 logins"; fi
assert_no_crash_in_syslog imapd

finish
