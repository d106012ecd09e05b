#!/usr/bin/env bash
# libsasl2's own view of the plugin, through Debian's saslpluginviewer:
#   - the plugin table "sasloauth" lists OAUTHBEARER and XOAUTH2, server and client;
#   - with the plugin's server options both are among the available server
#     mechanisms; without them the plugin still loads but offers neither;
#   - the client side needs no configuration;
#   - the security flags are honest for a bearer token (docs/platform.md §1.7): NO_ANONYMOUS
#     and PASS_CREDENTIALS, never NO_PLAINTEXT;
#   - a misspelt option disables the server side; of a key set twice,
#     libsasl2 uses the first line.
#
# Usage: pluginviewer.sh PLUGIN_DIR FIXTURES   (from `make plugin fixtures`)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

if [ $# -ne 2 ]; then
    echo "usage: $0 PLUGIN_DIR FIXTURES" >&2
    exit 2
fi
plugin_dir=$(cd "$1" && pwd)
fixtures=$(cd "$2" && pwd)

e2e_init
if [ ! -f "$fixtures/server.conf" ]; then
    not_ok "fixtures are present" "$fixtures/server.conf is missing: run 'make fixtures'"
    e2e_finish
fi

# saslpluginviewer's application name is "pluginviewer": libsasl2 reads
# pluginviewer.conf from $SASL_CONF_PATH (never /etc/sasl2 when that is set).
mkdir -p "$E2E_TMP/unconfigured" "$E2E_TMP/configured"
cp "$fixtures/server.conf" "$E2E_TMP/configured/pluginviewer.conf"

# viewer CONF_DIR: saslpluginviewer's output for our plugin directory only, then
# a summary that the checks match, one line per fact:
#   server-plugin: NAME MECH flags=... features=...   (same for client-plugin)
#   server-available: MECH MECH ...   the mechanisms a connection may use (sasl_listmech)
#   server-installed: MECH MECH ...   the mechanisms loaded (sasl_global_listmech)
# (same for the client side)
viewer() {
    local out="$E2E_TMP/out/viewer-$E2E_RUNS.txt" status=0
    SASL_CONF_PATH=$1 saslpluginviewer -s -c -p "$plugin_dir" > "$out" 2>&1 || status=$?
    sed 's/^/| /' "$out"
    python3 - "$out" <<'EOF'
import re, sys
side = None
plugin = mech = None
avail_next = None
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"(Available|Installed) .*SASL \((server|client) side\) mechanisms", line)
    if m:
        avail_next = "%s-%s" % (m.group(2), "available" if m.group(1) == "Available" else "installed")
        continue
    if avail_next:
        print("%s: %s" % (avail_next, line.strip()))
        avail_next = None
        continue
    m = re.match(r"No (server|client) side SASL mechanisms matching", line)
    if m:
        print("%s-available:" % m.group(1))
    m = re.match(r"List of (server|client) plugins follows", line)
    if m:
        side = m.group(1)
    m = re.match(r'Plugin "([^"]*)"', line)
    if m:
        plugin = m.group(1)
    m = re.match(r"\s+SASL mechanism: ([^,]+),", line)
    if m:
        mech = m.group(1)
        flags = features = ""
    m = re.match(r"\s+security flags: (.*)", line)
    if m:
        flags = m.group(1).strip()
    m = re.match(r"\s+features: ?(.*)", line)
    if m and side and plugin and mech:
        print("%s-plugin: %s %s flags=%s features=%s" % (side, plugin, mech, flags, m.group(1).strip()))
        mech = None
EOF
    return "$status"
}

# ---------------------------------------------------------------- no configuration

run viewer "$E2E_TMP/unconfigured"
# When no server mechanism is available, saslpluginviewer prints no server plugin
# table: the "installed" line is what shows that the server side still loads.
expect "unconfigured: the server side loads (both mechanisms installed)" 0 \
    '^server-installed:.*OAUTHBEARER' '^server-installed:.*XOAUTH2'
expect "unconfigured: neither mechanism is an available server mechanism" 0 \
    '^server-available:' '!^server-available:.*OAUTHBEARER' '!^server-available:.*XOAUTH2'
for mech in OAUTHBEARER XOAUTH2; do
    expect "unconfigured: plugin sasloauth lists $mech on the client side" 0 \
        "^client-plugin: sasloauth $mech "
done
expect "unconfigured: both are available client mechanisms (the client file names them)" 0 \
    '^client-available:.*OAUTHBEARER' '^client-available:.*XOAUTH2'

# Without a mechanisms line in the client's file, the plugin registers no
# client mechanism: a password client keeps PLAIN and LOGIN.
SASL_OAUTH_CONF=/dev/null run viewer "$E2E_TMP/unconfigured"
for mech in OAUTHBEARER XOAUTH2; do
    expect "no client mechanisms line: plugin sasloauth lists no $mech on the client side" 0 \
        "!^client-plugin: sasloauth $mech " "^server-installed:.*$mech"
done

# ---------------------------------------------------------------- configured

run viewer "$E2E_TMP/configured"
for side in server client; do
    for mech in OAUTHBEARER XOAUTH2; do
        expect "configured: plugin sasloauth lists $mech on the $side side" 0 \
            "^$side-plugin: sasloauth $mech "
    done
done
expect "configured: OAUTHBEARER and XOAUTH2 are available server mechanisms" 0 \
    '^server-available:.*OAUTHBEARER' '^server-available:.*XOAUTH2'
expect "configured: both remain available client mechanisms" 0 \
    '^client-available:.*OAUTHBEARER' '^client-available:.*XOAUTH2'
for side in server client; do
    for mech in OAUTHBEARER XOAUTH2; do
        expect "configured: $side $mech flags NO_ANONYMOUS and PASS_CREDENTIALS, not NO_PLAINTEXT" 0 \
            "^$side-plugin: sasloauth $mech flags=.*NO_ANONYMOUS" \
            "^$side-plugin: sasloauth $mech flags=.*PASS_CREDENTIALS" \
            "!^$side-plugin: sasloauth $mech flags=[^ ]*NO_PLAINTEXT"
    done
done

# ---------------------------------------------------------------- mistakes

# A misspelt option (the plural of oauth_required_scope) would drop a
# restriction: the plugin refuses to offer its server mechanisms instead.
mkdir -p "$E2E_TMP/typo" "$E2E_TMP/dup-first-bad" "$E2E_TMP/dup-last-bad"
{ cat "$fixtures/server.conf"; echo "oauth_required_scopes: admin"; } > "$E2E_TMP/typo/pluginviewer.conf"
run viewer "$E2E_TMP/typo"
expect "oauth_required_scopes (a typo) set: neither mechanism is an available server mechanism" 0 \
    '^server-available:' '!^server-available:.*OAUTHBEARER' '!^server-available:.*XOAUTH2'

# A key set twice: libsasl2 (lib/config.c) uses the first line, as
# sasl-oauth check and doctor say.
{ echo "oauth_jwks_file: /nonexistent/jwks.json"; cat "$fixtures/server.conf"; } > "$E2E_TMP/dup-first-bad/pluginviewer.conf"
{ cat "$fixtures/server.conf"; echo "oauth_jwks_file: /nonexistent/jwks.json"; } > "$E2E_TMP/dup-last-bad/pluginviewer.conf"
run viewer "$E2E_TMP/dup-first-bad"
expect "a key set twice: libsasl2 uses the first (a bad first line disables the server side)" 0 \
    '!^server-available:.*OAUTHBEARER'
run viewer "$E2E_TMP/dup-last-bad"
expect "a key set twice: libsasl2 uses the first (a bad last line is ignored)" 0 \
    '^server-available:.*OAUTHBEARER'

e2e_finish
