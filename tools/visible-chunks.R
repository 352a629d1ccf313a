# Run the code a reader sees in each vignette, in order, in a fresh R
# session: every chunk except those with echo = FALSE, include = FALSE or
# eval = FALSE (chunks with error = TRUE run inside try()). Copied code must work on its own, so a visible chunk may not
# rely on a helper defined in a hidden one.
#   Rscript tools/visible-chunks.R [vignettes/x.Rmd ...]
# Exits 1 when a vignette's visible code fails.
args <- commandArgs(trailingOnly = TRUE)
files <- if (length(args)) args else Sys.glob("vignettes/*.Rmd")
visible_code <- function(file) {
  lines <- readLines(file, warn = FALSE)
  open <- grep("^\\s*```\\{r", lines)
  close <- grep("^\\s*```\\s*$", lines)
  code <- character()
  for (o in open) {
    e <- close[close > o][1]
    header <- lines[o]
    hidden <- grepl("(echo|include|eval)\\s*=\\s*(FALSE|F)\\b", header)
    if (hidden || e <= o + 1) next
    body <- lines[(o + 1):(e - 1)]
    # a chunk shown with error = TRUE demonstrates an error: run it in try()
    if (grepl("error\\s*=\\s*(TRUE|T)\\b", header)) body <- c("try({", body, "})")
    code <- c(code, sprintf("# ---- %s:%d", basename(file), o), body)
  }
  code
}
failed <- character()
for (f in files) {
  script <- tempfile(fileext = ".R")
  writeLines(c("pdf(NULL)", visible_code(f)), script)
  out <- suppressWarnings(system2(file.path(R.home("bin"), "Rscript"), c("--vanilla", script),
                                  stdout = TRUE, stderr = TRUE))
  status <- attr(out, "status")
  if (!is.null(status) && status != 0) {
    failed <- c(failed, f)
    cat(sprintf("FAIL %s: its visible code does not run on its own:\n", f))
    cat(paste0("  ", utils::tail(out, 8)), sep = "\n")
  } else {
    cat(sprintf("ok   %s\n", f))
  }
}
if (length(failed)) quit(status = 1)
