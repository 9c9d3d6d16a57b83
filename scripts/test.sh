#!/usr/bin/env bash
# Install what is needed and run the whole test suite: SQLite, then PostgreSQL (staging) and
# MariaDB (production) on throwaway servers on 127.0.0.1, and the browser tests in Chromium.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
eval "$(bash scripts/test-databases.sh start)"
export REQUIRE_SERVER_TESTS=1 REQUIRE_BROWSER_TESTS=1
trap 'bash scripts/test-databases.sh stop' EXIT
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$rc"
