#!/usr/bin/env bash
# The secondary R CMD check gate: the built tarball checked in the C locale,
# compiled with OpenMP off, with no Suggests installed but testthat (and
# what testthat itself needs), the vignettes ignored and the smoke test tier
# (tests/smoke-tier.txt). Every optional feature must say what to install
# instead of failing, and one thread must be what a build without OpenMP
# gives. The main --as-cran check (.ci/run) runs in lv_LV.UTF-8.
#   tools/check-gate.sh TARBALL [--self-test]
# --self-test first shows that the gate's library hides the Suggests (an
# unguarded future.apply:: call fails in it) and that OpenMP is really off.
set -euo pipefail
tarball=$(readlink -f "${1:?usage: check-gate.sh TARBALL [--self-test]}")
cd "$(dirname "$0")/.."
work=$(mktemp -d)
# a site library of symlinks: testthat, its recursive dependencies, and
# initvar's own Imports; nothing from initvar's Suggests unless testthat needs it
Rscript -e '
  lib <- commandArgs(TRUE)[1]
  ip <- installed.packages()
  base <- rownames(ip)[ip[, "Priority"] %in% c("base", "recommended")]
  want <- c("testthat", "cli")
  deps <- unlist(tools::package_dependencies(want, db = ip, recursive = TRUE,
                                             which = c("Depends", "Imports", "LinkingTo")))
  want <- setdiff(unique(c(want, deps)), base)
  sugg <- c("knitr", "rmarkdown", "future", "future.apply")
  if (length(intersect(want, sugg))) cat("note: testthat needs", intersect(want, sugg), "\n")
  dir.create(lib)
  for (p in want) file.symlink(dirname(system.file(package = p, "DESCRIPTION")), file.path(lib, p))
  cat(length(want), "packages in the no-Suggests library\n")
' "$work/lib"
export R_LIBS_SITE="$work/lib" R_LIBS_USER="$work/none" R_LIBS=""
export LANG=C LC_ALL=C
# R CMD check reads a UTF-8 package's R files in en_US.UTF-8 when the
# session's locale is not UTF-8 (as CRAN's machines have it)
locale -a 2>/dev/null | grep -qi '^en_US.utf8$' || localedef -i en_US -f UTF-8 en_US.UTF-8
makevars="$work/Makevars"
printf 'SHLIB_OPENMP_CFLAGS =\nCFLAGS = -g -O2 -Wall -pedantic\n' > "$makevars"
export R_MAKEVARS_USER="$makevars"

if [ "${2:-}" = "--self-test" ]; then
  rc=0; Rscript -e 'future.apply::future_lapply(1, identity)' >/dev/null 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then echo "check-gate self-test: future.apply is visible in the gate" >&2; exit 1; fi
  for p in knitr rmarkdown future future.apply; do
    if Rscript -e "quit(status = requireNamespace('$p', quietly = TRUE))" >/dev/null 2>&1; then :; else
      echo "check-gate self-test: $p is installed in the gate's library" >&2; exit 1
    fi
  done
  # a planted package calling its Suggests without a guard must fail here
  pd=$(mktemp -d); planted=$(tools/planted-package.sh suggests "$pd")
  (cd "$pd" && _R_CHECK_FORCE_SUGGESTS_=false R CMD check --no-manual "$planted" >/dev/null 2>&1) || true
  grep -q 'checking examples ... ERROR' "$pd/planted.Rcheck/00check.log" ||
    { echo "check-gate self-test: the planted unguarded Suggests call was NOT caught" >&2; exit 1; }
  rm -rf "$pd"
  echo "check-gate self-test: an unguarded Suggests call fails in the gate's library and its R CMD check"
fi

export _R_CHECK_FORCE_SUGGESTS_=false _R_CHECK_CRAN_INCOMING_REMOTE_=false _R_CHECK_SYSTEM_CLOCK_=0
export INITVAR_TESTS=smoke
(cd "$work" && R CMD check --no-manual --ignore-vignettes "$tarball" >check.out 2>&1) || true
log="$work/initvar.Rcheck/00check.log"
[ -f "$log" ] || { cat "$work/check.out" >&2; exit 1; }
# OpenMP off: the installed build reports one thread at most
Rscript -e "library(initvar, lib.loc = '$work/initvar.Rcheck'); n <- initvar::initvar_threads(); if (n != 1) stop('OpenMP still on: initvar_threads() is ', n)" ||
  { echo "check-gate: the build without OpenMP still runs threads" >&2; exit 1; }
status=$(grep '^Status:' "$log" || true)
echo "check-gate: R CMD check (C locale, no OpenMP, no Suggests, smoke tier): ${status:-no status}"
# one NOTE is expected, and only it: the Suggests this gate hides
notes=$(grep -c -E '\.\.\. NOTE' "$log" || true)
if [ "$notes" -eq 1 ] && grep -A1 'checking package dependencies ... NOTE' "$log" | grep -q 'suggested but not available'; then
  notes=0
fi
if grep -q -E '^Status:.*(ERROR|WARNING)' "$log" || [ -z "$status" ] || [ "$notes" -ne 0 ]; then
  grep -B2 -A14 -E '\.\.\. (ERROR|WARNING|NOTE)' "$log" >&2 || true
  for f in "$work"/initvar.Rcheck/tests/*.Rout.fail; do [ -f "$f" ] && tail -n 40 "$f" >&2; done
  exit 1
fi
rm -rf "$work"
