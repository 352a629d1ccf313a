# pkgdown writes the math of reference pages (Rd \eqn and \deqn) as raw
# \( ... \), \[ ... \] or $$ ... $$ for a script to typeset in the browser, which
# needs the web. Convert it to MathML with pandoc, in place, so that the
# reference reads offline like the articles.
#   Rscript tools/site-mathml.R SITE_DIR
args <- commandArgs(trailingOnly = TRUE)
site <- if (length(args)) args[1] else stop("usage: Rscript tools/site-mathml.R SITE_DIR")
unescape <- function(x) {
  for (p in list(c("&lt;", "<"), c("&gt;", ">"), c("&quot;", "\""), c("&#39;", "'"),
                 c("&amp;", "&"))) x <- gsub(p[1], p[2], x, fixed = TRUE)
  x
}
pattern <- "(?s)\\\\\\((.+?)\\\\\\)|\\\\\\[(.+?)\\\\\\]|\\$\\$(.+?)\\$\\$"
converted <- 0
for (f in list.files(file.path(site, "reference"), pattern = "\\.html$", full.names = TRUE)) {
  html <- paste(readLines(f, warn = FALSE), collapse = "\n")
  m <- gregexpr(pattern, html, perl = TRUE)[[1]]
  if (m[1] == -1) next
  found <- regmatches(html, list(m))[[1]]
  display <- startsWith(found, "\\[") | startsWith(found, "$$")
  tex <- unescape(substr(found, 3, nchar(found) - 2))
  md <- tempfile(fileext = ".md")
  writeLines(paste0(ifelse(display, "$$", "$"), tex, ifelse(display, "$$", "$"),
                    "\n\nMATHSPLIT\n"), md)
  out <- system2("pandoc", c("--mathml", "-f", "markdown", "-t", "html", md), stdout = TRUE)
  pieces <- strsplit(paste(out, collapse = "\n"), "<p>MATHSPLIT</p>", fixed = TRUE)[[1]]
  pieces <- sub("^\\s*<p>", "", sub("</p>\\s*$", "", pieces))[seq_along(found)]
  ok <- grepl("<math", pieces, fixed = TRUE)
  pieces[!ok] <- found[!ok]
  regmatches(html, list(m)) <- list(pieces)
  writeLines(html, f)
  converted <- converted + sum(ok)
}
cat("reference pages: converted", converted, "formulas to MathML\n")
