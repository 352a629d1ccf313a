#!/usr/bin/env bash
# Build initvar with AddressSanitizer, UndefinedBehaviorSanitizer and
# LeakSanitizer into a library of its own and run the test suite against it
# (R itself is not instrumented: the sanitizer runtime is preloaded), the
# quick tier unless INITVAR_TESTS says otherwise. Fails on any report.
#   tools/sanitize.sh [--cc gcc|clang] [--self-test]
#     --cc         the compiler (gcc by default; clang: clang-14 with its
#                  runtime libclang_rt.asan, from libclang-rt-14-dev)
#     --self-test  first check that planted bugs are caught: a heap
#                  overflow, a signed overflow and a leak
# Leaks: LeakSanitizer runs at the exit of every process the runtime is
# preloaded into, R's front-end shell tools included; tools/lsan.supp
# suppresses what is not ours, naming R's front-end tools and graphics stack only
# (the self-test's planted leak shows it is not too broad).
# Environment: SAN_LIB (library, default /tmp/initvar-<cc>-asan-lib).
set -euo pipefail
cd "$(dirname "$0")/.."
cc=gcc; self_test=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cc) cc=$2; shift 2 ;;
    --self-test) self_test=1; shift ;;
    *) echo "sanitize: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$cc" in
  gcc)   compiler=gcc; runtime=$(gcc -print-file-name=libasan.so) ;;
  clang) compiler=clang-14; command -v "$compiler" >/dev/null 2>&1 || compiler=clang
         runtime=$("$compiler" -print-file-name=libclang_rt.asan-x86_64.so) ;;
  *) echo "sanitize: --cc must be gcc or clang" >&2; exit 2 ;;
esac
if [ ! -e "$runtime" ]; then echo "sanitize: no ASan runtime for $cc ($runtime)" >&2; exit 1; fi
lib=${SAN_LIB:-/tmp/initvar-$cc-asan-lib}
makevars=$(mktemp)
cat > "$makevars" <<MK
CC = $compiler
CFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1
LDFLAGS = -fsanitize=address,undefined
MK
supp=$(pwd)/tools/lsan.supp
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export LSAN_OPTIONS=suppressions=$supp:print_suppressions=0
# clang's LeakSanitizer tracer crashes (signal 11) at exit while it reads
# the thread-local storage of libomp's worker threads: with use_tls=0 it
# does not treat TLS as roots, which can only add reports, never hide one
[ "$cc" = clang ] && LSAN_OPTIONS=$LSAN_OPTIONS:use_tls=0
export UBSAN_OPTIONS=print_stacktrace=1
export INITVAR_SANITIZER=1

install_into() {  # source dir, library
  mkdir -p "$2"
  R_MAKEVARS_USER="$makevars" R CMD INSTALL --preclean --no-test-load -l "$2" "$1" >"$2/install.log" 2>&1 ||
    { tail -n 30 "$2/install.log" >&2; return 1; }
}
found_reports() { grep -c -E 'runtime error|AddressSanitizer|LeakSanitizer' "$1" || true; }
copy_tree() { local d; d=$(mktemp -d); git ls-files -z | xargs -0 -I{} cp --parents {} "$d"; echo "$d"; }

if [ "$self_test" = 1 ]; then
  # a heap overflow, a signed overflow and a leak planted in a copy must be reported
  tmp=$(copy_tree)
  sed -i 's|^    iv_biv_pack(&acc, REAL(ans));|    iv_biv_pack(\&acc, REAL(ans)); REAL(ans)[IV_BIV_LEN + (R_xlen_t) n] = 0;|' "$tmp/src/moments.c"
  sed -i 's|^    int cnt = (int) iv_size_arg(count, "count", 1e6);|    int cnt = (int) iv_size_arg(count, "count", 1e6); { int big = INT_MAX - 1; big += cnt; if (big == 0) cnt = 1; }|' "$tmp/src/engine.c"
  sed -i 's|^SEXP C_sample_iid(SEXP dim, SEXP family, SEXP params, SEXP threads)$|void *volatile iv_planted_leak;\n&|' "$tmp/src/sample.c"
  sed -i '/^SEXP C_sample_iid(SEXP dim, SEXP family, SEXP params, SEXP threads)$/,/^{$/{/^{$/a\
    iv_planted_leak = malloc(4096); iv_planted_leak = NULL;
}' "$tmp/src/sample.c"
  grep -q 'IV_BIV_LEN + (R_xlen_t) n' "$tmp/src/moments.c" && grep -q 'big += cnt' "$tmp/src/engine.c" &&
    grep -q 'iv_planted_leak = malloc' "$tmp/src/sample.c" ||
    { echo "sanitize self-test: could not plant the bugs" >&2; exit 1; }
  install_into "$tmp" "$lib-planted"
  for code in 'invisible(.Call(initvar:::C_test_moments, as.double(1:100), NULL))' \
              'invisible(initvar::simulate_network(initvar::mlp(c(3, 3, 2)), 2, 2))' \
              'invisible(initvar::sample_weights(initvar::init_he(), 4, 4))'; do
    out=$(LD_PRELOAD="$runtime" R_LIBS="$lib-planted" Rscript -e "$code" 2>&1 || true)
    if [ "$(found_reports <(echo "$out"))" -eq 0 ]; then
      echo "sanitize self-test ($cc): the planted bug in \`$code\` was NOT reported" >&2; exit 1
    fi
  done
  echo "sanitize self-test ($cc): the planted overflow, signed overflow and leak were reported"
  rm -rf "$tmp" "$lib-planted"
fi

# build from a copy, so that no instrumented object is left in src/
src=$(copy_tree)
install_into "$src" "$lib"
rm -rf "$src"
log=$(mktemp)
status=0
LD_PRELOAD="$runtime" R_LIBS="$lib" Rscript tools/test.R >"$log" 2>&1 || status=$?
reports=$(found_reports "$log")
totals=$(tail -n 1 "$log")
echo "sanitize: ASan+UBSan+LSan ($cc) test suite, tier ${INITVAR_TESTS:-quick}: $totals; $reports sanitizer reports"
if [ "$reports" -gt 0 ]; then
  grep -n -A20 -E 'runtime error|AddressSanitizer|LeakSanitizer' "$log" | head -n 60 >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then tail -n 40 "$log" >&2; exit 1; fi
