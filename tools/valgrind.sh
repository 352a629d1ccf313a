#!/usr/bin/env bash
# tools/valgrind.R under valgrind's memcheck against the installed initvar;
# fails on any memcheck error (--error-exitcode). --self-test first checks
# that memcheck reports an invalid read in compiled code called by .Call
# (a planted routine built with R CMD SHLIB: an off-by-one read of a
# heap buffer, the kind the routine tier would catch in initvar's own code).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null 2>&1 || { echo "valgrind: not installed" >&2; exit 1; }
vg='valgrind --tool=memcheck --error-exitcode=9 -q'
if [ "${1:-}" = "--self-test" ]; then
  d=$(mktemp -d)
  cat > "$d/planted.c" <<'C'
#include <stdlib.h>
#include <R.h>
#include <Rinternals.h>
SEXP planted_read(SEXP x) {
    double *v = malloc(4 * sizeof(double)), r;
    if (!v) error("no memory");
    for (int i = 0; i < 4; i++) v[i] = REAL(x)[i];
    r = v[4];   /* one past the end: an invalid read */
    free(v);
    return ScalarReal(r);
}
C
  (cd "$d" && R CMD SHLIB -o planted.so planted.c >/dev/null 2>&1)
  echo "dyn.load('$d/planted.so'); invisible(.Call('planted_read', as.double(1:4)))" > "$d/run.R"
  rc=0; out=$(R -d "$vg" --vanilla --slave -f "$d/run.R" 2>&1) || rc=$?
  rm -rf "$d"
  if [ "$rc" -ne 9 ] || ! echo "$out" | grep -q "Invalid read"; then
    echo "valgrind self-test: the planted invalid read was NOT reported" >&2; exit 1
  fi
  echo "valgrind self-test: the planted invalid read was reported"
fi
R -d "$vg" --vanilla --slave -f tools/valgrind.R
