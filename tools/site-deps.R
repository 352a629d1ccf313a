# Install pkgdown >= 2.1 (MathML math, no CDN) into the library given as the
# first argument, on top of the packages already installed (Debian's
# r-cran-* binaries): only what is missing or older than some package in
# the chain requires is installed from CRAN (the compiled ones need
# libcurl4-openssl-dev, libfreetype-dev, libpng-dev, libtiff-dev,
# libjpeg-dev, libwebp-dev, libfontconfig1-dev, libharfbuzz-dev and
# libfribidi-dev). Used by .ci/run.
args <- commandArgs(trailingOnly = TRUE)
lib <- if (length(args)) args[1] else stop("usage: Rscript tools/site-deps.R LIB")
dir.create(lib, showWarnings = FALSE, recursive = TRUE)
.libPaths(c(lib, .libPaths()))
repos <- "https://cloud.r-project.org"
# versions read from the files, without loading (a loaded namespace stays)
pkgdown_version <- function() {
  v <- tryCatch(utils::packageVersion("pkgdown", lib.loc = .libPaths()), error = function(e) NULL)
  if (is.null(v)) package_version("0.0") else v
}
if (pkgdown_version() >= "2.1.0") {
  cat("pkgdown", format(pkgdown_version()), "already installed\n")
  quit(status = 0)
}
db <- utils::available.packages(repos = repos)
base <- rownames(utils::installed.packages(priority = "base"))
installed_version <- function(p) {
  v <- tryCatch(utils::packageDescription(p, fields = "Version"), warning = function(w) NA)
  if (is.null(v) || is.na(v)) NA_character_ else v
}
# requirements "pkg (>= v)" of a package's hard dependencies
reqs <- function(p) {
  f <- paste(db[p, c("Depends", "Imports", "LinkingTo")], collapse = ",")
  f <- gsub("\\s+", " ", f)
  parts <- trimws(strsplit(f, ",")[[1]])
  parts <- parts[nzchar(parts) & parts != "NA"]
  nm <- sub("^([A-Za-z0-9.]+).*$", "\\1", parts)
  ver <- ifelse(grepl(">=", parts), sub("^.*>= *([0-9.-]+).*$", "\\1", parts), "0.0")
  data.frame(pkg = nm, ver = ver, stringsAsFactors = FALSE)[nm != "R", ]
}
todo <- "pkgdown"
need <- character()
seen <- character()
while (length(todo)) {
  p <- todo[1]; todo <- todo[-1]
  if (p %in% seen) next
  seen <- c(seen, p)
  if (p != "pkgdown" && !p %in% need) next
  r <- reqs(p)
  for (k in seq_len(nrow(r))) {
    q <- r$pkg[k]
    if (q %in% base || !q %in% rownames(db)) next
    have <- installed_version(q)
    if (is.na(have) || package_version(have) < package_version(r$ver[k])) {
      if (!q %in% need) { need <- c(need, q); todo <- c(todo, q); seen <- setdiff(seen, q) }
    }
  }
}
# downlit >= 0.4.4 needs evaluate >= 1.0 (new output handlers), which its
# DESCRIPTION does not say
ev <- installed_version("evaluate")
if (is.na(ev) || package_version(ev) < "1.0.0") need <- union(need, "evaluate")
need <- c(need, "pkgdown")
cat("Installing from CRAN into", lib, ":", paste(need, collapse = " "), "\n")
utils::install.packages(need, lib = lib, repos = repos, dependencies = FALSE,
                        Ncpus = 2, quiet = TRUE)
if (pkgdown_version() < "2.1.0") {
  stop("pkgdown >= 2.1.0 could not be installed", call. = FALSE)
}
cat("pkgdown", format(pkgdown_version()), "\n")
