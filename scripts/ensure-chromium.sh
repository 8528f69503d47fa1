#!/usr/bin/env bash
# ensure-chromium.sh: make Debian's Chromium (/usr/bin/chromium) available for the Playwright
# browser tests. Installs it with `apt-get install -y chromium` when missing (apt-get update first
# only if that install fails). Never runs `playwright install`: the tests launch this binary
# (tests/conftest.py), so no browser is downloaded from elsewhere. Messages go to stderr;
# safe to run again at any time.

set -euo pipefail

readonly CHROMIUM=/usr/bin/chromium

say() { echo "ensure-chromium: $*" >&2; }
die() {
    echo >&2
    echo "ensure-chromium: ERROR: $*" >&2
    echo >&2
    exit 1
}

if [ -x "$CHROMIUM" ]; then
    say "$CHROMIUM is installed"
    exit 0
fi

command -v apt-get >/dev/null 2>&1 \
    || die "$CHROMIUM is missing and there is no apt-get; install Chromium so that $CHROMIUM exists"
apt=(apt-get install -y chromium)
update=(apt-get update)
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 \
        || die "$CHROMIUM is missing and installing it needs root: run 'sudo apt-get install -y chromium'"
    apt=(sudo -n "${apt[@]}")
    update=(sudo -n "${update[@]}")
fi

say "installing Debian's chromium (${apt[*]})"
if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" >&2; then
    say "install failed; running apt-get update and trying again"
    "${update[@]}" >&2 || die "apt-get update failed (network? proxy? sources.list?); see the output above"
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" >&2 || die "apt-get install -y chromium failed; see the output above"
fi
[ -x "$CHROMIUM" ] || die "apt-get installed chromium but $CHROMIUM does not exist"
say "installed $CHROMIUM"
