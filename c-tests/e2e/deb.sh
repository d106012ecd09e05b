#!/usr/bin/env bash
# The Debian packages (make deb) as an administrator gets them:
#   1. inspected: dpkg-deb -c has the plugin in /usr/lib/TRIPLET/sasl2/, the
#      tool in /usr/bin, the man pages, README, examples, copyright (naming
#      the crates linked in) and changelogs; no conffile, no maintainer
#      script; Multi-Arch and computed Depends; lintian reports no error;
#   2. installed with dpkg -i: installing alone changes what libsasl2 offers
#      on neither side; saslpluginviewer finds the plugin in the system
#      directory; Cyrus imapd on 127.0.0.1, without SASL_PATH, logs a user in
#      with OAUTHBEARER through the installed plugin, which logs its version
#      and commit at DEBUG level; /usr/bin/sasl-oauth doctor passes;
#   3. removed (dpkg -r) and purged (dpkg -P): no file of either package is
#      left, and what was there before (a plugin from make install) is back.
# The packages stay installed only for the seconds the checks take; a trap
# purges them and restores the saved files on any exit. Needs root (dpkg).
#
# Usage: deb.sh DEB_DIR FIXTURES   (from `make deb fixtures`)
# Prints "ok - NAME" / "not ok - NAME" per check, then "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

if [ $# -ne 2 ]; then
    echo "usage: $0 DEB_DIR FIXTURES" >&2
    exit 2
fi
deb_dir=$(cd "$1" && pwd)
fixtures=$(cd "$2" && pwd)
tokens=$fixtures/tokens
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
arch=$(dpkg --print-architecture)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n1)
plugin_pkg=libsasl2-modules-oauth
tools_pkg=sasl-oauth-tools
plugin_deb=$deb_dir/${plugin_pkg}_$version-1_$arch.deb
tools_deb=$deb_dir/${tools_pkg}_$version-1_$arch.deb
sasl_dir=/usr/lib/$triplet/sasl2
doc=/usr/share/doc/$plugin_pkg

e2e_init
INSTALLED=""
# deb_restore: purge what we installed, put back the files saved before.
deb_restore() {
    local p
    if [ -n "$INSTALLED" ]; then
        dpkg -P "$tools_pkg" "$plugin_pkg" > /dev/null 2>&1 || true
        INSTALLED=""
    fi
    [ -s "$E2E_TMP/existed" ] || return 0
    while IFS= read -r p; do
        if [ -f "$E2E_TMP/saved$p" ] && ! cmp -s "$E2E_TMP/saved$p" "$p"; then
            mkdir -p "$(dirname "$p")"
            cp -a "$E2E_TMP/saved$p" "$p"
        fi
    done < "$E2E_TMP/existed"
    : > "$E2E_TMP/existed"
}

# On any exit: that first, then the usual cleanup, with the script's status.
deb_exit() {
    local status=$?
    deb_restore
    (exit "$status")
    e2e_cleanup
}
trap deb_exit EXIT

[ "$(id -u)" -eq 0 ] || { not_ok "the test runs as root" "dpkg -i needs root"; e2e_finish; }
for d in "$plugin_deb" "$tools_deb"; do
    [ -f "$d" ] || { not_ok "the package $d exists" "run 'make deb'"; e2e_finish; }
done
fixtures_check "$fixtures" || e2e_finish
for p in "$plugin_pkg" "$tools_pkg"; do
    if dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q ' installed'; then
        not_ok "$p is not installed before the test" "it is: remove it (dpkg -P $p) and run again"
        e2e_finish
    fi
done

# ==================================================================== 1. inspected
echo "# 1. the packages' contents"
run dpkg-deb -c "$plugin_deb"
expect "the plugin package has the plugin, the section 5 pages, README, examples, copyright, changelogs" 0 \
    " \./usr/lib/$triplet/sasl2/libsasloauth\.so$" \
    " \./usr/share/man/man5/sasl-oauth\.conf\.5\.gz$" " \./usr/share/man/man5/sasl-oauth-server\.5\.gz$" \
    " \.$doc/README\.md\.gz$" " \.$doc/copyright$" " \.$doc/changelog\.gz$" " \.$doc/changelog\.Debian\.gz$" \
    " \.$doc/examples/postfix-smtpd\.conf$" " \.$doc/examples/postfix-relay\.main\.cf$" \
    " \.$doc/examples/cyrus-imapd\.conf$" " \.$doc/examples/slapd\.conf$" " \.$doc/examples/sasl-oauth\.conf$" \
    '!/usr/bin/' '!/etc/'
run dpkg-deb -c "$tools_deb"
expect "the tools package has /usr/bin/sasl-oauth, sasl-oauth(1), completions" 0 \
    ' \./usr/bin/sasl-oauth$' ' \./usr/share/man/man1/sasl-oauth\.1\.gz$' \
    ' \./usr/share/bash-completion/completions/sasl-oauth$' ' \./usr/share/zsh/vendor-completions/_sasl-oauth$' \
    ' \./usr/share/doc/sasl-oauth-tools/copyright$' '!/etc/' '!\.so$'

run dpkg-deb -f "$plugin_deb"
expect "the plugin package is Multi-Arch: same and depends on libc6 (shlibs) and libsasl2-2" 0 \
    '^Multi-Arch: same$' '^Depends: .*libc6 \(>= [0-9.]+\).*libsasl2-2' "^Version: $version-1$"
run dpkg-deb -f "$tools_deb"
expect "the tools package is Multi-Arch: foreign with computed Depends" 0 \
    '^Multi-Arch: foreign$' '^Depends: .*libc6 \(>= [0-9.]+\)'

for d in "$plugin_deb" "$tools_deb"; do
    run sh -c 'dpkg-deb --ctrl-tarfile "$1" | tar -t' sh "$d"
    expect "${d##*/} has no conffiles and no maintainer scripts" 0 \
        'control$' '!conffiles' '!(pre|post)(inst|rm)$' '!config$'
done

# The copyright names every crate linked in: each normal dependency of the
# package in Cargo.lock that is not build-time only shows up.
mkdir -p "$E2E_TMP/unpacked"
dpkg-deb -x "$plugin_deb" "$E2E_TMP/unpacked"
run grep -E '^(ring|rustls|ureq|serde_json|zeroize|base64|clap|webpki-roots) [0-9]' "$E2E_TMP/unpacked$doc/copyright"
expect "the copyright lists the linked crates with their versions" 0 \
    '^ring ' '^rustls ' '^ureq ' '^serde_json ' '^zeroize ' '^clap ' '^webpki-roots '
run grep -E '^License: ' "$E2E_TMP/unpacked$doc/copyright"
expect "the copyright has the licence texts (ISC, BSD-3-Clause, CDLA-Permissive-2.0, Unicode-3.0)" 0 \
    '^License: ISC$' '^License: BSD-3-Clause$' '^License: CDLA-Permissive-2.0$' '^License: Unicode-3.0$'

run lintian --tag-display-limit 0 "$plugin_deb" "$tools_deb"
# lintian's exit status is 2 for errors; warnings are listed in README (Packages).
expect "lintian reports no error" 0 '!^E: '

# ==================================================================== 2. installed
echo "# 2. installed"
# What libsasl2 offers on each side before, with an empty client file and an
# application configuration without oauth_* options.
: > "$E2E_TMP/empty-client.conf"
mkdir -p "$E2E_TMP/unconfigured" "$E2E_TMP/configured"
cp "$fixtures/server.conf" "$E2E_TMP/configured/pluginviewer.conf"
# (The server side's "Installed" list names every mechanism of a loaded
# plugin; what a connection may use is its "Available" list.)
offered() { # CONF_DIR CLIENT_CONF: the mechanisms a program may use, each side
    SASL_CONF_PATH=$1 SASL_OAUTH_CONF=$2 env -u SASL_PATH saslpluginviewer -s -c 2>&1 |
        grep -A1 -E '^(Available .*|Installed .*client side.*)mechanisms' | grep -v '^--$' || true
}
offered "$E2E_TMP/unconfigured" "$E2E_TMP/empty-client.conf" > "$E2E_TMP/offered-before"

# Every path of both packages: which exist now (a plugin from make install
# does), saved to be compared and put back after the purge.
deb_paths() { # DEB: its paths, absolute, without the root
    dpkg-deb -c "$1" | awk '{print substr($6, 2)}' | sed 's:/$::' | grep -v '^$'
}
{ deb_paths "$plugin_deb"; deb_paths "$tools_deb"; } | sort -u > "$E2E_TMP/paths"
: > "$E2E_TMP/existed"
mkdir -p "$E2E_TMP/saved"
while IFS= read -r p; do
    if [ -e "$p" ] || [ -L "$p" ]; then
        echo "$p" >> "$E2E_TMP/existed"
        if [ -f "$p" ]; then
            mkdir -p "$E2E_TMP/saved$(dirname "$p")"
            cp -a "$p" "$E2E_TMP/saved$p"
        fi
    fi
done < "$E2E_TMP/paths"

INSTALLED=1
run dpkg -i "$plugin_deb" "$tools_deb"
expect "dpkg -i installs both packages" 0
run dpkg-query -W -f='${Package} ${Version} ${Status}\n' "$plugin_pkg" "$tools_pkg"
expect "dpkg knows both as installed" 0 "^$plugin_pkg $version-1 install ok installed" \
    "^$tools_pkg $version-1 install ok installed"

offered "$E2E_TMP/unconfigured" "$E2E_TMP/empty-client.conf" > "$E2E_TMP/offered-after"
run diff "$E2E_TMP/offered-before" "$E2E_TMP/offered-after"
expect "installed but not configured, libsasl2 offers the same mechanisms on both sides as before" 0
run cat "$E2E_TMP/offered-after"
expect "and none of the plugin's (an empty client file, no oauth_* options)" 0 \
    'server side' 'client side' '!OAUTHBEARER' '!XOAUTH2' '!OAUTH10A' '! OAUTH( |$)'

run env -u SASL_PATH SASL_CONF_PATH="$E2E_TMP/configured" SASL_OAUTH_CONF="$SASL_OAUTH_CONF" \
    saslpluginviewer -s -c
expect "saslpluginviewer finds the installed plugin (no -p, no SASL_PATH) and, configured, both sides offer OAUTHBEARER and XOAUTH2" 0 \
    '^Plugin "sasloauth" \[loaded\]' 'SASL mechanism: OAUTHBEARER' 'SASL mechanism: XOAUTH2' \
    '^  .*OAUTHBEARER'

# Cyrus imapd with the installed plugin, found without SASL_PATH.
syslog_start
cyrus_new DEB
# debug: Cyrus passes LOG_DEBUG lines (the plugin's version line) to syslog.
cyrus_conf DEB "sasl_mech_list: OAUTHBEARER" "debug: yes" "$(oauth_imapd_lines "$fixtures")"
if cyrus_start DEB ""; then
    url="imap://127.0.0.1:$(cyrus_port DEB)/"
    run curl_imap --oauth2-bearer "$(cat "$tokens/rs256.jwt")" "$url" -u alice:
    expect "Cyrus imapd (no SASL_PATH) logs alice in with OAUTHBEARER through the installed plugin" 0 \
        '^> A[0-9]+ AUTHENTICATE OAUTHBEARER ' '^< A[0-9]+ OK \[CAPABILITY'
    run curl_imap --oauth2-bearer "$(cat "$tokens/expired.jwt")" "$url" -u alice:
    expect "and refuses an expired token" 67 '^< A[0-9]+ NO '
    commit=$(git -C "$root" rev-parse --short=12 HEAD 2> /dev/null || echo unknown)
    RUN_SYSLOG_MARK=0
    expect_syslog "the plugin logs its version and commit once at init (DEBUG)" \
        "sasl-oauth: version $version \\(commit $commit\\)"
    cyrus_stop DEB
else
    not_ok "Cyrus imapd starts with the installed plugin" "see its output" "$E2E_TMP/DEB/master.out"
fi

run env -u SASL_PATH SASL_CONF_PATH="$E2E_TMP/configured" /usr/bin/sasl-oauth doctor \
    --config "$E2E_TMP/configured/pluginviewer.conf"
expect "/usr/bin/sasl-oauth doctor passes with the installed plugin" 0 \
    "$sasl_dir" 'all checks passed' '!FAIL'
run /usr/bin/sasl-oauth --version
expect "/usr/bin/sasl-oauth --version names the version and the commit" 0 \
    "^sasl-oauth $version \\(commit ([0-9a-f]{12}|unknown)\\)$"
run bash -c '. /usr/share/bash-completion/completions/sasl-oauth && complete -p sasl-oauth'
expect "the bash completion loads and completes sasl-oauth" 0 'sasl-oauth$'

# ==================================================================== 3. removed
echo "# 3. removed and purged"
run dpkg -r "$tools_pkg" "$plugin_pkg"
expect "dpkg -r removes both" 0
left=""
while IFS= read -r p; do
    [ -f "$p" ] || [ -L "$p" ] || continue
    grep -qxF "$p" "$E2E_TMP/existed" || left+=" $p"
done < "$E2E_TMP/paths"
[ -z "$left" ] && ok "after dpkg -r no file of either package is left" ||
    not_ok "after dpkg -r no file of either package is left" "left:$left"
run dpkg -P "$tools_pkg" "$plugin_pkg"
expect "dpkg -P purges both" 0
INSTALLED=""
run sh -c 'dpkg-query -W -f="\${Package} \${Status}\n" "$@" 2>&1 || true' sh "$plugin_pkg" "$tools_pkg"
expect "dpkg no longer lists them as installed" 0 '!install ok installed'
run sh -c 'ls /var/lib/dpkg/info/ | grep -E "^(libsasl2-modules-oauth|sasl-oauth-tools)[:.]" || true'
expect "dpkg keeps no file about them" 0 '!(libsasl2-modules-oauth|sasl-oauth-tools)[:.]'

# What existed before is back; nothing else of ours exists.
cp "$E2E_TMP/existed" "$E2E_TMP/existed-before"
deb_restore
why=""
while IFS= read -r p; do
    if grep -qxF "$p" "$E2E_TMP/existed-before"; then
        [ -e "$p" ] || why+="; $p existed before and is gone"
        if [ -f "$E2E_TMP/saved$p" ] && ! cmp -s "$E2E_TMP/saved$p" "$p"; then why+="; $p differs from before"; fi
    elif [ -e "$p" ] || [ -L "$p" ]; then
        why+="; $p is left"
    fi
done < "$E2E_TMP/paths"
verdict_text="the machine is as before: every path of the packages exists exactly when it did, with the same contents"
[ -z "$why" ] && ok "$verdict_text" || not_ok "$verdict_text" "$why"

e2e_finish
