#!/usr/bin/env bash
# Installs what the VS Code end-to-end test needs: code-server 4.100.3 (VS Code 1.100.3, the
# newest that runs on Node 20) and playwright-core from npm, plus Debian's chromium and the
# libraries code-server's native modules build against. Idempotent; about a minute the first
# time. The test finds the result in $NEXTWORD_E2E_DIR (default ~/.cache/nextword-e2e).
#
#   bash editors/vscode/scripts/install-e2e.sh            # apt packages (as root) + npm packages
#   NEXTWORD_E2E_SKIP_APT=1 bash .../install-e2e.sh       # npm packages only
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
PLAYWRIGHT_VERSION=1.65.1
DIR=${NEXTWORD_E2E_DIR:-$HOME/.cache/nextword-e2e}
APT_PACKAGES=(libkrb5-dev libxkbfile-dev libsecret-1-dev ripgrep chromium build-essential python3)

log() { printf 'install-e2e: %s\n' "$*" >&2; }

# ----- Debian packages -----------------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 && -z ${NEXTWORD_E2E_SKIP_APT:-} ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    log "missing Debian packages: ${missing[*]}; run as root or install them: apt-get install ${missing[*]}"
    exit 1
  fi
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ----- npm packages --------------------------------------------------------------------------
mkdir -p "$DIR"
if [[ -x $DIR/node_modules/.bin/code-server && -f $DIR/node_modules/playwright-core/package.json ]] &&
  [[ $(node -p "require('$DIR/node_modules/code-server/package.json').version") == "$CODE_SERVER_VERSION" ]]; then
  log "code-server $CODE_SERVER_VERSION and playwright-core already in $DIR"
  exit 0
fi

# @vscode/ripgrep's postinstall downloads a ripgrep build unless it finds this tarball in its
# cache; Debian's rg, packed under the expected name, stands in for it (no downloads here).
export TMPDIR=${TMPDIR:-/tmp}
cache=$TMPDIR/vscode-ripgrep-cache-1.15.11
tarball=$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
if [[ ! -s $tarball ]]; then
  rg=$(command -v rg) || { log "ripgrep (rg) is missing: apt-get install ripgrep"; exit 1; }
  work=$(mktemp -d)
  cp "$rg" "$work/rg"
  mkdir -p "$cache"
  tar -C "$work" -czf "$tarball" rg
  rm -rf "$work"
fi

cd "$DIR"
[[ -f package.json ]] || printf '{\n  "name": "nextword-e2e",\n  "private": true\n}\n' >package.json
# As root npm drops privileges for scripts unless unsafe-perm is set; node-pty's build runs
# `npx node-gyp`, which must not stop to ask; npm 11 runs dependencies' install scripts only
# when allowed (the native modules of code-server need theirs, in its nested installs too).
export npm_config_unsafe_perm=true npm_config_yes=true npm_config_dangerously_allow_all_scripts=true
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
log "npm install code-server@$CODE_SERVER_VERSION playwright-core@$PLAYWRIGHT_VERSION in $DIR (about a minute)"
npm install --no-save --foreground-scripts "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION" >"$DIR/npm-install.log" 2>&1 || {
  tail -40 "$DIR/npm-install.log" >&2
  log "npm install failed; the whole log is in $DIR/npm-install.log"
  exit 1
}
"$DIR/node_modules/.bin/code-server" --version >/dev/null
log "done: $DIR/node_modules/.bin/code-server $("$DIR/node_modules/.bin/code-server" --version | head -1)"
