#!/usr/bin/env bash
# CI: installs the real editors the end-to-end tests drive, so they run rather than skip:
# Emacs with eglot and markdown-mode (Debian packages) and code-server with Chromium and
# playwright-core (editors/vscode/scripts/install-e2e.sh). Neovim comes from PyPI with the
# test extra. A failed install is reported and the affected tests skip with the reason;
# it does not stop the rest of CI.
set -uo pipefail
cd "$(dirname "$0")/../.."

log() { printf 'ci-install: %s\n' "$*" >&2; }

EMACS_PACKAGES=(emacs-nox elpa-eglot elpa-markdown-mode)
missing=()
for pkg in "${EMACS_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    log "not root: cannot apt-get install ${missing[*]}; the Emacs test will skip"
  else
    log "apt-get install ${missing[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
      log "installing ${missing[*]} failed; the Emacs test will skip"
  fi
fi

started=$SECONDS
if bash editors/vscode/scripts/install-e2e.sh; then
  log "VS Code end-to-end tools ready ($((SECONDS - started)) s)"
else
  log "installing code-server and Chromium failed; the VS Code end-to-end test will skip"
fi
exit 0
