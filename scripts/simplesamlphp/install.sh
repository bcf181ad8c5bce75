#!/usr/bin/env bash
# Installs Debian's SimpleSAMLphp and the PHP modules it needs, only if something is
# missing. While apt runs, a deny-all /usr/sbin/policy-rc.d keeps the Apache that the
# package pulls in from starting; any pre-existing policy-rc.d is restored afterwards.
# Idempotent; prints nothing when everything is already installed.
#
#   scripts/simplesamlphp/install.sh
set -euo pipefail

PKGS=(simplesamlphp php-cli php-xml php-mbstring php-curl)

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for p in "${PKGS[@]}"; do
  installed "$p" || missing+=("$p")
done
# Belt and braces: the files start.sh relies on.
if ((${#missing[@]} == 0)); then
  [ -f /usr/share/simplesamlphp/www/saml2/idp/SSOService.php ] || missing+=(simplesamlphp)
  command -v php >/dev/null || missing+=(php-cli)
fi
((${#missing[@]})) || exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

POLICY=/usr/sbin/policy-rc.d
BACKUP="$POLICY.saml-edge-backup.$$"
had_policy=0
if [ -e "$POLICY" ] || [ -L "$POLICY" ]; then
  had_policy=1
  $SUDO mv "$POLICY" "$BACKUP"
fi
restore_policy() {
  $SUDO rm -f "$POLICY"
  if [ "$had_policy" = 1 ]; then $SUDO mv "$BACKUP" "$POLICY"; fi
}
trap restore_policy EXIT
printf '#!/bin/sh\n# saml-edge install.sh: no daemon may start during this install\nexit 101\n' \
  | $SUDO tee "$POLICY" >/dev/null
$SUDO chmod 0755 "$POLICY"

echo "[simplesamlphp/install] apt packages: ${missing[*]}" >&2
APTLOG="$(mktemp)"
run_apt() {
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get "$@" >>"$APTLOG" 2>&1; then
    cat "$APTLOG" >&2
    echo "[simplesamlphp/install] apt-get $1 failed" >&2
    exit 1
  fi
}
# The package index may be missing on a fresh machine (CI images often ship without it).
apt-cache show simplesamlphp >/dev/null 2>&1 || run_apt update -qq
run_apt install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${PKGS[@]}"
rm -f "$APTLOG"
echo "[simplesamlphp/install] done" >&2
