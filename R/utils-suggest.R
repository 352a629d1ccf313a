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
