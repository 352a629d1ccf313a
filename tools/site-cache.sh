#!/usr/bin/env bash
# Fill pkgdown's download cache so that the site builds offline: pkgdown
# (>= 2.1) fetches a few JavaScript files from CDNs at build time and
# caches them under tools::R_user_dir("pkgdown", "cache")/<name>/<version>.
# The same files come from the npm registry (npm pack), except
# bootstrap-toc, which is not on npm and is kept in tools/site-vendor/
# (MIT licence, v1.0.1 dist file). Each file is checked against the
# integrity hash pkgdown itself expects.
#   R_USER_CACHE_DIR=... bash tools/site-cache.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=$(Rscript -e 'cat(tools::R_user_dir("pkgdown", "cache"))')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
put() {  # name version file source
  mkdir -p "$cache/$1/$2"
  cp "$4" "$cache/$1/$2/$3"
}
(cd "$work" && npm pack --silent headroom.js@0.11.0 clipboard@2.0.11 fuse.js@6.4.6 \
   autocomplete.js@0.38.0 mark.js@8.11.1 >/dev/null)
for t in "$work"/*.tgz; do d="${t%.tgz}"; mkdir -p "$d"; tar xzf "$t" -C "$d"; done
put headroom 0.11.0 headroom.min.js "$work"/headroom.js-0.11.0/package/dist/headroom.min.js
put headroom 0.11.0 jQuery.headroom.min.js "$work"/headroom.js-0.11.0/package/dist/jQuery.headroom.min.js
put clipboard.js 2.0.11 clipboard.min.js "$work"/clipboard-2.0.11/package/dist/clipboard.min.js
put search 1.0.0 fuse.min.js "$work"/fuse.js-6.4.6/package/dist/fuse.min.js
put search 1.0.0 autocomplete.jquery.min.js "$work"/autocomplete.js-0.38.0/package/dist/autocomplete.jquery.min.js
put search 1.0.0 mark.min.js "$work"/mark.js-8.11.1/package/dist/mark.min.js
put bootstrap-toc 1.0.1 bootstrap-toc.min.js "$here"/site-vendor/bootstrap-toc-1.0.1.min.js
# pkgdown's own integrity hashes: a mismatch means pkgdown changed its list
Rscript -e '
  deps <- body(pkgdown:::external_dependencies)
  txt <- paste(deparse(deps), collapse = "")
  urls <- regmatches(txt, gregexpr("https://[^\"]+", txt))[[1]]
  ints <- regmatches(txt, gregexpr("sha(256|512)-[^\"]+", txt))[[1]]
  cache <- tools::R_user_dir("pkgdown", "cache")
  ok <- TRUE
  for (k in seq_along(urls)) {
    f <- list.files(cache, pattern = paste0("^", basename(urls[k]), "$"), recursive = TRUE,
                    full.names = TRUE)
    if (!length(f)) { cat("missing from the cache:", urls[k], "\n"); ok <- FALSE; next }
    alg <- sub("-.*", "", ints[k])
    got <- paste0(alg, "-", system(sprintf("openssl dgst -%s -binary %s | base64 -w0", alg,
                                           shQuote(f[1])), intern = TRUE))
    if (!identical(got, ints[k])) { cat("integrity mismatch:", f[1], "\n"); ok <- FALSE }
  }
  if (!ok) quit(status = 1)
  cat("pkgdown cache ready:", length(urls), "files\n")
'
