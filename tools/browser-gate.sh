#!/usr/bin/env bash
# The explorer in a real browser, and the tutorial (issue 27): install
# chromote and learnr into a library kept between runs, then drive
# initvar::explore(), started from the package installed in LIB, in headless
# Chromium (tools/browser-check.R: 11 interactions, the numbers shown
# against the package's functions, no JavaScript error, nothing loaded from
# the web), and render the learnr tutorial and test its exercise checkers
# (tests/testthat/test-explore-tutorial.R). --self-test first checks that a
# planted JavaScript error and a planted web request are caught.
#   tools/browser-gate.sh LIB [--self-test]
# Needs (Debian) chromium, libssl-dev, pandoc, r-cran-shiny, r-cran-curl,
# r-cran-zip, r-cran-processx, r-cran-checkmate, r-cran-rappdirs.
set -euo pipefail
lib=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
browser_lib="${INITVAR_BROWSER_LIB:-$HOME/.cache/initvar-browser-lib}"
Rscript "$here/browser-deps.R" "$browser_lib"
export CHROMOTE_CHROME="${CHROMOTE_CHROME:-/usr/bin/chromium}"
[ -x "$CHROMOTE_CHROME" ] || { echo "browser: no Chromium at $CHROMOTE_CHROME" >&2; exit 1; }
R_LIBS="$browser_lib:$lib" Rscript "$here/browser-check.R" "$@"
# the tutorial renders and its checkers judge right and wrong answers
out=$(cd "$here/.." && R_LIBS="$browser_lib:$lib" Rscript tools/test.R explore-tutorial 2>&1) ||
  { echo "$out" | tail -n 30; echo "tutorial: the tests failed" >&2; exit 1; }
echo "$out" | grep -q ' 0 skipped' || { echo "$out" | tail -n 12; echo "tutorial: a test was skipped (learnr?)" >&2; exit 1; }
echo "tutorial: $(echo "$out" | tail -n 1)"
