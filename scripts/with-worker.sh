#!/usr/bin/env bash
# scripts/with-worker.sh COMMAND...: run the background worker (`flask worker`) beside COMMAND (the web server);
# when either ends, or this script is stopped (Ctrl-C, SIGTERM), both are stopped. `make run` and `make serve` start
# the app this way, so the embedded queue (a SQLite file in instance/) always has its worker.
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

"$FLASK" --app tracker worker &
worker=$!
"$@" &
server=$!
wait -n "$worker" "$server"
