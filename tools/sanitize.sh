#!/usr/bin/env bash
# Build initvar with AddressSanitizer and UndefinedBehaviorSanitizer into a
# library of its own and run the test suite against it (R itself is not
# instrumented: the ASan runtime is preloaded), the quick tier unless
# INITVAR_TESTS=full is set. Fails on any sanitizer report.
#   tools/sanitize.sh              the test suite
#   tools/sanitize.sh --self-test  first check that a planted bug is caught
# Environment: SAN_LIB (library, default /tmp/initvar-asan-lib).
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${SAN_LIB:-/tmp/initvar-asan-lib}
asan=$(gcc -print-file-name=libasan.so)
if [ ! -e "$asan" ]; then echo "sanitize: no libasan.so for gcc" >&2; exit 1; fi
makevars=$(mktemp)
cat > "$makevars" <<'MK'
CFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1
LDFLAGS = -fsanitize=address,undefined
MK
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1
export INITVAR_SANITIZER=1

install_into() {  # source dir, library
  mkdir -p "$2"
  R_MAKEVARS_USER="$makevars" R CMD INSTALL --preclean --no-test-load -l "$2" "$1" >"$2/install.log" 2>&1 ||
    { tail -n 30 "$2/install.log" >&2; return 1; }
}
found_reports() { grep -c -E 'runtime error|AddressSanitizer|LeakSanitizer' "$1" || true; }

if [ "${1:-}" = "--self-test" ]; then
  # a heap overflow and a signed overflow planted in a copy must be reported
  tmp=$(mktemp -d)
  git ls-files -z | xargs -0 -I{} cp --parents {} "$tmp"
  sed -i 's|^    iv_biv_pack(&acc, REAL(ans));|    iv_biv_pack(\&acc, REAL(ans)); REAL(ans)[IV_BIV_LEN + (R_xlen_t) n] = 0;|' "$tmp/src/moments.c"
  sed -i 's|^    int cnt = (int) iv_size_arg(count, "count", 1e6);|    int cnt = (int) iv_size_arg(count, "count", 1e6); { int big = INT_MAX - 1; big += cnt; if (big == 0) cnt = 1; }|' "$tmp/src/engine.c"
  grep -q 'IV_BIV_LEN + (R_xlen_t) n' "$tmp/src/moments.c" && grep -q 'big += cnt' "$tmp/src/engine.c" ||
    { echo "sanitize self-test: could not plant the bugs" >&2; exit 1; }
  install_into "$tmp" "$lib-planted"
  for code in 'invisible(.Call(initvar:::C_test_moments, as.double(1:100), NULL))' \
              'invisible(initvar::simulate_network(initvar::mlp(c(3, 3, 2)), 2, 2))'; do
    out=$(LD_PRELOAD="$asan" R_LIBS="$lib-planted" Rscript -e "$code" 2>&1 || true)
    if [ "$(found_reports <(echo "$out"))" -eq 0 ]; then
      echo "sanitize self-test: the planted bug in \`$code\` was NOT reported" >&2; exit 1
    fi
  done
  echo "sanitize self-test: both planted bugs reported"
  rm -rf "$tmp" "$lib-planted"
fi

# build from a copy, so that no instrumented object is left in src/
src=$(mktemp -d)
git ls-files -z | xargs -0 -I{} cp --parents {} "$src"
install_into "$src" "$lib"
rm -rf "$src"
log=$(mktemp)
status=0
LD_PRELOAD="$asan" R_LIBS="$lib" Rscript tools/test.R >"$log" 2>&1 || status=$?
reports=$(found_reports "$log")
totals=$(tail -n 1 "$log")
echo "sanitize: ASan+UBSan test suite: $totals; $reports sanitizer reports"
if [ "$reports" -gt 0 ]; then
  grep -n -A20 -E 'runtime error|AddressSanitizer' "$log" | head -n 60 >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then tail -n 40 "$log" >&2; exit 1; fi
