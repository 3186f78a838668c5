"""gunicorn settings for serving the web application in production:

    gunicorn -c python:web.gunicorn_conf 'web.app:create_app()'

Every value can be overridden the usual gunicorn ways (``WEB_CONCURRENCY`` for the number of processes,
``GUNICORN_CMD_ARGS="--bind 0.0.0.0:8000 --threads 8"``, or command-line flags); the application itself
reads its settings from the environment (``DATABASE_URL``, ``REDIS_URL``, ``ROADMAP_SECRET_KEY``, …).
"""

from __future__ import annotations

import os

# Behind a reverse proxy that terminates HTTPS (the session cookies are Secure by default); `--bind` overrides.
bind = "127.0.0.1:8000"

# A request is mostly CPU (Flask, Jinja, SpiffWorkflow) with a few short database round trips in between:
# one process per core plus one keeps the cores busy, and two threads per process fill the database waits.
# More threads only queue requests behind the GIL inside a process; sync workers (one thread) leave the
# cores idle during database round trips (bench/http_load.py measured both, docs/performance.md "HTTP under
# gunicorn").
workers = int(os.environ.get("WEB_CONCURRENCY") or (os.cpu_count() or 1) + 1)
worker_class = "gthread"
threads = 2

# Recycle a worker now and then so a slow leak in any library cannot grow without bound; the jitter keeps
# the workers from restarting all at once.
max_requests = 2000
max_requests_jitter = 200

# A form submission takes tens of milliseconds; a minute is a stuck worker, not a slow one.
timeout = 60
graceful_timeout = 30
keepalive = 5

accesslog = "-"
errorlog = "-"
# %(D)s: the time the worker spent on the request, in microseconds (bench/http_load.py reads it).
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)s'
