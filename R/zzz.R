#' @useDynLib initvar, .registration = TRUE, .fixes = "C_"
#' @importFrom stats pnorm dnorm qnorm integrate
NULL
