#!/usr/bin/env bash
# scripts/with-worker.sh COMMAND...: run the background worker (`flask worker`) beside COMMAND (the web server).
# A worker that dies is started again (its unfinished job is queued again by the housekeeping); when COMMAND ends,
# or this script is stopped (Ctrl-C, SIGTERM), both are stopped. `make run` and `make serve` start the app this
# way, so the embedded queue (a SQLite file in instance/) always has its worker.
set -uo pipefail

cd "$(dirname "$0")/.."
FLASK=${FLASK:-.venv/bin/flask}

worker= server=
stop_both() {
    trap - EXIT INT TERM
    [[ -n $server ]] && kill -TERM "$server" 2>/dev/null
    [[ -n $worker ]] && kill -TERM "$worker" 2>/dev/null
    wait 2>/dev/null
}
trap stop_both EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$@" &
server=$!
while kill -0 "$server" 2>/dev/null; do
    "$FLASK" --app tracker worker &
    worker=$!
    wait -n "$worker" "$server"
    if kill -0 "$server" 2>/dev/null; then
        echo "with-worker: the worker stopped; starting it again in 2 s" >&2
        sleep 2
    fi
done
