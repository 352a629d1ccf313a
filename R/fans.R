#' Fan-in and fan-out of a weight array
#'
#' Computes `fan_in` and `fan_out` from an array shape the way torch
#' (`torch.nn.init._calculate_fan_in_and_fan_out`) and Keras
#' (`keras.initializers.VarianceScaling`) do: for a convolution kernel both
#' are multiplied by the receptive field size, the product of the spatial
#' dimensions.
#'
#' * `layout = "torch"`: shape `(out, in, k1, k2, ...)`; `fan_in = in * prod(k)`,
#'   `fan_out = out * prod(k)`. torch refuses shapes with fewer than two
#'   dimensions, and so does this function.
#' * `layout = "keras"`: shape `(k1, k2, ..., in, out)`; `fan_in = in * prod(k)`,
#'   `fan_out = out * prod(k)`. A one-dimensional shape `n` gives
#'   `fan_in = fan_out = n`, as in Keras.
#'
#' A matrix in initvar's own layout, `fan_in x fan_out`, is the Keras layout
#' of a dense kernel.
#'
#' @param dim Integer vector: the array shape.
#' @param layout `"torch"` or `"keras"`.
#' @return A named numeric vector: `fan_in`, `fan_out`, `receptive_field`,
#'   `in_units` and `out_units` (the number of input and output channels).
#' @export
#' @examples
#' fans(c(64, 3, 3, 3))                     # torch Conv2d(3, 64, 3) weight
#' fans(c(3, 3, 3, 64), layout = "keras")   # the same kernel in Keras
#' fans(c(256, 784))                        # torch Linear(784, 256)
fans <- function(dim, layout = c("torch", "keras")) {
  layout <- check_choice(layout, c("torch", "keras"), "layout")
  check_dim(dim, "dim")
  dim <- as.double(dim)
  nd <- length(dim)
  if (nd == 1) {
    if (layout == "torch") {
      abort(paste0(
        "`dim` must have at least 2 dimensions for layout \"torch\", not 1: ",
        "torch computes no fans for a vector."))
    }
    return(c(fan_in = dim, fan_out = dim, receptive_field = 1,
             in_units = dim, out_units = dim))
  }
  if (layout == "torch") {
    rf <- if (nd > 2) prod(dim[-(1:2)]) else 1
    n_in <- dim[2]
    n_out <- dim[1]
  } else {
    rf <- if (nd > 2) prod(dim[seq_len(nd - 2)]) else 1
    n_in <- dim[nd - 1]
    n_out <- dim[nd]
  }
  c(fan_in = n_in * rf, fan_out = n_out * rf, receptive_field = rf,
    in_units = n_in, out_units = n_out)
}
