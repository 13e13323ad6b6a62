#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through Playwright; Chinese needs a CJK font.
# Installs both when missing (as root, or through sudo). Never downloads a browser build.
set -u
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy" || need+=(fonts-wqy-microhei)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing ${need[*]} for the browser tests"
$SUDO apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || {
  echo "could not install ${need[*]}: browser tests will be skipped" >&2
  exit 0
}
