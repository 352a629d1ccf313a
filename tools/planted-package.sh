#!/usr/bin/env bash
# A tiny package with one planted defect, for the self-tests of the check
# gates: R CMD check of it must end in an ERROR in its examples.
#   tools/planted-package.sh sort|suggests DIR   -> DIR/planted_0.0.1.tar.gz
# sort:     an example that holds only under C collation (sort(c("ya",
#           "ib"))[1] is "ya" in lv_LV.UTF-8, where "y" sorts with "i")
# suggests: an example that calls a Suggests package without a guard
set -euo pipefail
kind=${1:?usage: planted-package.sh sort|suggests DIR}; dir=${2:?}
pkg="$dir/planted"
mkdir -p "$pkg/R" "$pkg/man"
sugg=""; ex='stopifnot(identical(first_sorted(c("ya", "ib")), "ib"))'
if [ "$kind" = suggests ]; then
  sugg="Suggests: future.apply"
  ex='first_sorted(unlist(future.apply::future_lapply(c("b", "a"), identity)))'
fi
cat > "$pkg/DESCRIPTION" <<D
Package: planted
Title: A Planted Defect for a Check Gate
Version: 0.0.1
Authors@R: person("initvar", "authors", role = c("aut", "cre"), email = "maintainers@initvar.invalid")
Description: One planted defect, which the gate's R CMD check must report.
License: MIT + file LICENSE
Encoding: UTF-8
$sugg
D
printf 'YEAR: 2026\nCOPYRIGHT HOLDER: initvar authors\n' > "$pkg/LICENSE"
echo 'export(first_sorted)' > "$pkg/NAMESPACE"
echo 'first_sorted <- function(x) sort(x)[1]' > "$pkg/R/f.R"
cat > "$pkg/man/first_sorted.Rd" <<R
\\name{first_sorted}
\\alias{first_sorted}
\\title{The First of a Sorted Vector}
\\description{The first element of \\code{sort(x)}.}
\\usage{first_sorted(x)}
\\arguments{\\item{x}{a character vector}}
\\value{A string.}
\\examples{
$ex
}
R
(cd "$dir" && R CMD build --no-manual planted >/dev/null)
echo "$dir/planted_0.0.1.tar.gz"
