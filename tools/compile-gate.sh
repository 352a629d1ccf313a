#!/usr/bin/env bash
# The compiler gates: install initvar into a scratch library with the strict
# flags of data.table's CI, under gcc or clang, and fail on any warning.
#   tools/compile-gate.sh gcc|clang [--self-test]
#   tools/compile-gate.sh analyzer [--self-test]   gcc -fanalyzer (rchk's
#       nearest substitute on this machine: see ARCHITECTURE.md)
#   tools/compile-gate.sh scan-build [--self-test]  clang's static analyzer
#       (scan-build-14, clang-tools-14), failing on any bug it reports
# --self-test first plants a defect the gate must catch (an unused variable
# for the warning gates, a use after free for the analyzer).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: compile-gate.sh gcc|clang|analyzer|scan-build [--self-test]}
strict='-O2 -Wall -Wextra -Wvla -pedantic -fstack-protector-strong -D_FORTIFY_SOURCE=2'
case "$kind" in
  gcc)      cc=gcc;      flags="$strict" ;;
  clang)    cc=clang-14; command -v "$cc" >/dev/null 2>&1 || cc=clang; flags="$strict" ;;
  analyzer) cc=gcc
            # GCC 12's analyzer takes a vector-extension lane for a 2-bit
            # type and flags every shift in the SIMD exp (activations.h):
            # a known false positive, the only class left out
            flags="-O1 -fanalyzer -Wno-analyzer-shift-count-overflow" ;;
  scan-build)
            # R's Makeconf names the compiler, so scan-build's wrapper goes
            # in as CC; scan-build itself runs clang-14's analyzer behind it
            cc=clang-14
            sb=$(command -v scan-build-14 || command -v scan-build || true)
            [ -n "$sb" ] || { echo "compile-gate: scan-build is not installed (clang-tools-14)" >&2; exit 1; }
            ccc=$(ls /usr/share/clang/scan-build-14/libexec/ccc-analyzer /usr/lib/llvm-14/libexec/ccc-analyzer 2>/dev/null | head -n 1)
            [ -n "$ccc" ] || { echo "compile-gate: ccc-analyzer not found" >&2; exit 1; }
            flags="-O1 -g" ;;
  *) echo "compile-gate: unknown kind '$kind'" >&2; exit 2 ;;
esac
command -v "$cc" >/dev/null 2>&1 || { echo "compile-gate: $cc is not installed" >&2; exit 1; }

run_gate() {  # source dir -> prints the warnings, returns 1 if any
  local src=$1 lib makevars log
  lib=$(mktemp -d); makevars=$(mktemp); log=$(mktemp)
  if [ "$kind" = scan-build ]; then
    printf 'CC = %s\nCFLAGS = %s\n' "$ccc" "$flags" > "$makevars"
    local out; out=$(mktemp -d)
    # scan-build prints each bug as a warning and its count at the end
    if ! R_MAKEVARS_USER="$makevars" "$sb" --use-cc="$cc" -o "$out" \
         R CMD INSTALL --no-test-load --no-docs --no-html -l "$lib" "$src" >"$log" 2>&1; then
      tail -n 30 "$log" >&2; rm -rf "$lib" "$makevars" "$log" "$out"; return 2
    fi
    rm -rf "$out"
  elif ! { printf 'CC = %s\nCFLAGS = %s\n' "$cc" "$flags" > "$makevars"
           R_MAKEVARS_USER="$makevars" R CMD INSTALL --no-test-load --no-docs --no-html \
             -l "$lib" "$src" >"$log" 2>&1; }; then
    tail -n 30 "$log" >&2; rm -rf "$lib" "$makevars" "$log"; return 2
  fi
  # the analyzer's -Wanalyzer-* diagnostics are warnings too
  local n
  n=$(grep -c -E '(warning|error):' "$log" || true)
  grep -E '(warning|error):' "$log" || true
  rm -rf "$lib" "$makevars" "$log"
  [ "$n" -eq 0 ]
}

copy_tree() { local d; d=$(mktemp -d); git ls-files -z | xargs -0 -I{} cp --parents {} "$d"; echo "$d"; }

if [ "${2:-}" = "--self-test" ]; then
  tmp=$(copy_tree)
  if [ "$kind" = scan-build ]; then
    cat >> "$tmp/src/checks.c" <<'C'

/* planted by tools/compile-gate.sh --self-test: a null dereference */
int iv_planted_defect(int n);
int iv_planted_defect(int n) {
    int *p = 0;
    if (n > 3) return 0;
    return *p;
}
C
  elif [ "$kind" = analyzer ]; then
    cat >> "$tmp/src/checks.c" <<'C'

/* planted by tools/compile-gate.sh --self-test: a use after free */
#include <stdlib.h>
int iv_planted_defect(int n);
int iv_planted_defect(int n) {
    int *p = malloc(sizeof(int) * 4);
    if (!p) return 0;
    p[0] = n;
    free(p);
    return p[0];
}
C
  else
    cat >> "$tmp/src/checks.c" <<'C'

/* planted by tools/compile-gate.sh --self-test: an unused variable */
int iv_planted_defect(int n);
int iv_planted_defect(int n) { int unused = n; return 0; }
C
  fi
  rc=0; run_gate "$tmp" >/dev/null || rc=$?
  rm -rf "$tmp"
  if [ "$rc" -ne 1 ]; then
    echo "compile-gate self-test ($kind): the planted defect was NOT reported" >&2; exit 1
  fi
  echo "compile-gate self-test ($kind): the planted defect was reported"
fi

src=$(copy_tree)
rc=0; out=$(run_gate "$src") || rc=$?
rm -rf "$src"
n=$(printf '%s' "$out" | grep -c -E '(warning|error):' || true)
echo "compile-gate: $kind ($cc $flags): $n warnings"
if [ "$rc" -ne 0 ]; then printf '%s\n' "$out" >&2; exit 1; fi
