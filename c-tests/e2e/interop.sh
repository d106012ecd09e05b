#!/usr/bin/env bash
# The interoperability matrix: real servers and real clients, nobody here
# wrote any of them, all on 127.0.0.1, started and stopped by the scripts.
#
#   interop_cyrus.sh    Cyrus imapd + our server plugin <- curl, Python imaplib,
#                       imtest (our client plugin), replayed client forms
#   interop_postfix.sh  Postfix smtpd + our server plugin <- curl, Python
#                       smtplib, Postfix's smtp client (our client plugin),
#                       replayed client forms; mail delivered
#   interop_slapd.sh    OpenLDAP slapd + our server plugin <- ldapwhoami (our
#                       client plugin)
#   interop_dovecot.sh  Dovecot's own OAUTHBEARER/XOAUTH2 <- pop3test and
#                       smtptest (our client plugin)
#   interop_mbsync.sh   Cyrus imapd + our server plugin <- mbsync (our client
#                       plugin; Pass, PassCmd with a token file)
#   interop_svn.sh      svnserve + our server plugin <- svn (our client plugin)
#
# Each script prints "ok - …"/"not ok - …" and records its cells; this driver
# runs them, checks that every cell of the matrix below was run, prints the
# total "N passed, N failed" (exit status 1 on any failure) and writes
# docs/interop.md: the table, the versions of every program, generated here.
#
# Usage: interop.sh PLUGIN_DIR FIXTURES [OUTPUT.md]
#   PLUGIN_DIR  build/plugin (make plugin); FIXTURES (make fixtures) is
#   accepted for symmetry with the other suites: the matrix gets its tokens
#   from the test identity provider (make idp). OUTPUT defaults to
#   docs/interop.md, or $INTEROP_DOC.
# Needs root (Postfix, Dovecot, slapd's mount namespace, syslog capture).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
    echo "usage: $0 PLUGIN_DIR FIXTURES [OUTPUT.md]" >&2
    exit 2
fi
plugin_dir=$(cd "$1" && pwd) || exit 2
doc=${3:-${INTEROP_DOC:-$root/docs/interop.md}}
SCRIPT_TIMEOUT=${INTEROP_SCRIPT_TIMEOUT:-240}

# ---------------------------------------------------------------- the matrix

# Every cell that must be run: client|server|mechanisms (as the scripts
# record them). A cell no script reported is a failure ("not run").
EXPECTED=(
    "curl|cyrus|OAUTHBEARER" "curl|cyrus|XOAUTH2"
    "curl|postfix|OAUTHBEARER" "curl|postfix|XOAUTH2"
    "python-imaplib|cyrus|OAUTHBEARER" "python-imaplib|cyrus|XOAUTH2"
    "python-smtplib|postfix|OAUTHBEARER" "python-smtplib|postfix|XOAUTH2"
    "imtest|cyrus|OAUTHBEARER" "imtest|cyrus|XOAUTH2"
    "postfix-smtp|postfix|OAUTHBEARER" "postfix-smtp|postfix|XOAUTH2"
    "ldapwhoami|slapd|OAUTHBEARER" "ldapwhoami|slapd|XOAUTH2"
    "ldapsearch|slapd|OAUTHBEARER"
    "mbsync|cyrus|OAUTHBEARER" "mbsync|cyrus|XOAUTH2"
    "svn|svnserve|OAUTHBEARER" "svn|svnserve|XOAUTH2"
    "pop3test|dovecot|OAUTHBEARER" "pop3test|dovecot|XOAUTH2"
    "smtptest|dovecot|OAUTHBEARER" "smtptest|dovecot|XOAUTH2"
    "form-curl|cyrus|OAUTHBEARER XOAUTH2" "form-curl|postfix|OAUTHBEARER XOAUTH2"
    "form-mutt|cyrus|OAUTHBEARER XOAUTH2" "form-mutt|postfix|OAUTHBEARER XOAUTH2"
    "form-neomutt|cyrus|OAUTHBEARER XOAUTH2" "form-neomutt|postfix|OAUTHBEARER XOAUTH2"
    "form-msmtp|postfix|OAUTHBEARER XOAUTH2"
    "form-imapclient|cyrus|OAUTHBEARER XOAUTH2 XOAUTH2+vendor"
    "form-roundcube|cyrus|OAUTHBEARER XOAUTH2"
    "form-kafka|cyrus|OAUTHBEARER" "form-kafka|postfix|OAUTHBEARER"
)
ROWS=(curl python-imaplib python-smtplib imtest pop3test smtptest postfix-smtp ldapwhoami
    ldapsearch mbsync svn form-curl form-mutt form-neomutt form-msmtp form-imapclient form-roundcube form-kafka)
COLS=(cyrus postfix slapd dovecot svnserve)
SCRIPTS=(interop_cyrus.sh interop_postfix.sh interop_slapd.sh interop_dovecot.sh interop_mbsync.sh
    interop_svn.sh)

# ---------------------------------------------------------------- versions

pkg() { dpkg-query -W -f='${Version}' "$1" 2> /dev/null || echo "not installed"; }
first_line() { "$@" 2>&1 | head -n 1; }

v_curl=$(first_line curl --version | awk '{print $2}')
v_python=$(first_line python3 --version | awk '{print $2}')
v_cyrus=$(pkg cyrus-imapd)
v_clients=$(pkg cyrus-clients)
v_postfix=$(postconf -d -h mail_version 2> /dev/null || echo "?")
v_slapd=$(pkg slapd)
v_ldaputils=$(pkg ldap-utils)
v_dovecot=$(first_line dovecot --version 2> /dev/null | awk '{print $1}')
v_libsasl=$(pkg libsasl2-2)
v_isync=$(pkg isync)
v_subversion=$(pkg subversion)
v_node=$(first_line node --version)
v_oidc=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' \
    "$root/tests/idp/node_modules/oidc-provider/package.json" 2> /dev/null || echo "?")
v_ours=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
v_commit=$(git -C "$root" describe --always --dirty 2> /dev/null || echo "?")
v_debian=$(cat /etc/debian_version 2> /dev/null || echo "?")

row_label() {
    case $1 in
        curl) echo "curl $v_curl (\`--oauth2-bearer\`)" ;;
        python-imaplib) echo "Python $v_python imaplib (\`authenticate\`, no SASL-IR)" ;;
        python-smtplib) echo "Python $v_python smtplib (\`auth\`, with and without initial response)" ;;
        imtest) echo "imtest (cyrus-clients $v_clients) + our client plugin" ;;
        pop3test) echo "pop3test (cyrus-clients $v_clients) + our client plugin" ;;
        smtptest) echo "smtptest (cyrus-clients $v_clients) + our client plugin" ;;
        postfix-smtp) echo "Postfix $v_postfix smtp client + our client plugin (mail relayed)" ;;
        ldapwhoami) echo "ldapwhoami (ldap-utils $v_ldaputils) + our client plugin" ;;
        ldapsearch) echo "ldapsearch (ldap-utils $v_ldaputils) + our client plugin" ;;
        mbsync) echo "mbsync (isync $v_isync) + our client plugin" ;;
        svn) echo "svn (subversion $v_subversion) + our client plugin" ;;
        form-curl) echo "message form of curl 7.88.1 (replayed)" ;;
        form-mutt) echo "message form of mutt 2.0–2.4 (replayed)" ;;
        form-neomutt) echo "message form of NeoMutt 20251211 (replayed)" ;;
        form-msmtp) echo "message form of msmtp 1.8.33 (replayed)" ;;
        form-imapclient) echo "message form of imapclient 3.1.0 (replayed)" ;;
        form-roundcube) echo "message form of Roundcube 1.7-beta (replayed)" ;;
        form-kafka) echo "message form of Apache Kafka's OAUTHBEARER client (replayed)" ;;
        *) echo "$1" ;;
    esac
}
col_label() {
    case $1 in
        cyrus) echo "Cyrus imapd $v_cyrus + our server plugin" ;;
        postfix) echo "Postfix smtpd $v_postfix + our server plugin" ;;
        slapd) echo "OpenLDAP slapd $v_slapd + our server plugin" ;;
        dovecot) echo "Dovecot $v_dovecot (its own OAUTHBEARER, XOAUTH2)" ;;
        svnserve) echo "svnserve (subversion $v_subversion) + our server plugin" ;;
    esac
}

# ---------------------------------------------------------------- run

cells=$(mktemp "${TMPDIR:-/tmp}/sasl-oauth-interop-cells.XXXXXX")
trap 'rm -f "$cells"' EXIT
export INTEROP_CELLS=$cells
passed=0
failed=0
t0=$(date +%s)

for script in "${SCRIPTS[@]}"; do
    echo "# ==== $script"
    out=$(mktemp "${TMPDIR:-/tmp}/sasl-oauth-interop-out.XXXXXX")
    timeout -k 10 "$SCRIPT_TIMEOUT" bash "$here/$script" "$plugin_dir" > "$out" 2>&1
    status=$?
    summary=""
    while IFS= read -r line; do
        if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
            summary=$line
            passed=$((passed + BASH_REMATCH[1]))
            failed=$((failed + BASH_REMATCH[2]))
            echo "# $script: $line"
        else
            printf '%s\n' "$line"
        fi
    done < "$out"
    rm -f "$out"
    if [ -z "$summary" ]; then
        failed=$((failed + 1))
        echo "not ok - $script ran to its end (exit status $status, no summary line)"
    elif [ "$status" -ne 0 ] && [[ $summary == *" 0 failed" ]]; then
        failed=$((failed + 1))
        echo "not ok - $script exited with status $status"
    fi
done

# Every cell of the matrix was run.
declare -A RESULT=()
while IFS=$'\t' read -r c s m r; do
    [ -n "$c" ] || continue
    RESULT["$c|$s|$m"]=$r
done < "$cells"
for key in "${EXPECTED[@]}"; do
    if [ -z "${RESULT[$key]:-}" ]; then
        failed=$((failed + 1))
        IFS='|' read -r c s m <<< "$key"
        echo "not ok - matrix cell $c -> $s ($m) was run"
        RESULT[$key]="not run"
    fi
done
elapsed=$(($(date +%s) - t0))

# ---------------------------------------------------------------- docs/interop.md

cell_text() { # CLIENT SERVER: the cell's text
    local key parts=() all_pass=1 mechs=() m r
    for key in "${EXPECTED[@]}"; do
        IFS='|' read -r c s m <<< "$key"
        [ "$c" = "$1" ] && [ "$s" = "$2" ] || continue
        r=${RESULT[$key]}
        for one in $m; do
            mechs+=("$one")
            if [ "$r" = pass ]; then parts+=("$one pass")
            elif [ "$r" = "not run" ]; then parts+=("$one **NOT RUN**"); all_pass=""
            else parts+=("$one **FAIL**"); all_pass=""; fi
        done
    done
    if [ "${#mechs[@]}" -eq 0 ]; then echo "—"; return; fi
    if [ -n "$all_pass" ]; then
        local IFS=,
        echo "pass: ${mechs[*]}" | sed 's/,/, /g'
    else
        local IFS=,
        echo "${parts[*]}" | sed 's/,/, /g'
    fi
}

mkdir -p "$(dirname "$doc")"
tmpdoc="$doc.tmp.$$"
{
    echo "# Interoperability matrix"
    echo
    echo "<!-- Generated by c-tests/e2e/interop.sh (make interop): do not edit by hand. -->"
    echo
    echo "Every cell is a real program nobody here wrote, talking to a real server on"
    echo "127.0.0.1, both started and stopped by the test run. Tokens come from a real"
    echo "OAuth 2.0 provider ([npm oidc-provider](../tests/idp/README.md)): JWT access"
    echo "tokens checked against its published keys, opaque tokens by its introspection"
    echo "endpoint. A cell passes when a valid token logs in as the token's user *and* a"
    echo "refused token ends cleanly after the server's error challenge, in that"
    echo "client's own way."
    echo
    echo "Run on $(date -u +%Y-%m-%d) (UTC), Debian $v_debian, sasl-oauth $v_ours ($v_commit),"
    echo "libsasl2 $v_libsasl; identity provider oidc-provider $v_oidc on Node.js $v_node."
    echo "Result: **$passed checks passed, $failed failed** in ${elapsed} s."
    echo
    printf '| client \\ server |'
    for s in "${COLS[@]}"; do printf ' %s |' "$(col_label "$s")"; done
    echo
    printf '|---|'
    for s in "${COLS[@]}"; do printf -- '---|'; done
    echo
    for c in "${ROWS[@]}"; do
        printf '| %s |' "$(row_label "$c")"
        for s in "${COLS[@]}"; do printf ' %s |' "$(cell_text "$c" "$s")"; done
        echo
    done
    cat <<'EOF'

"—": that client does not speak that server's protocol (or, for the replayed
forms, that client has no such protocol).

## What each cell checks

- **Cyrus imapd** (`interop_cyrus.sh`): two private instances, one offering
  OAUTHBEARER and XOAUTH2, one offering only XOAUTH2 (curl picks OAUTHBEARER
  whenever it is offered). A JWT and an opaque token log in; imapd's log names
  alice and the mechanism; a JWT for another audience gets the error challenge
  (`invalid_token`, or XOAUTH2's `401`) and a `NO`. imtest's refusal is checked
  down to `sasl_errdetail()`, which carries the server's status.
- **Postfix smtpd** (`interop_postfix.sh`): `smtpd_sasl_type = cyrus`, one
  listener with both mechanisms and one with `smtpd_sasl_mechanism_filter =
  xoauth2`. Every accepted login sends a message that must arrive in bob's
  Maildir. Postfix's own smtp client (a second instance, one transport per
  mechanism through `smtp_sasl_mechanism_filter`) relays mail queued by
  `sendmail`; the receiving smtpd's log ties that very queue id to
  `sasl_method=…, sasl_username=alice`.
- **OpenLDAP slapd** (`interop_slapd.sh`): no database, `sasl-secprops none`,
  `authz-regexp` to `uid=<name>,ou=people,dc=example,dc=test`; `ldapwhoami -Y
  MECH -w TOKEN` must answer `dn:uid=alice,…`, from the token even when `-U
  bob` is given; a refused token is `Invalid credentials (49)` with the
  plugin's reason.
- **Dovecot** (`interop_dovecot.sh`): Dovecot's own mechanisms, `passdb oauth2`
  introspecting opaque tokens at the provider. Valid token: `Authenticated.`;
  unknown token: Dovecot's error challenge, our client's answer (`AQ==` for
  OAUTHBEARER, an empty line for XOAUTH2), the refusal, and the status
  (`invalid_token`, `401`) in `sasl_errdetail()`; alice's token as bob:
  refused by Dovecot's user name check.
- **mbsync** (`interop_mbsync.sh`): a Cyrus instance that makes alice's
  INBOX at her first login; `AuthMechs` picks the mechanism. With `Pass
  TOKEN`, mbsync logs in and pushes a local message, found afterwards in
  Cyrus' partition. With `PassCmd` printing `file:/path/token.json` whose
  access token expired a minute ago, the plugin refreshes the file during
  the sync with exactly one `/token` request, and the next sync makes none.
  A refused token: the error challenge, our answer (`AQ==`, or an empty
  line for XOAUTH2), `NO`, a non-zero exit before the timeout, the status in
  `sasl_errdetail()`, nothing pushed.
- **Subversion** (`interop_svn.sh`): `svnserve` with `[sasl] use-sasl =
  true` and its SASL file `svn.conf`; `svn mkdir` with `--password TOKEN`
  (a JWT, an opaque token) commits a revision whose author is alice; a
  refused token ends with `E170001` and no revision, and svnserve's log has
  the plugin's reason; `--username bob` with alice's token is refused. The
  client's mechanisms line names one mechanism per cell.
- **Replayed message forms** (`interop_forms.py`): the exact bytes each client
  sends, read from its source (file, function and version are cited in the
  script): curl and mutt/NeoMutt/msmtp send `host` and `port` and an unescaped
  `a=`, imapclient and Roundcube no `host`/`port`, Kafka `n,,` plus SASL
  extensions, imapclient's Yahoo variant adds `vendor=`. After the error
  challenge each ends its own way: `AQ==` (curl, mutt, Kafka), an empty line
  (msmtp, Roundcube), the whole message again (imapclient, through imaplib),
  a raw 0x01 byte without CRLF and a hang-up (NeoMutt over IMAP), or a plain
  hang-up (curl's XOAUTH2, NeoMutt over SMTP). All must be refused, never
  logged in, and the server must keep serving.

## Things learned on the way

- curl 7.88 does not answer an XOAUTH2 error challenge at all: it reports
  "Login denied" and drops the connection mid-exchange.
- NeoMutt refuses OAUTHBEARER tokens longer than 512 bytes (its replay here
  uses an opaque token), and after an error challenge over IMAP sends the
  byte 0x01 raw, without base64 and CRLF, then closes the connection.
- mutt answers XOAUTH2's error challenge with `AQ==` too (not the empty
  response Google documents); msmtp answers OAUTHBEARER's with an empty line.
- Dovecot 2.3 needs `a=` in OAUTHBEARER ("Missing username or token"
  otherwise) and compares it with the token's user name: give the Cyrus test
  clients an authorization name (`-u alice`).
- Cyrus' `imtest`, `pop3test` and `smtptest` exit 0 whatever happens and never
  print `sasl_errdetail()`; the scripts read it through a small LD_PRELOAD
  wrapper around `sasl_client_step`.
- slapd reads its SASL file only from `/etc/ldap/sasl2`; the script
  bind-mounts a private folder there inside `unshare -m`. `ldapsearch -Y
  OAUTHBEARER` binds the same way as ldapwhoami.
- Postfix 3.7 has `smtpd_sasl_mechanism_filter`, which gives one smtpd
  listener XOAUTH2 only with the same SASL configuration.
- mbsync and svn need opposite return codes after the client's token
  message. mbsync (no `SASL_SUCCESS_DATA`) aborts ("IMAP wants more steps
  despite successful SASL authentication") when the server challenges after
  the client said SASL_OK; svn (`SASL_SUCCESS_DATA`) fails with "Unexpected
  server response to authentication" when the server's success has no data
  while the client still says SASL_CONTINUE. The client plugin follows the
  flag: SASL_OK with `SASL_SUCCESS_DATA`, SASL_CONTINUE without.
- With a refused token svn reports only `E170001: Unexpected server response
  to authentication`: it reads the server's error challenge as a protocol
  error and never lets the mechanism answer it. The reason is in svnserve's
  (syslog) log.
- mbsync prints the whole `AUTHENTICATE` command, token included, when the
  server answers `NO`: keep its output out of shared logs.
- mbsync 1.4 does not end the exchange when a client step fails after the
  server's challenge: it prints the error and then waits, past its own
  `Timeout`. The plugin fails a step there in one case: a token from a
  token file that the server refused as invalid, after which the file is
  refreshed and the step returns SASL_TRYAGAIN. The file is then fresh for
  the next run, but that mbsync run has to be killed (seen here: killed by
  `timeout 60`); this case is not a cell.
EOF
} > "$tmpdoc"
mv "$tmpdoc" "$doc"
echo "# wrote $doc"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
