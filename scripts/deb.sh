#!/usr/bin/env bash
# Builds the Debian packages from the release build (make deb), with
# dpkg-deb and dpkg-shlibdeps only (Debian's dpkg-dev; no debian/ source
# tree, no cargo-deb to build first):
#   libsasl2-modules-oauth_VERSION-1_ARCH.deb  the plugin in
#       /usr/lib/TRIPLET/sasl2/, the section 5 man pages, README, examples,
#       changelog, copyright. Multi-Arch: same, as Debian's libsasl2-modules:
#       every file is either under the architecture's own directory or the
#       same on every architecture, so an i386 program can load its own copy.
#   sasl-oauth-tools_VERSION-1_ARCH.deb  /usr/bin/sasl-oauth, its man page
#       and completions: /usr/bin cannot be shared by two architectures, so
#       the tool is its own package (Multi-Arch: foreign).
# Nothing in either package is a conffile, and neither has maintainer
# scripts: installing changes no program's behaviour until it is configured
# (the client side registers no mechanism without a mechanisms line; the
# server side offers none without oauth_* options).
#
# Usage: deb.sh [OUTDIR]   (default build/deb; prints the two paths)
# Environment: DEB_MAINTAINER (default "sasl-oauth developers
# <sasl-oauth@example.org>"), DEB_REVISION (default 1), CARGO.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/deb}
cargo=${CARGO:-cargo}
revision=${DEB_REVISION:-1}
maintainer=${DEB_MAINTAINER:-sasl-oauth developers <sasl-oauth@example.org>}
plugin_pkg=libsasl2-modules-oauth
tools_pkg=sasl-oauth-tools
umask 022

cd "$root"
"$cargo" build --release --locked --lib --bins
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
rust_host=$(rustc -vV | sed -n 's/^host: //p')
full="$version-$revision"
# The date of the packaged commit (else now): the changelog's, and every
# file's time, so the same commit builds the same packages.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2> /dev/null || date +%s)}
export SOURCE_DATE_EPOCH=$epoch

work=$out/stage
rm -rf "$work"
mkdir -p "$work"
plugin=$work/$plugin_pkg
tools=$work/$tools_pkg

gz() { # SRC DEST: gzip -9n, no name or time inside
    gzip -9nc "$1" > "$2"
}

# ---- files
install -d "$plugin/usr/lib/$triplet/sasl2" "$plugin/usr/share/man/man5" \
    "$plugin/usr/share/doc/$plugin_pkg/examples"
install -m 0644 target/release/libsasloauth.so "$plugin/usr/lib/$triplet/sasl2/libsasloauth.so"
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$plugin/usr/lib/$triplet/sasl2/libsasloauth.so"
for page in sasl-oauth.conf.5 sasl-oauth-server.5; do
    gz "man/$page" "$plugin/usr/share/man/man5/$page.gz"
done
gz README.md "$plugin/usr/share/doc/$plugin_pkg/README.md.gz"
gz CHANGELOG.md "$plugin/usr/share/doc/$plugin_pkg/changelog.gz"
install -m 0644 examples/* "$plugin/usr/share/doc/$plugin_pkg/examples/"

install -d "$tools/usr/bin" "$tools/usr/share/man/man1" \
    "$tools/usr/share/bash-completion/completions" "$tools/usr/share/zsh/vendor-completions" \
    "$tools/usr/share/doc/$tools_pkg"
install -m 0755 target/release/sasl-oauth "$tools/usr/bin/sasl-oauth"
strip --remove-section=.comment --remove-section=.note "$tools/usr/bin/sasl-oauth"
gz man/sasl-oauth.1 "$tools/usr/share/man/man1/sasl-oauth.1.gz"
install -m 0644 completions/sasl-oauth.bash "$tools/usr/share/bash-completion/completions/sasl-oauth"
install -m 0644 completions/_sasl-oauth "$tools/usr/share/zsh/vendor-completions/_sasl-oauth"

# The copyright of every crate linked in, from cargo metadata.
"$cargo" metadata --format-version 1 --locked --filter-platform "$rust_host" > "$work/metadata.json"
python3 scripts/deb_copyright.py "$work/metadata.json" sasl-oauth > "$work/copyright"
when=$(date -R -u -d "@$epoch")
for pkg in "$plugin_pkg" "$tools_pkg"; do
    install -m 0644 "$work/copyright" "$work/$pkg/usr/share/doc/$pkg/copyright"
    printf '%s (%s) unstable; urgency=medium\n\n  * sasl-oauth %s: see changelog.gz in %s.\n\n -- %s  %s\n' \
        "$pkg" "$full" "$version" "/usr/share/doc/$plugin_pkg" "$maintainer" "$when" > "$work/changelog.Debian"
    gz "$work/changelog.Debian" "$work/$pkg/usr/share/doc/$pkg/changelog.Debian.gz"
done

# ---- Depends: the shared libraries the ELF files need (dpkg-shlibdeps wants
# a debian/control to read; a minimal one in the work directory).
mkdir -p "$work/debian"
printf 'Source: sasl-oauth\n\nPackage: %s\nArchitecture: any\n' "$plugin_pkg" > "$work/debian/control"
shlibs() { # ELF: the Depends it needs
    (cd "$work" && dpkg-shlibdeps -O -e"$1" 2> /dev/null) | sed -n 's/^shlibs:Depends=//p'
}
plugin_depends="$(shlibs "$plugin/usr/lib/$triplet/sasl2/libsasloauth.so"), libsasl2-2 (>= 2.1.28)"
tools_depends=$(shlibs "$tools/usr/bin/sasl-oauth")

control() { # PKG: DEBIAN/control from the fields that follow on stdin
    local dir=$work/$1
    install -d "$dir/DEBIAN"
    {
        echo "Package: $1"
        echo "Source: sasl-oauth"
        echo "Version: $full"
        echo "Architecture: $arch"
        echo "Maintainer: $maintainer"
        echo "Installed-Size: $(du -sk --exclude=DEBIAN "$dir" | cut -f1)"
        cat
    } > "$dir/DEBIAN/control"
    (cd "$dir" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$dir/DEBIAN/md5sums"
    chmod 0644 "$dir/DEBIAN/control" "$dir/DEBIAN/md5sums"
}

control "$plugin_pkg" << EOF
Multi-Arch: same
Depends: $plugin_depends
Suggests: $tools_pkg
Section: libs
Priority: optional
Description: OAuth 2.0 SASL mechanisms for Cyrus SASL (OAUTHBEARER, XOAUTH2)
 A libsasl2 plugin with the mechanisms OAUTHBEARER (RFC 7628), XOAUTH2,
 OAUTH10A and the draft OAUTH, on both sides: Postfix, Cyrus IMAP,
 OpenLDAP and their clients log in with OAuth 2.0 access tokens instead
 of passwords.
 .
 The server side accepts a JWT access token signed by a key of the
 identity provider's key set, with the right issuer, audience, lifetime
 and scope, or an opaque token the provider's introspection endpoint
 says is active. The client side sends an access token or keeps a token
 file fresh.
 .
 Installing the package changes nothing until it is configured: server
 mechanisms are offered only with oauth_* options, client mechanisms
 only when /etc/sasl2/sasl-oauth.conf names them.
EOF

control "$tools_pkg" << EOF
Multi-Arch: foreign
Depends: $tools_depends
Recommends: $plugin_pkg (= $full)
Suggests: sasl2-bin
Section: utils
Priority: optional
Description: command line companion of the OAuth SASL plugin
 sasl-oauth gets and refreshes the token files that the OAuth SASL
 plugin's client side uses (device authorization, authorization code
 with PKCE, client credentials), validates a token exactly as the
 plugin's server side would, and checks that libsasl2 finds and loads
 the plugin with an application's configuration.
EOF

# Every file's time is the commit's.
find "$work/$plugin_pkg" "$work/$tools_pkg" -exec touch -h -d "@$epoch" {} +
debs=()
for pkg in "$plugin_pkg" "$tools_pkg"; do
    deb=$out/${pkg}_${full}_$arch.deb
    dpkg-deb --root-owner-group -Zxz --build "$work/$pkg" "$deb" > /dev/null
    debs+=("$deb")
done
printf '%s\n' "${debs[@]}"
