#!/usr/bin/env bash
# Serve Claimbench with a Celery worker alongside; Ctrl-C stops both.
set -euo pipefail
PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
CELERY="$(dirname "$PY")/celery"

"$CELERY" -A workbench worker --loglevel=WARNING --concurrency=2 &
worker_pid=$!
cleanup() {
  kill "$worker_pid" 2>/dev/null || true
  wait "$worker_pid" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo
echo "Claimbench is running at http://$HOST:$PORT/  (Ctrl-C stops the server and the worker)"
"$PY" manage.py load_demo | sed -n '3,$p'
echo
"$PY" manage.py runserver "$HOST:$PORT" --noreload
