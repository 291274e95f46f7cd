#!/bin/sh
# Entry point of the newsrec image: web | worker | beat | manage ARGS... | any other command.
set -eu

command="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$command" in
    web)
        # Migrations run here only, so worker and beat wait for a healthy web (see compose.yml).
        python manage.py migrate --noinput
        # Prometheus counters of all gunicorn workers, merged by /metrics; emptied at each start
        # so that a previous run's files are not summed into this one's.
        export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/newsrec-metrics}"
        rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
        # No gunicorn access log: newsrec logs one line per request, without client addresses.
        # gthread: sync workers close every connection after one request and queue behind
        # slow clients; threads keep connections alive and overlap database waits (bench/read.py).
        exec gunicorn config.wsgi \
            --config python:config.gunicorn \
            --bind "0.0.0.0:${PORT:-8000}" \
            --workers "${WEB_CONCURRENCY:-2}" \
            --worker-class gthread \
            --threads "${GUNICORN_THREADS:-4}" \
            --timeout "${GUNICORN_TIMEOUT:-60}" \
            --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" \
            "$@"
        ;;
    worker)
        # One process per core, each single-threaded (numpy's OpenBLAS and torch): the feed
        # engine's small products and the embedding batches run fastest that way
        export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
        export NEWSREC_TORCH_THREADS="${NEWSREC_TORCH_THREADS:-1}"
        exec celery -A config worker \
            --loglevel "${LOG_LEVEL:-INFO}" \
            --concurrency "${CELERY_CONCURRENCY:-2}" \
            "$@"
        ;;
    beat)
        exec celery -A config beat \
            --loglevel "${LOG_LEVEL:-INFO}" \
            --schedule /var/lib/newsrec/celerybeat-schedule \
            "$@"
        ;;
    manage)
        exec python manage.py "$@"
        ;;
    *)
        exec "$command" "$@"
        ;;
esac
