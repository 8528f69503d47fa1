#!/usr/bin/env bash
# ensure-report-tools.sh: make the native parts of the PDF reports available. WeasyPrint (a
# Python dependency) needs Pango, PangoFT2, HarfBuzz's subsetter and a font; the report tests
# read PDFs back with Poppler's pdftotext and pdftoppm. Installs the missing Debian packages with
# `apt-get install -y` (apt-get update first only if that install fails). Quiet apart from one
# line when everything is present; messages go to stderr; safe to run again at any time.

set -euo pipefail

say() { echo "ensure-report-tools: $*" >&2; }
die() {
    echo >&2
    echo "ensure-report-tools: ERROR: $*" >&2
    echo >&2
    exit 1
}

# Not `ldconfig -p | grep -q`: with pipefail, grep quitting early can fail the pipe (SIGPIPE).
has_lib() { grep -q "$1" <<<"$libs"; }
has_font() { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list ':family=DejaVu Sans' 2>/dev/null)" ]; }

# What is missing, as the Debian packages that bring it.
missing() {
    libs=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true)
    has_lib 'libpango-1\.0\.so\.0' || echo libpango-1.0-0
    has_lib 'libpangoft2-1\.0\.so\.0' || echo libpangoft2-1.0-0
    has_lib 'libharfbuzz-subset\.so\.0' || echo libharfbuzz-subset0
    has_font || echo fonts-dejavu-core fontconfig
    { command -v pdftotext && command -v pdftoppm; } >/dev/null 2>&1 || echo poppler-utils
}

packages=$(missing | tr '\n' ' ' | sed 's/ *$//')
if [ -z "$packages" ]; then
    say "Pango, HarfBuzz subset, DejaVu fonts and Poppler (pdftotext, pdftoppm) are installed"
    exit 0
fi

command -v apt-get >/dev/null 2>&1 \
    || die "missing: $packages; there is no apt-get: install them with your package manager"
# shellcheck disable=SC2206  # word splitting of the package list is meant
apt=(apt-get install -y -q $packages)
update=(apt-get update -q)
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 \
        || die "missing: $packages; installing them needs root: run 'sudo ${apt[*]}'"
    apt=(sudo -n "${apt[@]}")
    update=(sudo -n "${update[@]}")
fi

say "installing $packages (${apt[*]})"
if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" >&2; then
    say "install failed; running apt-get update and trying again"
    "${update[@]}" >&2 || die "apt-get update failed (network? proxy? sources.list?); see the output above"
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" >&2 || die "${apt[*]} failed; see the output above"
fi
left=$(missing | tr '\n' ' ' | sed 's/ *$//')
[ -z "$left" ] || die "apt-get ran but these are still missing: $left"
say "installed $packages"
