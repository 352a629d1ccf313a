# The fans and the matrix a scheme works on: from fan_in and fan_out, from a
# weight shape in a framework's layout, or from a layer description.

# Fans and the matrix a scheme works on, from fan_in/fan_out or from dim.
layer_shape <- function(scheme, fan_in, fan_out, dim, layout) {
  # checked even when no `dim` uses it: a bad value is never ignored
  layout <- check_choice(layout, c("torch", "keras"), "layout")
  if (!is.null(dim)) {
    dim <- check_dim(dim, "dim")
    if (length(dim) == 1 && (scheme$family %in% c("identity", "orthogonal", "sparse",
                                                  "delta_orthogonal", "conv_orthogonal"))) {
      abort_arg("dim", sprintf("a shape with at least 2 dimensions for `init_%s()`",
                               scheme$family), dim)
    }
    needs_fans <- !(scheme$family %in% fan_free)
    if (!needs_fans) {
      return(list(dim = dim, layout = layout, fan_in = NA, fan_out = NA,
                  rows = NA, cols = NA, total = prod(dim)))
    }
    f <- fans(dim, layout)
    rows <- f[["fan_in"]]
    cols <- f[["out_units"]]
    if (scheme$family == "sparse" && layout == "torch") {
      if (length(dim) != 2) {
        abort_arg("dim", "a 2-dimensional shape for `init_sparse()` in the torch layout, as torch's `sparse_()`", dim)
      }
      # torch's sparse_() zeroes a fraction of each column of its (out, in)
      # weight: drawn as is, not transposed
      rows <- dim[1]
      cols <- dim[2]
    }
    if (scheme$family %in% c("orthogonal", "sparse", "delta_orthogonal", "conv_orthogonal") &&
        rows * cols > max_vector_length) {
      abort_arg("dim", "a shape R can store", dim)
    }
    return(list(dim = dim, layout = layout, fan_in = f[["fan_in"]],
                fan_out = f[["fan_out"]], rows = rows, cols = cols,
                total = prod(dim), diag = min(f[["in_units"]], f[["out_units"]]),
                as_is = scheme$family == "sparse" && layout == "torch",
                kernel = if (scheme$family %in% c("delta_orthogonal", "conv_orthogonal")) {
                  delta_kernel(shape_kernel(dim, layout))
                }))
  }
  if (missing(fan_in)) {
    abort("`fan_in` is missing: give `fan_in` (and `fan_out`), or `dim`.")
  }
  check_whole(fan_in, "fan_in")
  if (missing(fan_out)) fan_out <- fan_in
  check_whole(fan_out, "fan_out")
  if (as.double(fan_in) * fan_out > max_vector_length) {
    abort(sprintf(
      "`fan_in` * `fan_out` is %s elements, more than R can store in one vector (%s).",
      big_number(as.double(fan_in) * fan_out),
      big_number(max_vector_length)))
  }
  list(dim = c(fan_in, fan_out), layout = "initvar", fan_in = fan_in,
       fan_out = fan_out, rows = fan_in, cols = fan_out,
       total = fan_in * fan_out, diag = min(fan_in, fan_out))
}

# (fan_free, the families defined without the layer size: R/scheme-families.R)

# Several layers at once: numeric fan vectors (recycled), no `dim`.
vector_fans <- function(fan_in, fan_out, dim) {
  is.null(dim) && !missing(fan_in) && is.numeric(fan_in) && is.numeric(fan_out) &&
    (length(fan_in) > 1 || length(fan_out) > 1) && length(fan_in) > 0 && length(fan_out) > 0
}

# The layers of vector fans: recycled as in mapply(), but only a length-1
# vector is recycled, and every size is checked before anything is drawn.
layer_fans <- function(fan_in, fan_out) {
  n_in <- length(fan_in)
  n_out <- length(fan_out)
  if (n_in != n_out && n_in != 1 && n_out != 1) {
    abort(sprintf(paste0(
      "`fan_in` (length %d) and `fan_out` (length %d) must have the same length, ",
      "or one of them length 1: one value per layer."), n_in, n_out))
  }
  n <- max(n_in, n_out)
  fi <- rep_len(fan_in, n)
  fo <- rep_len(fan_out, n)
  for (i in seq_len(n)) {
    check_whole(fi[i], "fan_in")
    check_whole(fo[i], "fan_out")
  }
  list(fan_in = fi, fan_out = fo)
}

# Both `dim` and fans given: accepted only when they agree (fans(dim) is
# what `dim` implies); `fan_out` defaults to `fan_in` only if not given.
check_dim_fans <- function(fan_in, fan_out, fan_out_given, dim, layout) {
  check_whole(fan_in, "fan_in")
  if (fan_out_given) check_whole(fan_out, "fan_out")
  dim <- check_dim(dim, "dim")
  layout <- check_choice(layout, c("torch", "keras"), "layout")
  f <- tryCatch(fans(dim, layout), error = function(e) NULL)
  shown <- paste0("c(", paste(format(dim, scientific = FALSE, trim = TRUE), collapse = ", "), ")")
  if (is.null(f)) {
    abort(sprintf(paste0(
      "`dim` = %s has no fans in the \"%s\" layout, but `fan_in` was given: ",
      "give `dim` or `fan_in`/`fan_out`, not both."), shown, layout))
  }
  if (f[["fan_in"]] != fan_in || (fan_out_given && f[["fan_out"]] != fan_out)) {
    given <- if (fan_out_given) sprintf("`fan_in` = %s and `fan_out` = %s",
                                        format(fan_in), format(fan_out)) else
      sprintf("`fan_in` = %s", format(fan_in))
    abort(sprintf(paste0(
      "`dim` = %s (layout \"%s\") implies `fan_in` = %s and `fan_out` = %s, ",
      "but %s was given: give `dim` or the fans, not conflicting both."),
      shown, layout, format(f[["fan_in"]]), format(f[["fan_out"]]), given))
  }
  invisible(TRUE)
}

# A shape's layout. torch reads a shape as (out, in, k...), Keras as
# (k..., in, out): where the two give it different fans, the same shape
# means two layers, and the user must say which (`layout = NULL`, the
# default, is then an error). A shape both read alike (a square matrix, a
# vector), or one whose scheme needs no fans, needs none; fans given beside
# `dim` settle it when exactly one layout agrees with them.
shape_layout <- function(layout, dim, needs_fans = TRUE, fan_in = NULL, fan_out = NULL,
                         or_fans = TRUE) {
  if (!is.null(layout)) return(check_choice(layout, c("torch", "keras"), "layout"))
  if (is.null(dim) || !needs_fans) return("torch")
  dim <- as.double(check_dim(dim, "dim"))
  if (length(dim) < 2) return("torch")
  keys <- c("fan_in", "fan_out", "in_units", "out_units")
  ft <- shape_fans(dim, "torch")
  fk <- shape_fans(dim, "keras")
  if (all(ft[keys] == fk[keys])) return("torch")
  if (is.numeric(fan_in) && length(fan_in) == 1) {
    ok <- vapply(list(torch = ft, keras = fk), function(f) {
      isTRUE(f[["fan_in"]] == fan_in) &&
        (is.null(fan_out) || isTRUE(f[["fan_out"]] == fan_out))
    }, logical(1))
    if (sum(ok) == 1) return(names(ok)[ok])
  }
  shown <- paste0("c(", paste(format(dim, scientific = FALSE, trim = TRUE), collapse = ", "), ")")
  abort(sprintf(paste0(
    "`dim` = %s means two different layers: torch's (out, in, k...) layout reads ",
    "fan_in = %s, fan_out = %s, Keras's (k..., in, out) reads fan_in = %s, fan_out = %s. ",
    "Name its `layout` (\"torch\" or \"keras\")%s."),
    shown, format(ft[["fan_in"]], scientific = FALSE), format(ft[["fan_out"]], scientific = FALSE),
    format(fk[["fan_in"]], scientific = FALSE), format(fk[["fan_out"]], scientific = FALSE),
    if (or_fans) ", or give `fan_in` and `fan_out` (initvar's fan_in x fan_out matrix)" else ""))
}

resolve_for <- function(scheme, shape) {
  resolve_scheme(scheme, shape$fan_in, shape$fan_out, rows = shape$rows,
                 cols = shape$cols, total = shape$total, diag = shape$diag,
                 kernel = if (!is.null(shape$kernel)) shape$kernel else scheme$kernel,
                 dim = shape$dim)
}
