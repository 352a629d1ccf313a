# Install chromote (the browser check's Chrome DevTools client) into the
# library given as the first argument, kept between CI runs like the site's
# (tools/site-deps.R). chromote 0.5 needs rlang >= 1.1 (Debian has 1.0.6)
# and websocket (compiled: needs libssl-dev); curl, zip, processx, later,
# promises, R6, jsonlite, fastmap, magrittr and withr come from Debian
# (r-cran-*). Used by tools/browser-gate.sh.
args <- commandArgs(trailingOnly = TRUE)
lib <- if (length(args)) args[1] else stop("usage: Rscript tools/browser-deps.R LIB")
dir.create(lib, showWarnings = FALSE, recursive = TRUE)
.libPaths(c(lib, .libPaths()))
have <- tryCatch(utils::packageVersion("chromote", lib.loc = .libPaths()),
                 error = function(e) package_version("0.0"))
if (have >= "0.5.0") {
  cat("chromote", format(have), "already installed\n")
  quit(status = 0)
}
t0 <- proc.time()[["elapsed"]]
utils::install.packages("chromote", lib = lib, repos = "https://cloud.r-project.org",
                        Ncpus = 2, quiet = TRUE)
v <- tryCatch(utils::packageVersion("chromote", lib.loc = lib), error = function(e) NULL)
if (is.null(v)) stop("chromote could not be installed into ", lib, call. = FALSE)
cat(sprintf("chromote %s installed in %.0f s\n", format(v), proc.time()[["elapsed"]] - t0))
