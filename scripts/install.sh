#!/usr/bin/env bash
# Install what the project needs on Debian (run as root): system packages, then a virtualenv
# in .venv with the Python requirements. Usage: scripts/install.sh app|test
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-app}
packages="python3 python3-venv python3-dev build-essential libmariadb-dev pkg-config"
if [ "$what" = test ]; then
  packages="$packages postgresql mariadb-server mariadb-client chromium fonts-liberation"
fi
missing=$(for p in $packages; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"; done)
if [ -n "$missing" ]; then
  # Keep package scripts from starting system-wide database servers: the tests start their
  # own on 127.0.0.1 (scripts/test-databases.sh).
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  [ "${APT_UPDATED:-0}" = 1 ] || apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
if [ "$what" = test ]; then
  .venv/bin/python -m pip install -q -r requirements-dev.txt
else
  .venv/bin/python -m pip install -q -r requirements.txt
fi
