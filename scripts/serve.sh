#!/usr/bin/env bash
# Serve Claimbench with a Celery worker alongside; Ctrl-C (or SIGTERM) stops both.
set -euo pipefail
PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
CELERY="$(dirname "$PY")/celery"

pids=()
cleanup() {
  trap - EXIT INT TERM
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$CELERY" -A workbench worker --loglevel=WARNING --concurrency=2 &
pids+=($!)

echo
echo "Claimbench is running at http://$HOST:$PORT/  (Ctrl-C stops the server and the worker)"
"$PY" manage.py load_demo | sed -n '3,$p'
echo
"$PY" manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)
# Either process ending (or Ctrl-C) ends both.
wait -n "${pids[@]}"
