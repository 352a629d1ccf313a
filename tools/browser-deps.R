# Install the CRAN packages of the browser gate into the library given as
# the first argument, kept between CI runs like the site's
# (tools/site-deps.R): chromote (the Chrome DevTools client of
# tools/browser-check.R) and learnr (the tutorial, inst/tutorials/).
# chromote 0.5 needs rlang >= 1.1 (Debian has 1.0.6) and websocket
# (compiled: needs libssl-dev); learnr 0.11 brings xfun 0.5x, which Debian's
# knitr 1.42 cannot load, so knitr comes along. curl, zip, processx, later,
# promises, R6, jsonlite, fastmap, magrittr, withr, checkmate, rappdirs and
# rprojroot come from Debian (r-cran-*). Used by tools/browser-gate.sh.
args <- commandArgs(trailingOnly = TRUE)
lib <- if (length(args)) args[1] else stop("usage: Rscript tools/browser-deps.R LIB")
dir.create(lib, showWarnings = FALSE, recursive = TRUE)
.libPaths(c(lib, .libPaths()))
version_of <- function(p) tryCatch(utils::packageVersion(p, lib.loc = .libPaths()),
                                   error = function(e) package_version("0.0"))
want <- c(chromote = "0.5.0", learnr = "0.11.0", knitr = "1.45")
need <- names(want)[vapply(names(want), function(p) version_of(p) < want[[p]], TRUE)]
if (length(need) == 0) {
  cat("chromote", format(version_of("chromote")), "and learnr", format(version_of("learnr")),
      "already installed\n")
  quit(status = 0)
}
t0 <- proc.time()[["elapsed"]]
cat("Installing from CRAN into", lib, ":", paste(need, collapse = " "), "\n")
utils::install.packages(need, lib = lib, repos = "https://cloud.r-project.org",
                        Ncpus = 2, quiet = TRUE)
bad <- names(want)[vapply(names(want), function(p) version_of(p) < want[[p]], TRUE)]
if (length(bad)) stop("could not install into ", lib, ": ", paste(bad, collapse = " "), call. = FALSE)
cat(sprintf("installed in %.0f s: chromote %s, learnr %s\n", proc.time()[["elapsed"]] - t0,
            format(version_of("chromote")), format(version_of("learnr"))))
