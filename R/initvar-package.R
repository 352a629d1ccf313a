#' initvar: neural network weight initialization, sampled and checked
#'
#' `initvar` samples weights from every common initialization scheme with a
#' fast, reproducible C generator and states the exact variance each scheme
#' realizes.
#'
#' @section Conventions:
#' A weight matrix has `fan_in` rows and `fan_out` columns, as in Glorot and
#' Bengio's \eqn{s = zW + b} with \eqn{z} a row vector, so that a batch of
#' inputs `X` (`batch x fan_in`) maps to `X %*% W`. [fans()] translates the
#' array shapes used by torch and Keras.
#'
#' @section Randomness:
#' Every random draw is reproducible from [set.seed()]. Each call takes 64
#' bits of seed material from R's random number generator, then generates in
#' C with xoshiro256++ streams, one per fixed chunk of work, seeded with
#' splitmix64. Normal deviates come from an exact 256-layer ziggurat. The
#' result of a call depends on the seed only, never on the number of threads
#' (see [initvar_threads()]).
#'
#' @keywords internal
"_PACKAGE"
