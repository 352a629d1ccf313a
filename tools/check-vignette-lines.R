# Check built vignette HTML for what a reader sees in Chromium:
#  * no line of a <pre> block (code or printed output) wider than 85
#    characters, which would run off the page;
#  * no word in math split into one-letter <mi> tokens under
#    <mstyle mathvariant="normal"> (pandoc's rendering of \mathrm{Var}):
#    Chromium's MathML Core ignores mathvariant on <mstyle> and draws each
#    one-letter <mi> in italic, "V ar". A word must be one token, <mi>Var</mi>
#    or <mo>Var</mo> (pandoc's \operatorname{Var}), which renders upright.
#   Rscript tools/check-vignette-lines.R [--width N] file.html|dir ...
# A directory stands for its *.html files (e.g. the installed doc/ of the
# package, or the tarball's inst/doc). Exits 1 on a problem.
args <- commandArgs(trailingOnly = TRUE)
width <- 85
if (length(i <- which(args == "--width"))) {
  width <- as.integer(args[i + 1])
  args <- args[-c(i, i + 1)]
}
files <- unlist(lapply(args, function(a) {
  if (dir.exists(a)) list.files(a, pattern = "\\.html$", full.names = TRUE) else a
}))
if (!length(files)) {
  stop("usage: Rscript tools/check-vignette-lines.R [--width N] file.html|dir ...", call. = FALSE)
}
unescape <- function(x) {
  for (p in list(c("&lt;", "<"), c("&gt;", ">"), c("&quot;", "\""), c("&#39;", "'"),
                 c("&nbsp;", " "), c("&amp;", "&"))) x <- gsub(p[1], p[2], x, fixed = TRUE)
  x
}
# Lines of the <pre> blocks, as the reader sees them (tags stripped).
pre_lines <- function(html) {
  blocks <- regmatches(html, gregexpr("(?s)<pre\\b.*?</pre>", html, perl = TRUE))[[1]]
  lines <- unlist(strsplit(unescape(gsub("<[^>]+>", "", blocks)), "\n", fixed = TRUE))
  lines[!is.na(lines)]
}
# Words in math drawn letter by letter: two or more one-letter <mi> in a
# row directly inside <mstyle mathvariant="normal">.
split_words <- function(html) {
  st <- regmatches(html, gregexpr('(?s)<mstyle mathvariant="normal">(\\s*<mi>[^<]</mi>){2,}\\s*</mstyle>',
                                  html, perl = TRUE))[[1]]
  vapply(st, function(x) paste(regmatches(x, gregexpr("(?<=<mi>)[^<](?=</mi>)", x, perl = TRUE))[[1]],
                               collapse = ""), "", USE.NAMES = FALSE)
}
bad <- 0
for (f in files) {
  html <- paste(readLines(f, warn = FALSE, encoding = "UTF-8"), collapse = "\n")
  problems <- character()
  lines <- pre_lines(html)
  wide <- lines[nchar(lines, type = "width") > width]
  if (length(wide)) {
    problems <- c(problems, sprintf("%d <pre> line(s) wider than %d characters (widest %d): %s",
                                    length(wide), width, max(nchar(wide, type = "width")),
                                    substr(wide[which.max(nchar(wide))], 1, 60)))
  }
  words <- split_words(html)
  if (length(words)) {
    tab <- table(words)
    problems <- c(problems, sprintf("math words drawn letter by letter (italic in Chromium; use \\operatorname): %s",
                                    paste(sprintf("%s x%d", names(tab), tab), collapse = ", ")))
  }
  if (length(problems)) {
    bad <- bad + 1
    cat(sprintf("FAIL %s:\n  %s\n", f, paste(problems, collapse = "\n  ")))
  } else {
    cat(sprintf("ok   %s (%d <pre> lines, widest %d)\n", f, length(lines),
                if (length(lines)) max(nchar(lines, type = "width")) else 0L))
  }
}
if (bad) quit(status = 1)
