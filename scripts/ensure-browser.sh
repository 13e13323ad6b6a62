#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through Playwright; Chinese needs a CJK font; the
# accessibility tests inject axe-core. Installs what is missing (Debian packages as root or
# through sudo; axe-core from the npm registry into the git-ignored var/axe, never copied into
# the repository). Never downloads a browser build.
set -u
AXE=var/axe/node_modules/axe-core/axe.min.js

install_axe() {
  [ -f "$AXE" ] && return 0
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is missing: cannot install axe-core (apt-get install npm)" >&2
    return 0
  fi
  echo "installing axe-core@4 into var/axe for the accessibility tests"
  npm install --no-save --no-package-lock --no-audit --no-fund --silent --prefix var/axe axe-core@4 >/dev/null \
    || echo "could not install axe-core: the accessibility tests fail under CI=true" >&2
}

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy" || need+=(fonts-wqy-microhei)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing ${need[*]} for the browser tests"
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
    || echo "could not install ${need[*]}: browser tests will be skipped" >&2
fi
install_axe
exit 0
