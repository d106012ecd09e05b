#!/usr/bin/env bash
# Installs the Debian packages that building (`deps.sh build`: make install),
# packaging (`deps.sh deb`: make deb), linting (`deps.sh lint`) or building and testing (`deps.sh`, `deps.sh test`: make test) needs, when
# missing. As root it runs apt-get itself; otherwise it prints the exact
# command. Building never installs a server.
set -euo pipefail

build=(
  build-essential pkg-config libclang-dev            # cc, bindgen's libclang
  libsasl2-dev                                       # libsasl2's headers (bindgen) and library
)
deb=(
  dpkg-dev lintian                                   # make deb: dpkg-shlibdeps, dpkg-deb; the package's check
)
tests=(
  "${deb[@]}"                                        # the package is built, installed and removed (c-tests/e2e/deb.sh)
  openssl                                            # test keys
  libsasl2-2 libsasl2-modules sasl2-bin              # libsasl2, its PLAIN/ANONYMOUS plugins, saslpluginviewer
  cyrus-imapd cyrus-clients                          # the first real server, imtest
  postfix                                            # relay tests (private instances only)
  slapd ldap-utils                                   # interop: OpenLDAP with ldapwhoami
  dovecot-core dovecot-pop3d dovecot-submissiond     # interop: a server we did not write (never dovecot-imapd: it conflicts with cyrus-imapd)
  curl python3 valgrind                              # real clients; memory checks
  isync subversion                                   # interop: mbsync (IMAP), svn and svnserve (libsasl2 on both sides)
  shellcheck                                         # make lint: every shell script
)
case "${1:-test}" in
  build) packages=("${build[@]}") ;;
  deb) packages=("${build[@]}" "${deb[@]}") ;;
  lint) packages=("${build[@]}" shellcheck python3) ;; # python3: make check-fn-length
  test)
    packages=("${build[@]}" "${tests[@]}")
    # The test identity provider (npm oidc-provider) needs Node.js 20 or later;
    # this machine kind ships it. Debian's own nodejs is only a fallback.
    command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
    ;;
  *) echo "usage: deps.sh [build|deb|lint|test]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing packages. Run as root:" >&2
  echo "  apt-get update && $cmd" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix without a system configuration: the tests run private instances,
# and the default ("Internet Site") would start one on port 25.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
# The tests start their own private instances: no system one may run.
for s in dovecot slapd postfix cyrus-imapd; do
  if [ -d /run/systemd/system ]; then systemctl disable --now "$s" >/dev/null 2>&1 || true
  else invoke-rc.d "$s" stop >/dev/null 2>&1 || true; update-rc.d "$s" disable >/dev/null 2>&1 || true; fi
done
