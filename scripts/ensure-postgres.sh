#!/usr/bin/env bash
# ensure-postgres.sh: make a PostgreSQL server with trust authentication available on
# 127.0.0.1 for the test suite, and print the single line
#
#     ATREST_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
#
# on stdout (everything else goes to stderr), so that `make test` can export it.
#
# In order, the first that works wins:
#   1. ATREST_TEST_POSTGRES_URL is already set and answers: it is printed unchanged.
#   2. A server answers on 127.0.0.1:5432 and lets `postgres` in without a password.
#   3. Debian's postgresql is installed if missing (apt-get install -y postgresql; apt-get update
#      first only if that fails), then the machine's own cluster (/etc/postgresql/VERSION/main)
#      is started when its pg_hba.conf trusts 127.0.0.1 (pg_ctlcluster --skip-systemctl-redirect).
#   4. A throwaway cluster: initdb --auth=trust (as the postgres user when run as root) in
#      $ATREST_PG_THROWAWAY_DIR (default /tmp/atrest-test-postgres), started with pg_ctl on
#      127.0.0.1 only, on port 5432 if free, else on the first free port from 54320. fsync is
#      off: the data is disposable. A second run reuses the running cluster.
#
# Options and environment:
#   --throwaway / ATREST_PG_THROWAWAY=1   skip steps 1-3 and use the throwaway cluster (also to
#                                         test this script while another server runs on 5432)
#   --stop                                stop the throwaway cluster and delete its directory
#   ATREST_PG_THROWAWAY_DIR=DIR           where the throwaway cluster lives
#   ATREST_PG_PORT=PORT                   port for the throwaway cluster (default: see above)
#   ATREST_PYTHON=PATH                    a Python with psycopg, used to probe servers when psql
#                                         is missing (default: this checkout's .venv/bin/python)
#
# Exit status 0 and the URL line on success; otherwise a message saying what failed and what to
# do, and status 1. Safe to run again at any time.

set -euo pipefail

readonly HOST=127.0.0.1
readonly DEFAULT_PORT=5432
readonly REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly PY=${ATREST_PYTHON:-$REPO/.venv/bin/python}
readonly TW_DIR=${ATREST_PG_THROWAWAY_DIR:-/tmp/atrest-test-postgres}
readonly TW_DATA=$TW_DIR/data
readonly TW_LOG=$TW_DIR/postgres.log
readonly TW_PORT_FILE=$TW_DIR/port

THROWAWAY=${ATREST_PG_THROWAWAY:-0}
STOP=0
for arg in "$@"; do
    case $arg in
        --throwaway) THROWAWAY=1 ;;
        --stop) STOP=1 ;;
        -h | --help) sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "ensure-postgres: unknown argument '$arg' (try --help)" >&2; exit 1 ;;
    esac
done

say() { echo "ensure-postgres: $*" >&2; }
die() {
    echo >&2
    echo "ensure-postgres: ERROR: $*" >&2
    echo >&2
    exit 1
}
found() {
    say "using PostgreSQL on $HOST:$1"
    echo "ATREST_TEST_POSTGRES_URL=postgresql+psycopg://postgres@$HOST:$1/postgres"
    exit 0
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as the postgres user when we are root (initdb and postgres refuse root).
as_postgres() {
    if is_root; then
        id postgres >/dev/null 2>&1 || die "there is no 'postgres' user to run the server as; install Debian's postgresql package (apt-get install -y postgresql)"
        (cd / && runuser -u postgres -- "$@" 9>&-)
    else
        "$@" 9>&-
    fi
}

# probe_url URL: 0 if the URL accepts a connection without a password (passwords in the
# environment and ~/.pgpass are ignored, so that only trust authentication counts).
probe_url() {
    local url=${1/postgresql+psycopg:/postgresql:}
    if command -v psql >/dev/null 2>&1; then
        env -u PGPASSWORD PGPASSFILE=/dev/null PGCONNECT_TIMEOUT=5 \
            psql -X -w -q -A -t -c 'select 1' "$url" >/dev/null 2>&1
    elif [ -x "$PY" ] && "$PY" -c 'import psycopg' >/dev/null 2>&1; then
        env -u PGPASSWORD PGPASSFILE=/dev/null "$PY" -c \
            'import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=5).close()' \
            "$url" >/dev/null 2>&1
    else
        return 2 # nothing to probe with (no psql, no psycopg)
    fi
}

probe_port() { probe_url "postgresql://postgres@$HOST:$1/postgres"; }

# port_in_use PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

apt_install() {
    local apt=(apt-get install -y --no-install-recommends "$@")
    if ! is_root; then
        command -v sudo >/dev/null 2>&1 || die "'$*' is missing and installing it needs root: run 'sudo apt-get install -y $*' (or run this script as root)"
        apt=(sudo -n "${apt[@]}")
    fi
    command -v apt-get >/dev/null 2>&1 || die "'$*' is missing and there is no apt-get; install PostgreSQL yourself or set ATREST_TEST_POSTGRES_URL to a server that trusts 127.0.0.1"
    say "installing $* (${apt[*]})"
    # 9>&-: a server started by the package scripts must not inherit our lock.
    if DEBIAN_FRONTEND=noninteractive "${apt[@]}" >&2 9>&-; then
        return 0
    fi
    say "install failed; running apt-get update and trying again"
    if is_root; then apt-get update >&2 9>&-; else sudo -n apt-get update >&2 9>&-; fi \
        || die "apt-get update failed (network? proxy? sources.list?); see the output above"
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" >&2 9>&- \
        || die "apt-get install $* failed; see the output above"
}

# The bin directory of the newest installed PostgreSQL (Debian keeps initdb out of PATH).
find_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
        echo "$dir"
    elif command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

ensure_installed() {
    if [ -n "$(find_bindir)" ] && command -v psql >/dev/null 2>&1; then
        return 0
    fi
    apt_install postgresql
    [ -n "$(find_bindir)" ] || die "apt-get installed postgresql but no initdb/pg_ctl was found under /usr/lib/postgresql/*/bin"
}

# trusts_localhost PG_HBA: the first host rule that covers 127.0.0.1, database postgres and
# user postgres uses the trust method (pg_hba.conf is first match wins).
trusts_localhost() {
    awk '
        /^[[:space:]]*(#|$)/ { next }
        $1 ~ /^host(ssl|nossl|gssenc|nogssenc)?$/ {
            db = $2; user = $3; addr = $4; method = $5
            if (addr == "127.0.0.1" && $5 == "255.255.255.255") method = $6  # address + mask
            else if (addr !~ /^(127\.0\.0\.1\/32|127\.0\.0\.0\/8|0\.0\.0\.0\/0|all|samehost)$/) next
            if (db !~ /(^|,)(all|postgres)(,|$)/ || user !~ /(^|,)(all|postgres)(,|$)/) next
            decided = 1; trusted = (method == "trust"); exit
        }
        END { exit (decided && trusted) ? 0 : 1 }
    ' "$1"
}

# Start the machine's own cluster when it is down and trusts 127.0.0.1; print its port on success.
try_machine_cluster() {
    command -v pg_lsclusters >/dev/null 2>&1 || return 1
    local ver name port status _rest conf
    while read -r ver name port status _rest; do
        [ "$name" = main ] || continue
        conf=/etc/postgresql/$ver/main
        [ -f "$conf/pg_hba.conf" ] || continue
        if ! trusts_localhost "$conf/pg_hba.conf"; then
            say "cluster $ver/main does not trust 127.0.0.1 in $conf/pg_hba.conf; not using it"
            continue
        fi
        if [ "$status" = online ]; then
            probe_port "$port" && { echo "$port"; return 0; }
            say "cluster $ver/main is online on port $port but refuses passwordless login; not using it"
            continue
        fi
        say "starting the machine's cluster $ver/main (port $port)"
        if ! pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 9>&-; then
            say "pg_ctlcluster could not start $ver/main; see /var/log/postgresql/postgresql-$ver-main.log"
            continue
        fi
        for _ in $(seq 1 30); do
            probe_port "$port" && { echo "$port"; return 0; }
            sleep 0.5
        done
        say "cluster $ver/main started but does not answer on $HOST:$port without a password; stopping it again"
        pg_ctlcluster --skip-systemctl-redirect "$ver" main stop >&2 9>&- || true
    done < <(pg_lsclusters -h 2>/dev/null)
    return 1
}

# The throwaway cluster -----------------------------------------------------------------------

pg_ctl_tw() { as_postgres "$BINDIR/pg_ctl" -D "$TW_DATA" "$@"; }

stop_throwaway() {
    local bindir
    bindir=$(find_bindir)
    if [ -f "$TW_DATA/postmaster.pid" ] && [ -n "$bindir" ]; then
        BINDIR=$bindir
        say "stopping the throwaway cluster in $TW_DATA"
        pg_ctl_tw stop -m fast -w >&2 || die "pg_ctl stop failed for $TW_DATA; see $TW_LOG"
    fi
    if [ -d "$TW_DIR" ]; then
        rm -rf -- "$TW_DIR"
        say "removed $TW_DIR"
    else
        say "no throwaway cluster in $TW_DIR"
    fi
}

prepare_throwaway_dir() {
    if [ -L "$TW_DIR" ]; then
        die "$TW_DIR is a symbolic link; refusing to use it (remove it, or set ATREST_PG_THROWAWAY_DIR)"
    fi
    local owner
    owner=$(id -un)
    is_root && owner=postgres
    if [ -e "$TW_DIR" ] && [ "$(stat -c %U "$TW_DIR")" != "$owner" ]; then
        die "$TW_DIR exists but belongs to $(stat -c %U "$TW_DIR"), not $owner; remove it (or set ATREST_PG_THROWAWAY_DIR)"
    fi
    mkdir -p "$TW_DIR"
    chmod 700 "$TW_DIR"
    is_root && chown postgres:postgres "$TW_DIR"
    return 0
}

init_throwaway() {
    local want have
    want=$("$BINDIR/initdb" --version | grep -oE '[0-9]+' | head -n 1)
    if [ -f "$TW_DATA/PG_VERSION" ]; then
        have=$(cat "$TW_DATA/PG_VERSION")
        [ "$have" = "$want" ] && return 0
        say "$TW_DATA was made by PostgreSQL $have, the binaries are $want: recreating it"
        rm -rf -- "$TW_DATA"
    elif [ -e "$TW_DATA" ]; then
        say "$TW_DATA is incomplete: recreating it"
        rm -rf -- "$TW_DATA"
    fi
    say "initdb --auth=trust in $TW_DATA (PostgreSQL $want)"
    as_postgres "$BINDIR/initdb" -D "$TW_DATA" --auth=trust -U postgres -E UTF8 --no-locale \
        >"$TW_DIR/initdb.log" 2>&1 || {
        cat "$TW_DIR/initdb.log" >&2
        die "initdb failed in $TW_DATA (output above)"
    }
    # Disposable data: no fsync. TCP on 127.0.0.1 only; the socket in our own directory so that
    # it cannot clash with the machine's server in /var/run/postgresql.
    cat >>"$TW_DATA/postgresql.conf" <<EOF

# atrest throwaway test cluster (scripts/ensure-postgres.sh)
listen_addresses = '$HOST'
unix_socket_directories = '$TW_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

pick_port() {
    if [ -n "${ATREST_PG_PORT:-}" ]; then
        port_in_use "$ATREST_PG_PORT" && die "ATREST_PG_PORT=$ATREST_PG_PORT is already in use on $HOST"
        echo "$ATREST_PG_PORT"
        return
    fi
    local p
    for p in "$DEFAULT_PORT" $(seq 54320 54399); do
        port_in_use "$p" || { echo "$p"; return; }
    done
    die "no free port on $HOST among 5432 and 54320-54399; set ATREST_PG_PORT"
}

start_throwaway() {
    local port
    if [ -f "$TW_DATA/postmaster.pid" ] && pg_ctl_tw status >/dev/null 2>&1; then
        port=$(cat "$TW_PORT_FILE" 2>/dev/null || true)
        if [ -n "$port" ] && probe_port "$port"; then
            say "the throwaway cluster in $TW_DATA is already running"
            found "$port"
        fi
        say "the throwaway cluster in $TW_DATA runs but does not answer; restarting it"
        pg_ctl_tw stop -m fast -w >&2 || true
    fi
    for _attempt in 1 2 3; do
        port=$(pick_port) || exit 1
        say "starting the throwaway cluster on $HOST:$port (log: $TW_LOG)"
        if pg_ctl_tw start -w -t 60 -l "$TW_LOG" -o "-p $port" >&2; then
            echo "$port" >"$TW_PORT_FILE"
            probe_port "$port" && found "$port"
            pg_ctl_tw stop -m fast -w >&2 || true
            die "the throwaway cluster started on port $port but refuses a passwordless connection; see $TW_LOG"
        fi
        [ -n "${ATREST_PG_PORT:-}" ] && break
        say "pg_ctl start failed on port $port; trying another port"
    done
    tail -n 20 "$TW_LOG" >&2 2>/dev/null || true
    die "could not start the throwaway cluster in $TW_DATA (last lines of $TW_LOG above)"
}

# Main -----------------------------------------------------------------------------------------

# One run at a time: two `make test` started together must not both initdb the same directory.
if command -v flock >/dev/null 2>&1; then
    exec 9>"${TW_DIR%/}.lock"
    flock -w 300 9 || die "another ensure-postgres.sh has held ${TW_DIR%/}.lock for 5 minutes"
fi

if [ "$STOP" = 1 ]; then
    stop_throwaway
    exit 0
fi

if [ "$THROWAWAY" != 1 ]; then
    if [ -n "${ATREST_TEST_POSTGRES_URL:-}" ]; then
        rc=0
        probe_url "$ATREST_TEST_POSTGRES_URL" || rc=$?
        if [ "$rc" -eq 2 ]; then # nothing to probe with: get psql, then ask again
            ensure_installed
            rc=0
            probe_url "$ATREST_TEST_POSTGRES_URL" || rc=$?
        fi
        if [ "$rc" -eq 0 ]; then
            say "using ATREST_TEST_POSTGRES_URL from the environment"
            echo "ATREST_TEST_POSTGRES_URL=$ATREST_TEST_POSTGRES_URL"
            exit 0
        fi
        shown=$(sed -E 's#://([^:/@]*):[^@/]*@#://\1:***@#' <<<"$ATREST_TEST_POSTGRES_URL")
        die "ATREST_TEST_POSTGRES_URL is set to '$shown' but that server does not accept a passwordless connection; unset it to let this script provide a server"
    fi
    rc=0
    probe_port "$DEFAULT_PORT" || rc=$?
    [ "$rc" -eq 0 ] && found "$DEFAULT_PORT"
    ensure_installed
    if [ "$rc" -eq 2 ] && probe_port "$DEFAULT_PORT"; then
        found "$DEFAULT_PORT"
    fi
    if port_in_use "$DEFAULT_PORT"; then
        say "something answers on $HOST:$DEFAULT_PORT but does not let 'postgres' in without a password"
    fi
    if port=$(try_machine_cluster); then
        found "$port"
    fi
    say "falling back to a throwaway cluster"
else
    say "throwaway cluster forced (--throwaway / ATREST_PG_THROWAWAY=1)"
    ensure_installed
fi

BINDIR=$(find_bindir)
prepare_throwaway_dir
init_throwaway
start_throwaway
