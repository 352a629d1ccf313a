#' Sample a weight matrix or array
#'
#' Draws the weights of one layer from an initialization scheme, in C.
#' `sample_weights(scheme, fan_in, fan_out)` returns a `fan_in x fan_out`
#' matrix (initvar's layout: a batch `X` of `fan_in`-vectors maps to
#' `X %*% W`); `sample_weights(scheme, dim = ...)` returns an array of that
#' shape, with fans read by [fans()] in the given `layout` (which must be
#' named when torch's and Keras's layouts read the shape differently:
#' `dim = c(784, 256)` is `Linear(256, 784)` to torch but a 784 x 256 kernel
#' to Keras, a 3x difference in He's variance). It draws one
#' layer: unlike [weight_variance()], it does not take vectors of fans (an
#' error naming `fan_in` or `fan_out`); for a whole network, draw each layer,
#' e.g. `Map(function(i, o) sample_weights(scheme, i, o), fan_in, fan_out)`.
#'
#' @section Reproducibility:
#' The result is reproducible from [set.seed()]: each call takes 64 bits of
#' seed material from R's generator (advancing it by two draws, for random
#' schemes only) and generates with xoshiro256++ streams tied to fixed chunks
#' of the output (65,536 entries, or one column for sparse schemes). The same
#' seed gives the same weights whatever `threads` is.
#'
#' @inheritParams weight_variance
#' @param fan_in,fan_out Layer sizes, single positive whole numbers: the
#'   weight matrix is `fan_in x fan_out`. `fan_out` defaults to `fan_in`.
#'   Schemes whose distribution does not depend on the layer (uniform,
#'   normal, truncated normal, constant) can take `dim` instead.
#' @param threads Number of threads to use (OpenMP); see [initvar_threads()].
#' @param ... Nothing: an argument not listed is an error that names it
#'   (`fanin` suggests `fan_in`).
#' @return A double matrix (`fan_in x fan_out`), or an array of shape `dim`
#'   (a vector for a one-dimensional `dim`).
#' @seealso [weight_variance()] for the exact variance of the entries.
#' @examples
#' set.seed(1)
#' W <- sample_weights(init_glorot(), 300, 200)
#' c(sample = var(as.vector(W)), exact = weight_variance(init_glorot(), 300, 200))
#' # a torch Conv2d(3, 16, 5) kernel, He-normal
#' K <- sample_weights(init_he(), dim = c(16, 3, 5, 5), layout = "torch")
#' dim(K)
#' # bias vectors need no fans
#' sample_weights(init_zeros(), dim = 4)
#' # a whole network: one matrix per layer
#' Ws <- Map(function(i, o) sample_weights(init_he(), i, o),
#'           c(784, 256, 128), c(256, 128, 10))
#' lapply(Ws, dim)
#' @export
sample_weights <- function(scheme, fan_in, fan_out = fan_in, dim = NULL,
                           layout = NULL, threads = initvar_threads(), ...) {
  check_dots(...)
  check_scheme(scheme, engine = FALSE)
  threads <- check_whole(threads, "threads", max = max_threads)
  check_lone_fan_out(missing(fan_in), missing(fan_out), if (!missing(fan_out)) fan_out)
  layout <- shape_layout(layout, dim, !(scheme$family %in% fan_free),
                         if (!missing(fan_in)) fan_in, if (!missing(fan_out)) fan_out)
  if (!missing(fan_in) && !is.null(dim)) {
    check_dim_fans(fan_in, fan_out, !missing(fan_out), dim, layout)
  }
  if (vector_fans(fan_in, fan_out, dim)) {
    arg <- if (length(fan_in) != 1) "fan_in" else "fan_out"
    abort_arg(arg, paste0(
      "a single positive whole number: sample_weights() draws one layer (for ",
      "several, Map(function(i, o) sample_weights(scheme, i, o), fan_in, fan_out))"),
      if (arg == "fan_in") fan_in else fan_out)
  }
  shape <- layer_shape(scheme, fan_in, fan_out, dim, layout)
  # a memory preflight, as simulate_network() and first_step() have: the
  # draw is refused before R fails to allocate it
  if (shape$total * 8 > sample_max_bytes) {
    abort(sprintf(paste0(
      "The weights asked for are %s doubles (%.1f GB), more than `sample_weights()` draws in one ",
      "call (%g GB): give smaller `%s`, or draw the layer in parts."),
      big_number(shape$total), shape$total * 8 / 1e9, sample_max_bytes / 2^30,
      if (is.null(dim)) "fan_in`, `fan_out" else "dim"))
  }
  r <- resolve_for(scheme, shape)
  dm <- shape$dim
  family_of(r$family)$sample(r, dm, shape, threads)
}

# A fan_in x out_units matrix into the requested array shape. In the torch
# layout the kernel is (out, in, k...), so the transpose is filled in.
matrix_to_shape <- function(m, shape) {
  if (shape$layout == "initvar" || isTRUE(shape$as_is) ||
      (length(shape$dim) == 2 && shape$layout == "keras")) {
    return(m)  # already in shape (initvar's or Keras's layout, torch's sparse_())
  }
  if (shape$layout == "torch") array(t(m), shape$dim) else array(m, shape$dim)
}

sample_identity <- function(gain, dm, layout) {
  out <- array(0, dm)
  nd <- length(dm)
  if (layout == "torch") {
    n_out <- dm[1]; n_in <- dm[2]; k <- dm[-(1:2)]
  } else { # keras, and initvar's own fan_in x fan_out
    n_in <- dm[nd - 1]; n_out <- dm[nd]; k <- dm[seq_len(nd - 2)]
  }
  centre <- k %/% 2 + 1
  nd_min <- min(n_in, n_out)
  i <- seq_len(nd_min)
  idx <- if (layout == "keras") {
    cbind(matrix(centre, nd_min, length(k), byrow = TRUE), i, i)
  } else if (layout == "torch") {
    cbind(i, i, matrix(centre, nd_min, length(k), byrow = TRUE))
  } else {
    cbind(i, i)
  }
  out[idx] <- gain
  out
}

# The largest draw of one call (16 GiB), the same bound as first_step()'s
# workspace.
sample_max_bytes <- 16 * 2^30
