#!/usr/bin/env bash
# tests/integration/test_pgbouncer.py runs the app through Debian's pgbouncer in transaction
# mode (it starts its own on a free port; the package's service is not used). Installs the
# package when missing (as root or through sudo); without it those tests are skipped, and fail
# under CI=true.
set -u
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing pgbouncer for the connection-pooler tests"
$SUDO apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq pgbouncer >/dev/null 2>&1 \
  || echo "could not install pgbouncer: tests/integration/test_pgbouncer.py will be skipped" >&2
exit 0
