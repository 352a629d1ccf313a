#!/usr/bin/env bash
# The explorer in a real browser (issue 27): install chromote into a library
# kept between runs, then drive initvar::explore(), started from the
# installed package in LIB, in headless Chromium (tools/browser-check.R: 11
# interactions, the numbers shown against the package's functions, no
# JavaScript error, nothing loaded from the web). --self-test first checks
# that a planted JavaScript error and a planted web request are caught.
#   tools/browser-gate.sh LIB [--self-test]
# Needs chromium, libssl-dev, r-cran-shiny, r-cran-curl, r-cran-zip,
# r-cran-processx (Debian).
set -euo pipefail
lib=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
browser_lib="${INITVAR_BROWSER_LIB:-$HOME/.cache/initvar-browser-lib}"
Rscript "$here/browser-deps.R" "$browser_lib"
export CHROMOTE_CHROME="${CHROMOTE_CHROME:-/usr/bin/chromium}"
[ -x "$CHROMOTE_CHROME" ] || { echo "browser: no Chromium at $CHROMOTE_CHROME" >&2; exit 1; }
R_LIBS="$browser_lib:$lib" Rscript "$here/browser-check.R" "$@"
