#!/usr/bin/env bash
# Check the Debian packages the tracker needs outside Python, and install the missing ones.
#
# Usage: scripts/system-deps.sh GROUP...
#   pdf       WeasyPrint's libraries and a font (make run, make test)
#   browser   Chromium, for the browser tests (make test)
#   postgres  the PostgreSQL 15 server, and make (.ci/run)
#   redis     the Redis server, for the served test of the distributed queue (make test, .ci/run)
#
# As root, missing packages are installed with apt-get (one `apt-get update`, only when something is missing).
# Otherwise the script stops and prints the exact command to run.
set -euo pipefail

usage() {
    sed -n '2,11s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

[[ $# -gt 0 ]] || usage

missing=()

# need PACKAGE CHECK...: PACKAGE is missing unless the command CHECK... succeeds.
need() {
    local package=$1
    shift
    if ! "$@" >/dev/null 2>&1; then
        missing+=("$package")
    fi
}

# A Debian package counts as present when dpkg says it is installed, or, on a machine without dpkg, when the
# shared library it ships is known to the dynamic linker.
have_lib() {
    local package=$1 soname=$2
    if command -v dpkg-query >/dev/null 2>&1; then
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'
    else
        ldconfig -p | grep -q "$soname"
    fi
}

have_dejavu() {
    dpkg-query -W -f='${Status}' fonts-dejavu-core 2>/dev/null | grep -q 'install ok installed' \
        || test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
}

for group in "$@"; do
    case $group in
        pdf)
            need libpango-1.0-0 have_lib libpango-1.0-0 libpango-1.0.so.0
            need libpangoft2-1.0-0 have_lib libpangoft2-1.0-0 libpangoft2-1.0.so.0
            need libharfbuzz-subset0 have_lib libharfbuzz-subset0 libharfbuzz-subset.so.0
            need fonts-dejavu-core have_dejavu
            ;;
        browser)
            need chromium test -x /usr/bin/chromium
            ;;
        redis)
            need redis-server test -x /usr/bin/redis-server
            ;;
        postgres)
            need postgresql test -x /usr/lib/postgresql/15/bin/initdb -a -x /usr/lib/postgresql/15/bin/pg_ctl
            need make command -v make
            ;;
        *)
            echo "system-deps: unknown group '$group'" >&2
            usage
            ;;
    esac
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "system-deps: all present ($*)"
    exit 0
fi

echo "system-deps: missing Debian packages: ${missing[*]}"
install_command="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"

if [[ $(id -u) -ne 0 ]]; then
    cat >&2 <<EOF
system-deps: these packages are needed and this script installs them only when run as root.
Install them with:

    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}

then run the make command again.
EOF
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: apt-get not found; install the equivalents of: ${missing[*]}" >&2
    exit 1
fi

echo "system-deps: $install_command"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
echo "system-deps: installed ${missing[*]}"
