#!/usr/bin/env bash
# Install what is needed and start the app on the embedded default (SQLite files under ./data).
# Open http://localhost:8501. Set HOST=0.0.0.0 to serve other machines, PORT to move it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh app
exec .venv/bin/python -m streamlit run app/main.py --server.address "${HOST:-127.0.0.1}" \
  --server.port "${PORT:-8501}" --server.headless true
