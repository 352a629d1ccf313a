# Activation functions known by name, with their derivatives and kinks: the
# points where f or one of its derivatives jumps, where the quadrature of
# normal_expectation() splits its panels.

selu_alpha <- 1.6732632423543772848170429916717
selu_lambda <- 1.0507009873554804934193349852946

activation_table <- list(
  linear = list(f = function(x, p) x, df = function(x, p) rep(1, length(x))),
  tanh = list(f = function(x, p) tanh(x), df = function(x, p) 1 - tanh(x)^2),
  sigmoid = list(f = function(x, p) stats::plogis(x),
                 df = function(x, p) { s <- stats::plogis(x); s * (1 - s) }),
  softsign = list(kinks = 0, f = function(x, p) x / (1 + abs(x)),
                  df = function(x, p) 1 / (1 + abs(x))^2),
  relu = list(kinks = 0, f = function(x, p) pmax(x, 0), df = function(x, p) as.double(x > 0)),
  leaky_relu = list(kinks = 0, f = function(x, p) ifelse(x > 0, x, p * x),
                    df = function(x, p) ifelse(x > 0, 1, p), param = 0.01),
  elu = list(kinks = 0, f = function(x, p) ifelse(x > 0, x, p * expm1(x)),
             df = function(x, p) ifelse(x > 0, 1, p * exp(x)), param = 1),
  selu = list(kinks = 0, f = function(x, p) selu_lambda * ifelse(x > 0, x, selu_alpha * expm1(x)),
              df = function(x, p) selu_lambda * ifelse(x > 0, 1, selu_alpha * exp(x))),
  scaled_tanh = list(f = function(x, p) 1.7159 * tanh(2 * x / 3),
                     df = function(x, p) 1.7159 * 2 / 3 * (1 - tanh(2 * x / 3)^2))
)

activation_aliases <- c(identity = "linear", conv1d = "linear", conv2d = "linear",
                        conv3d = "linear", conv_transpose1d = "linear",
                        conv_transpose2d = "linear", conv_transpose3d = "linear",
                        logistic = "sigmoid", lecun_tanh = "scaled_tanh")

activation_names <- function() c(names(activation_table), names(activation_aliases))

canonical_activation <- function(name, arg = "activation") {
  check_string(name, arg)
  if (name %in% names(activation_aliases)) return(activation_aliases[[name]])
  if (!name %in% names(activation_table)) {
    abort_arg(arg, paste0("a known activation (",
                          paste0("\"", activation_names(), "\"", collapse = ", "),
                          ") or a function"), name)
  }
  name
}
