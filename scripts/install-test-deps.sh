#!/usr/bin/env bash
# Installs what the tests need on a bare Debian machine, and nothing that is already there:
# the oracles (xmlsec1, xmllint), SimpleSAMLphp as the real IdP, the wasm targets and
# cargo-fuzz. Safe to rerun.
set -euo pipefail

log() { printf '[install-test-deps] %s\n' "$*"; }

need_apt=()
command -v xmlsec1 >/dev/null || need_apt+=(xmlsec1)
command -v xmllint >/dev/null || need_apt+=(libxml2-utils)
command -v openssl >/dev/null || need_apt+=(openssl)
if ((${#need_apt[@]})); then
  log "apt packages: ${need_apt[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# The real IdP for interop and end-to-end tests (PHP's built-in server, no Apache).
"$(dirname "$0")/simplesamlphp/install.sh"

for target in wasm32-unknown-unknown wasm32-wasip2; do
  if ! rustup target list --installed | grep -qx "$target"; then
    log "rust target $target"
    rustup target add "$target"
  fi
done

if [ "${SKIP_FUZZ:-0}" != 1 ] && ! cargo fuzz --version >/dev/null 2>&1; then
  log "cargo-fuzz (a few minutes on 2 cores)"
  cargo install cargo-fuzz --locked --quiet
fi
log "ready"
