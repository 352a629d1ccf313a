# torch's names for the variance-scaling schemes, with torch's arguments.

#' torch's names: `init_xavier()` and `init_kaiming()`
#'
#' The schemes of `torch.nn.init` under torch's own names and arguments, so
#' that a torch habit gives the scheme it means. `init_xavier()` is
#' `xavier_uniform_()` / `xavier_normal_()`: [init_glorot()] with
#' `convention = "torch"`. `init_kaiming()` is `kaiming_normal_()` /
#' `kaiming_uniform_()`: variance \eqn{gain^2 / fan}, with `gain =
#' calculate_gain(nonlinearity, a)` ([gain()] gives the same table: 1 for
#' `"linear"`, the convolutions and `"sigmoid"`, 5/3 for `"tanh"`,
#' \eqn{\sqrt 2} for `"relu"`, \eqn{\sqrt{2 / (1 + a^2)}} for `"leaky_relu"`,
#' 3/4 for `"selu"`). As in torch, the default nonlinearity is
#' `"leaky_relu"` with `a = 0` (so He's \eqn{2 / fan}), and `a` is used only
#' by `"leaky_relu"`; for `"relu"` and `"leaky_relu"` the result is
#' [init_he()].
#'
#' @param distribution `"uniform"` or `"normal"` (torch's `_uniform_` and
#'   `_normal_` variants; torch draws an untruncated normal).
#' @param gain `xavier_*_()`'s gain: the variance is multiplied by `gain^2`.
#' @param a The negative slope of the leaky ReLU (`nonlinearity =
#'   "leaky_relu"` only).
#' @param mode `"fan_in"` (torch's default) or `"fan_out"`.
#' @param nonlinearity torch's `nonlinearity`: one of `"linear"`,
#'   `"conv1d"`, `"conv2d"`, `"conv3d"`, `"conv_transpose1d"`,
#'   `"conv_transpose2d"`, `"conv_transpose3d"`, `"sigmoid"`, `"tanh"`,
#'   `"relu"`, `"leaky_relu"`, `"selu"`.
#' @inherit init_elementary return
#' @seealso [init_variance_scaling()] for the general form and every
#'   framework's convention; [gain()].
#' @examples
#' init_xavier()                            # torch.nn.init.xavier_uniform_
#' init_kaiming(nonlinearity = "relu")      # kaiming_normal_(nonlinearity = "relu")
#' weight_variance(init_kaiming("uniform", nonlinearity = "tanh"), 100)   # (5/3)^2 / 100
#' @export
init_xavier <- function(distribution = c("uniform", "normal"), gain = 1) {
  distribution <- check_choice(distribution, c("uniform", "normal"), "distribution")
  init_glorot(distribution, gain = gain, convention = "torch")
}

#' @rdname init_xavier
#' @export
init_kaiming <- function(distribution = c("normal", "uniform"), a = 0,
                         mode = c("fan_in", "fan_out"), nonlinearity = "leaky_relu") {
  distribution <- check_choice(distribution, c("normal", "uniform"), "distribution")
  a <- check_number(a)
  mode <- check_choice(mode, c("fan_in", "fan_out"), "mode")
  torch_nl <- c("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
                "leaky_relu", "selu")
  if (!is.character(nonlinearity) || length(nonlinearity) != 1 || is.na(nonlinearity) ||
      !nonlinearity %in% torch_nl) {
    abort(paste0(sprintf("`nonlinearity` must be one of torch's: %s; not %s.",
                         paste0("\"", torch_nl, "\"", collapse = ", "), describe(nonlinearity)),
                 did_you_mean(nonlinearity, torch_nl)))
  }
  if (nonlinearity %in% c("relu", "leaky_relu")) {
    return(init_he(distribution, a = if (nonlinearity == "relu") 0 else a, mode = mode,
                   convention = "torch"))
  }
  g <- switch(nonlinearity, sigmoid = 1, tanh = 5 / 3, selu = 3 / 4, 1)
  vs_scheme("kaiming", sprintf("Kaiming %s (torch, nonlinearity \"%s\")", distribution, nonlinearity),
            g^2, mode, distribution, "torch", named = TRUE,
            reference = sprintf("torch.nn.init.kaiming_%s_(nonlinearity = \"%s\")",
                                distribution, nonlinearity),
            gain = g, nonlinearity = nonlinearity)
}
