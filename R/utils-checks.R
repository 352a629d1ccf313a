# Argument checks. Each names the argument and says what was expected,
# raised in R before any .Call.

describe <- function(x) {
  if (is.null(x)) return("NULL")
  if (is.function(x)) return("a function")
  if (!is.atomic(x)) return(paste0("an object of class <", class(x)[1], ">"))
  if (length(x) != 1 || !is.null(dim(x))) {
    type <- switch(typeof(x), double = "numeric", typeof(x))
    article <- if (grepl("^[aeiou]", type)) "an" else "a"
    d <- dim(x)
    if (!is.null(d)) {   # a matrix is not "a vector of length 4"
      return(sprintf("a %s %s %s", paste(d, collapse = " x "), type,
                     if (length(d) == 2) "matrix" else "array"))
    }
    return(sprintf("%s %s vector of length %d", article, type, length(x)))
  }
  if (is.character(x)) return(sprintf("\"%s\"", x))
  if (is.na(x)) return(if (is.nan(x)) "NaN" else "NA")
  format(x, digits = 15)
}

# The call of the innermost function of initvar's interface on the stack
# (an exported function, or a method of a generic called on an initvar
# object): the function the user called, whose argument is being checked.
# Errors name it, whatever internal helper raised them.
user_call <- function() {
  ns <- topenv(environment(user_call))
  exports <- getNamespaceExports(ns)
  calls <- sys.calls()
  for (i in rev(seq_along(calls))) {
    fn <- sys.function(i)
    if (!identical(environment(fn), ns)) next
    head <- calls[[i]][[1]]
    if (is.call(head) && length(head) == 3 && as.character(head[[1]]) %in% c("::", ":::")) head <- head[[3]]
    name <- if (is.name(head)) as.character(head) else ""
    if (name %in% exports || name %in% c("print", "plot", "summary", "format", "as.data.frame")) {
      return(calls[[i]])
    }
  }
  NULL
}

# An error of class `initvar_error` that names the user's call.
abort <- function(msg, call = user_call()) {
  stop(errorCondition(msg, class = "initvar_error", call = call))
}

abort_arg <- function(arg, must, x) {
  abort(sprintf("`%s` must be %s, not %s.", arg, must, describe(x)))
}

check_number <- function(x, arg = deparse(substitute(x)), finite = TRUE,
                         min = -Inf, max = Inf, min_open = FALSE,
                         max_open = FALSE, what = NULL) {
  ok <- is.numeric(x) && length(x) == 1 && !is.na(x) &&
    (!finite || is.finite(x))
  if (ok) {
    ok <- (if (min_open) x > min else x >= min) &&
      (if (max_open) x < max else x <= max)
  }
  if (!ok) {
    if (is.null(what)) {
      what <- if (finite) "a finite number" else "a number"
      lo <- if (is.finite(min)) sprintf("%s %s", if (min_open) ">" else ">=", format_bound(min)) else NULL
      hi <- if (is.finite(max)) sprintf("%s %s", if (max_open) "<" else "<=", format_bound(max)) else NULL
      if (!is.null(lo) || !is.null(hi)) {
        what <- paste(what, paste(c(lo, hi), collapse = " and "))
      }
    }
    abort_arg(arg, what, x)
  }
  invisible(as.double(x))
}

check_whole <- function(x, arg = deparse(substitute(x)), min = 1,
                        max = .Machine$integer.max) {
  ok <- is.numeric(x) && length(x) == 1 && !is.na(x) && is.finite(x) &&
    x == round(x) && x >= min && x <= max
  if (!ok) {
    fmt <- format_bound
    what <- if (is.finite(max) && max < .Machine$integer.max) {
      sprintf("a whole number between %s and %s", fmt(min), fmt(max))
    } else if (min == 1) {
      "a positive whole number"
    } else {
      sprintf("a whole number of at least %s", fmt(min))
    }
    if (!(is.finite(max) && max < .Machine$integer.max) && is.numeric(x) && length(x) == 1 &&
        isTRUE(x > max)) {
      what <- sprintf("%s no larger than %s", what, big_number(max))
    }
    abort_arg(arg, what, x)
  }
  invisible(as.double(x))
}

check_string <- function(x, arg = deparse(substitute(x))) {
  if (!is.character(x) || length(x) != 1 || is.na(x)) {
    abort_arg(arg, "a single string", x)
  }
  invisible(x)
}

# match.arg() with an error that names the argument and lists the choices.
check_choice <- function(x, choices, arg = deparse(substitute(x))) {
  if (identical(x, choices)) return(choices[1])
  if (!is.character(x) || length(x) != 1 || is.na(x) || !nzchar(x)) {
    abort_arg(arg, paste0("one of ", paste0("\"", choices, "\"", collapse = ", ")), x)
  }
  i <- pmatch(x, choices)
  if (is.na(i)) {
    abort(paste0(sprintf("`%s` must be %s, not %s.", arg,
                         paste0("one of ", paste0("\"", choices, "\"", collapse = ", ")),
                         describe(x)),
                 did_you_mean(x, choices)))
  }
  choices[i]
}

# Maximum number of elements of one R vector (R_XLEN_T_MAX).
max_vector_length <- 4503599627370496

check_dim <- function(dim, arg = "dim") {
  ok <- is.numeric(dim) && length(dim) >= 1 && !anyNA(dim) &&
    all(is.finite(dim)) && all(dim == round(dim)) && all(dim >= 1)
  if (!ok) {
    if (is.numeric(dim) && length(dim) > 1) {
      bad <- which(is.na(dim) | !is.finite(dim) | dim != round(dim) | dim < 1)[1]
      abort_arg(sprintf("%s[%d]", arg, bad), "a positive whole number", dim[bad])
    }
    abort_arg(arg, "a vector of positive whole numbers", dim)
  }
  if (any(dim > .Machine$integer.max)) {
    abort_arg(arg, sprintf("a vector of sizes no larger than %d",
                           .Machine$integer.max), dim)
  }
  if (prod(dim) > max_vector_length) {
    abort(sprintf(
      "`%s` asks for %s elements, more than R can store in one vector (%s).",
      arg, big_number(prod(dim)), big_number(max_vector_length)))
  }
  invisible(as.double(dim))
}

# A whole number written out in full with thousands separators.
big_number <- function(x) formatC(x, format = "f", digits = 0, big.mark = ",")

# A bound in a message, exactly: a whole number in full (16,777,216, not
# 1.677722e+07), other numbers to 15 significant digits.
format_bound <- function(x) {
  if (is.finite(x) && x == round(x) && abs(x) < 2^53) big_number(x) else format(x, digits = 15)
}

check_flag <- function(x, arg) {
  if (!is.logical(x) || length(x) != 1 || is.na(x)) abort_arg(arg, "TRUE or FALSE", x)
  invisible(x)
}

# `future = TRUE` distributes work on the current future::plan(): it needs
# the future.apply package.
check_future <- function(future) {
  check_flag(future, "future")
  if (future && !requireNamespace("future.apply", quietly = TRUE)) {
    abort_arg("future", "FALSE when the future.apply package is not installed", future)
  }
  invisible(future)
}
