# "Did you mean" suggestions for misspelled names.

# " Did you mean \"tanh\"?" when `x` is close to one or more of `choices`
# (generalized Levenshtein distance, case ignored, at most 2 edits and at
# most a third of the longer string; an exact match gets no suggestion), "" otherwise. Append it to an error
# message; several equally close choices are listed, at most three.
did_you_mean <- function(x, choices) {
  if (!is.character(x) || length(x) != 1 || is.na(x) || !nzchar(x) ||
      length(choices) == 0) {
    return("")
  }
  choices <- unique(as.character(choices))
  d <- drop(utils::adist(tolower(x), tolower(choices)))
  limit <- pmin(2, ceiling(pmax(nchar(x), nchar(choices)) / 3))
  ok <- which(d <= limit & choices != x)
  if (length(ok) == 0) return("")
  best <- ok[d[ok] == min(d[ok])]
  best <- best[seq_len(min(3, length(best)))]
  paste0(" Did you mean ", paste0("\"", choices[best], "\"", collapse = " or "), "?")
}

# Arguments the caller does not have, caught by its `...`: an error naming
# each one with the closest formal ("`fanin` is not an argument of
# sample_weights(). Did you mean `fan_in`?"), and for torch's and Keras's
# spellings where they mean something else here, where to find it. Call it
# as `check_dots(...)` first thing in a function whose last formal is `...`.
check_dots <- function(...) {
  n <- ...length()
  if (n == 0) return(invisible(TRUE))
  fn <- sys.function(-1)
  fname <- paste0(deparse(sys.call(-1)[[1]]), "()")
  formal <- setdiff(names(formals(fn)), "...")
  nms <- names(list(...))
  if (is.null(nms)) nms <- rep("", n)
  bad <- nms[nzchar(nms)]
  if (length(bad) == 0) {
    abort(sprintf("%s got %d unnamed argument%s more than it takes: name each argument.",
                  fname, n, if (n == 1) "" else "s"))
  }
  b <- bad[1]
  hint <- dots_hints[[b]]
  if (is.null(hint)) hint <- gsub("\"", "`", did_you_mean(b, formal))
  abort(sprintf("`%s` is not an argument of %s.%s", b, fname, hint))
}

# Where a habit from another library points here.
dots_hints <- list(
  nonlinearity = paste0(" It is torch's `kaiming_*_(nonlinearity = )`: use ",
                        "`init_kaiming(nonlinearity = )`, or `init_he(a = )` for a (leaky) ReLU."),
  fanin = " Did you mean `fan_in`?",
  fanout = " Did you mean `fan_out`?",
  shape = " Give an array shape as `dim` (and its `layout`), or the fans as `fan_in`, `fan_out`.",
  size = " Give an array shape as `dim` (and its `layout`), or the fans as `fan_in`, `fan_out`.",
  tensor = paste0(" initvar draws the weights itself: `sample_weights(scheme, fan_in, fan_out)` ",
                  "or `sample_weights(scheme, dim = , layout = )`."),
  std = " Did you mean `sd`?"
)

# A suggested package that a function needs: an error naming the function
# and how to install the package when it is missing ("explore() needs the
# shiny package, which is not installed: install.packages(\"shiny\").").
check_suggested <- function(pkg, fname) {
  if (!requireNamespace(pkg, quietly = TRUE)) {
    abort(sprintf("%s needs the %s package, which is not installed: install.packages(\"%s\").",
                  fname, pkg, pkg))
  }
  invisible(TRUE)
}
