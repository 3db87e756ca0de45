"""Fault tests (DESIGN rules 9–11): real processes are killed, and nothing acknowledged is lost.

Every test starts and stops only its own service instances, by PID, on its own ports:

- `redis-server` on 127.0.0.1:6391–6399 (no persistence): the broker of the
  Celery workers and web servers a test starts; killed with SIGKILL to take the
  queue down.
- a PostgreSQL cluster made with `initdb` in a temporary directory (as the
  `postgres` OS user when run as root), `pg_ctl start` on 127.0.0.1:5541–5549
  with its unix socket in that directory; restarted fast and killed with
  SIGKILL mid-annotation.
- `celery -A workbench worker` subprocesses (solo or prefork) on the test
  database that pytest-django created on the shared PostgreSQL.
- `manage.py runserver --noreload` on 127.0.0.1:8161–8169 for the HTTP tests.
- a 64 KB tmpfs (`mount -t tmpfs`, root only) for the full disk; elsewhere a
  storage that raises ENOSPC past a byte limit (tests/faults/storage.py).

The process tests need PostgreSQL (DATABASE_URL=postgres://…) and the binaries
they name (`require_services`); on the SQLite-only default they skip with the
reason, and with CLAIMBENCH_REQUIRE_SERVICES=1 (CI) anything missing is a
failure. `test_redelivery.py` (the decisions, in-process) and
`test_export_disk_full.py` run everywhere.
"""
