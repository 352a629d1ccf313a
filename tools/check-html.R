# Check built vignette or article HTML for offline math: each file must
# contain MathML (<math>) and, outside code, no raw LaTeX ($$, \( \), \[ \],
# \frac, \mathrm, \operatorname, \sqrt{) and no MathJax or KaTeX loaded
# from the web.
#   Rscript tools/check-html.R [--math-optional] file.html ...
# (--math-optional: a page without equations, such as a site's home page,
# need not contain <math>.) Exits 1 on a problem.
files <- commandArgs(trailingOnly = TRUE)
math_optional <- "--math-optional" %in% files
files <- setdiff(files, "--math-optional")
if (!length(files)) stop("usage: Rscript tools/check-html.R file.html ...", call. = FALSE)
bad <- 0
for (f in files) {
  html <- paste(readLines(f, warn = FALSE), collapse = "\n")
  problems <- character()
  if (!math_optional && !grepl("<math", html, fixed = TRUE)) problems <- c(problems, "no <math> element")
  if (grepl("<script[^>]*(mathjax|katex)", html, ignore.case = TRUE)) {
    problems <- c(problems, "loads MathJax or KaTeX")
  }
  ext <- regmatches(html, gregexpr("<(script|link|img)[^>]+(src|href)=\"(https?:)?//[^\"]+", html,
                                   ignore.case = TRUE))[[1]]
  if (length(ext)) problems <- c(problems, paste("loads from the web:", ext[1]))
  text <- html
  for (tag in c("pre", "code", "script", "style", "math", "annotation")) {
    text <- gsub(sprintf("(?s)<%s\\b.*?</%s>", tag, tag), " ", text, perl = TRUE)
  }
  text <- gsub("<[^>]+>", " ", text)
  raw <- c("$$", "\\(", "\\)", "\\[", "\\]", "\\frac", "\\mathrm", "\\operatorname", "\\sqrt{")
  found <- raw[vapply(raw, function(r) grepl(r, text, fixed = TRUE), TRUE)]
  if (length(found)) {
    problems <- c(problems, paste("raw LaTeX in the text:", paste(found, collapse = " ")))
  }
  if (length(problems)) {
    bad <- bad + 1
    cat(sprintf("FAIL %s: %s\n", f, paste(problems, collapse = "; ")))
  } else {
    cat(sprintf("ok   %s (%d <math> elements)\n", f,
                lengths(regmatches(html, gregexpr("<math", html, fixed = TRUE)))))
  }
}
if (bad) quit(status = 1)
