# Variance and covariance identities of the Glorot derivation, checked by
# simulation with honest Monte Carlo standard errors.

dist_codes <- c(normal = 1, uniform = 2, exponential = 3)
# E[Z^4] of the standardized distributions
dist_kurtosis <- c(normal = 3, uniform = 9 / 5, exponential = 9)

# Glorot's eqs. 5-7: per-layer variances of simulated networks.
glorot_identity <- function(statement, latex, assumptions, used_in, quantity) {
  list(statement = statement, latex = latex, assumptions = assumptions, used_in = used_in,
       defaults = list(net = NULL, layer = NULL, batch = 32, var_x = 1),
       drops = c(linear = "tanh activations instead of linear"),
       estimand = "network", quantity = quantity)
}

# Each built-in identity: statement, assumptions, where it is used, default
# parameters, the assumptions that can be dropped (and how), and its C
# kernel: the estimand ("mean", "var", "cov", "ratio" of Var(u) / Var(v), or
# "network"), the theoretical value and the general formula that holds
# without the dropped assumption. The registry `identity_defs` below is made
# of these with the public constructor, new_identity(kernel = ).
builtin_identity_data <- list(
  linear_mean = list(
    statement = "E[aX + b] = a E[X] + b",
    latex = "\\mathbb{E}[aX + b] = a\\,\\mathbb{E}[X] + b",
    assumptions = "none: any X with a finite mean, constants a and b",
    used_in = "the fan-in notes: linear transformation of a random variable",
    defaults = list(dist = "exponential", mean = 1, sd = 1, a = 2, b = 3),
    drops = character(0), estimand = "mean", code = 1L,
    cparams = function(p) c(dist_codes[[p$dist]], p$mean, p$sd, p$a, p$b),
    theory = function(p) p$a * p$mean + p$b),
  linear_var = list(
    statement = "Var(aX + b) = a^2 Var(X)",
    latex = "\\mathrm{Var}(aX + b) = a^2\\,\\mathrm{Var}(X)",
    assumptions = "none: any X with a finite variance, constants a and b",
    used_in = "the fan-in notes: scaling weights by sd scales the variance by sd^2",
    defaults = list(dist = "exponential", mean = 1, sd = 1, a = 2, b = 3),
    drops = character(0), estimand = "var", code = 1L,
    cparams = function(p) c(dist_codes[[p$dist]], p$mean, p$sd, p$a, p$b),
    theory = function(p) p$a^2 * p$sd^2),
  sum_independent = list(
    statement = "Var(X_1 + ... + X_m) = Var(X_1) + ... + Var(X_m) = m sd^2",
    latex = "\\mathrm{Var}\\Big(\\sum_{i=1}^m X_i\\Big) = \\sum_{i=1}^m \\mathrm{Var}(X_i)",
    assumptions = "X_i independent (uncorrelated suffices), each with variance sd^2",
    used_in = "Q&A step 7: the variance of a neuron's sum",
    defaults = list(m = 10, dist = "uniform", mean = 0, sd = 1, rho = 0),
    drops = c(independence = "the terms are equicorrelated, rho = 0.3"),
    drop = function(p, what) { if (p$rho == 0) p$rho <- 0.3; p },
    estimand = "var", code = 2L,
    cparams = function(p) c(p$m, dist_codes[[p$dist]], p$mean, p$sd, p$rho),
    theory = function(p) p$m * p$sd^2,
    general = function(p) p$m * p$sd^2 * (1 + (p$m - 1) * p$rho),
    general_text = "Var(sum X_i) = sum Var(X_i) + 2 sum_{i<j} Cov(X_i, X_j) = m sd^2 (1 + (m - 1) rho)"),
  sum_uncorrelated = list(
    statement = "Var(T_1 + ... + T_m) = sum Var(T_i) for T_i = W_i Z: uncorrelated but dependent terms",
    latex = "\\mathrm{Var}\\Big(\\sum_i W_i Z\\Big) = \\sum_i \\mathrm{Var}(W_i Z)",
    assumptions = "W_i independent with mean 0, independent of Z: the terms share Z (dependent) but are uncorrelated",
    used_in = "Q&A step 7 and the closing covariance proof: uncorrelated is what the sum needs",
    defaults = list(m = 10, mean_w = 0, sd_w = 1, mean_z = 1, sd_z = 1),
    drops = c(uncorrelated = "the W_i have mean 0.5, so the terms are correlated through Z"),
    drop = function(p, what) { if (p$mean_w == 0) p$mean_w <- 0.5; p },
    estimand = "var", code = 3L,
    cparams = function(p) c(p$m, p$mean_w, p$sd_w, p$mean_z, p$sd_z),
    theory = function(p) p$m * ((p$sd_w^2 + p$mean_w^2) * (p$sd_z^2 + p$mean_z^2) - p$mean_w^2 * p$mean_z^2),
    general = function(p) {
      vt <- (p$sd_w^2 + p$mean_w^2) * (p$sd_z^2 + p$mean_z^2) - p$mean_w^2 * p$mean_z^2
      p$m * vt + p$m * (p$m - 1) * p$mean_w^2 * p$sd_z^2
    },
    general_text = "Var(sum T_i) = m Var(T) + m (m - 1) Cov(T_1, T_2), Cov(T_1, T_2) = E[W]^2 Var(Z)"),
  product_independent = list(
    statement = "Var(XY) = Var(X) Var(Y) + Var(X) E[Y]^2 + Var(Y) E[X]^2",
    latex = "\\mathrm{Var}(XY) = \\mathrm{Var}(X)\\mathrm{Var}(Y) + \\mathrm{Var}(X)\\mathbb{E}[Y]^2 + \\mathrm{Var}(Y)\\mathbb{E}[X]^2",
    assumptions = "X and Y independent",
    used_in = "Q&A steps 8-9: the variance of one term w_j x_j",
    defaults = list(mean_x = 1, sd_x = 2, mean_y = -0.5, sd_y = 1, rho = 0, dist = "normal"),
    drops = c(independence = "X and Y are bivariate normal with correlation rho = 0.8"),
    drop = function(p, what) { if (p$rho == 0) p$rho <- 0.8; p$dist <- "normal"; p },
    estimand = "var", code = 4L,
    cparams = function(p) c(p$mean_x, p$sd_x, p$mean_y, p$sd_y, p$rho, dist_codes[[p$dist]]),
    theory = function(p) p$sd_x^2 * p$sd_y^2 + p$sd_x^2 * p$mean_y^2 + p$sd_y^2 * p$mean_x^2,
    general = function(p) {
      p$mean_x^2 * p$sd_y^2 + p$mean_y^2 * p$sd_x^2 + p$sd_x^2 * p$sd_y^2 * (1 + p$rho^2) +
        2 * p$rho * p$sd_x * p$sd_y * p$mean_x * p$mean_y
    },
    general_text = "bivariate normal: Var(XY) = mx^2 sy^2 + my^2 sx^2 + sx^2 sy^2 (1 + rho^2) + 2 rho sx sy mx my"),
  product_zero_mean = list(
    statement = "Var(XY) = Var(X) Var(Y)",
    latex = "\\mathrm{Var}(XY) = \\mathrm{Var}(X)\\,\\mathrm{Var}(Y)",
    assumptions = "X and Y independent with mean 0",
    used_in = "Q&A step 8 and the fan-in notes: zero-mean weights and inputs",
    defaults = list(mean_x = 0, sd_x = 2, mean_y = 0, sd_y = 1.5, rho = 0, dist = "uniform"),
    drops = c(zero_mean = "E[X] = 1 and E[Y] = -0.5"),
    drop = function(p, what) {
      if (p$mean_x == 0 && p$mean_y == 0) { p$mean_x <- 1; p$mean_y <- -0.5 }
      p
    },
    estimand = "var", code = 4L,
    cparams = function(p) c(p$mean_x, p$sd_x, p$mean_y, p$sd_y, p$rho, dist_codes[[p$dist]]),
    theory = function(p) p$sd_x^2 * p$sd_y^2,
    general = function(p) p$sd_x^2 * p$sd_y^2 + p$sd_x^2 * p$mean_y^2 + p$sd_y^2 * p$mean_x^2,
    general_text = "independent X, Y: Var(XY) = Var(X) Var(Y) + Var(X) E[Y]^2 + Var(Y) E[X]^2"),
  neuron = list(
    statement = "Var(w_1 x_1 + ... + w_n x_n) = n Var(W) Var(X)",
    latex = "\\mathrm{Var}\\Big(\\sum_{j=1}^n w_j x_j\\Big) = n\\,\\mathrm{Var}(W)\\,\\mathrm{Var}(X)",
    assumptions = "weights iid with mean 0, independent of the inputs; inputs with mean 0 and a common variance (they may be correlated)",
    used_in = "Q&A steps 6-9 (Glorot eq. 5 for one layer); the fan-in notes, step 1",
    defaults = list(fan_in = 100, weights = "uniform", mean_w = 0, sd_w = 0.1, inputs = "normal",
                    mean_x = 0, sd_x = 1, rho_x = 0, beta = 0),
    drops = c(zero_mean = "E[W] = 0.05 and E[X] = 0.5",
              independent_inputs = "the inputs are equicorrelated, rho = 0.5: the identity still holds",
              weights_independent_of_inputs = "w_j = 0.1 x_j + noise: weights depend on inputs"),
    drop = function(p, what) {
      if (what == "zero_mean") { p$mean_w <- 0.05; p$mean_x <- 0.5 }
      if (what == "independent_inputs" && p$rho_x == 0) p$rho_x <- 0.5
      if (what == "weights_independent_of_inputs" && p$beta == 0) p$beta <- 0.1
      p
    },
    estimand = "var", code = 5L,
    cparams = function(p) c(p$fan_in, dist_codes[[p$weights]], p$mean_w, p$sd_w, dist_codes[[p$inputs]],
                            p$mean_x, p$sd_x, p$rho_x, p$beta),
    theory = function(p) p$fan_in * (p$sd_w^2 + p$beta^2 * p$sd_x^2) * p$sd_x^2,
    general = function(p) {
      if (p$beta != 0) {
        if (p$mean_w != 0 || p$mean_x != 0 || p$rho_x != 0) return(NA_real_)
        k <- dist_kurtosis[[p$inputs]]
        return(p$fan_in * (p$beta^2 * (k - 1) * p$sd_x^4 + p$sd_w^2 * p$sd_x^2))
      }
      vt <- p$sd_w^2 * p$sd_x^2 + p$sd_w^2 * p$mean_x^2 + p$sd_x^2 * p$mean_w^2
      p$fan_in * vt + p$fan_in * (p$fan_in - 1) * p$mean_w^2 * p$rho_x * p$sd_x^2
    },
    general_text = paste("Var(sum w_j x_j) = n Var(wx) + n (n - 1) E[W]^2 Cov(x_1, x_2), with Var(wx)",
                         "from the product rule; for w = beta x + e: n (beta^2 Var(x^2) + Var(e) Var(x))")),
  fan_in = list(
    statement = "Var(s) / Var(x) = n Var(W) = 1 when sd(W) = 1 / sqrt(n)",
    latex = "\\frac{\\mathrm{Var}(s)}{\\mathrm{Var}(x)} = n\\,\\mathrm{Var}(W) = 1 \\text{ for } \\mathrm{sd}(W) = 1/\\sqrt{n}",
    assumptions = "as for `neuron`; the ratio of two variances estimated from the same draws",
    used_in = "the fan-in notes: why sd = 1/sqrt(fan_in) keeps unit variance",
    defaults = list(fan_in = 256, weights = "normal", mean_w = 0, sd_w = NULL, inputs = "uniform",
                    mean_x = 0, sd_x = 2, rho_x = 0, beta = 0),
    drops = c(zero_mean = "E[W] = 0.05 and E[X] = 0.5"),
    drop = function(p, what) { p$mean_w <- 0.05; p$mean_x <- 0.5; p },
    estimand = "ratio", code = 5L,
    prepare = function(p) { if (is.null(p$sd_w)) p$sd_w <- 1 / sqrt(p$fan_in); p },
    cparams = function(p) c(p$fan_in, dist_codes[[p$weights]], p$mean_w, p$sd_w, dist_codes[[p$inputs]],
                            p$mean_x, p$sd_x, p$rho_x, p$beta),
    theory = function(p) p$fan_in * p$sd_w^2,
    general = function(p) p$fan_in * (p$sd_w^2 * p$sd_x^2 + p$sd_w^2 * p$mean_x^2 +
                                   p$sd_x^2 * p$mean_w^2) / p$sd_x^2,
    general_text = "Var(s) / Var(x) = n (Var(W) Var(X) + Var(W) E[X]^2 + Var(X) E[W]^2) / Var(X)"),
  covariance_zero = list(
    statement = "Cov(w_k . z, w_j . z) = 0 for k != j, even when the features of z are correlated",
    latex = "\\mathrm{Cov}(w_k^\\top z, w_j^\\top z) = \\mathbb{E}[w_k]^\\top \\mathbb{E}[z\\, w_j^\\top z] = 0",
    assumptions = "w_k and w_j independent of each other and of z, with mean 0",
    used_in = "Q&A, closing proof: why step 7 holds for dependent features",
    defaults = list(fan_in = 50, mean_w = 0, sd_w = 1, sd_z = 1, rho_z = 0.5),
    drops = c(zero_mean = "the weights have mean 0.2"),
    drop = function(p, what) { if (p$mean_w == 0) p$mean_w <- 0.2; p },
    estimand = "cov", code = 6L,
    cparams = function(p) c(p$fan_in, p$mean_w, p$sd_w, p$sd_z, p$rho_z),
    theory = function(p) 0,
    general = function(p) p$mean_w^2 * p$sd_z^2 * (p$fan_in + p$fan_in * (p$fan_in - 1) * p$rho_z),
    general_text = "Cov(w_k . z, w_j . z) = E[w]^2 1' Cov(z) 1 = E[w]^2 sd_z^2 (n + n (n - 1) rho)"),
  delta_method = list(
    statement = "Var(f(X)) ~ f'(E[X])^2 Var(X) (delta method); checked against the exact Var(f(X)) by quadrature",
    latex = "\\mathrm{Var}(f(X)) \\approx f'(\\mathbb{E}X)^2\\,\\mathrm{Var}(X)",
    assumptions = "X ~ N(mean, sd^2) with sd small enough that f is nearly linear (the linear regime)",
    used_in = "Q&A step 2: Var(f(s)) ~ f'(0)^2 Var(s) = Var(s)",
    defaults = list(activation = "tanh", mean = 0, sd = 0.1),
    drops = character(0), estimand = "var", code = 7L,
    cparams = function(p) {
      a <- activation(p$activation)
      c(a$code, a$param, p$mean, p$sd)
    },
    theory = function(p) {
      a <- activation(p$activation)
      m1 <- normal_expectation(a$f, p$sd, p$mean, kinks = a$kinks)
      normal_expectation(function(x) (a$f(x) - m1)^2, p$sd, p$mean, kinks = a$kinks)
    },
    approximation = function(p) delta_derivative(activation(p$activation), p$mean)^2 * p$sd^2),
  layer_independence = list(
    statement = "Var((W^i W^(i+1))_ac) = n Var(W^i) Var(W^(i+1)): independent layers factorize",
    latex = "\\mathrm{Var}\\big((W^i W^{i+1})_{ac}\\big) = n\\,\\mathrm{Var}(W^i)\\,\\mathrm{Var}(W^{i+1})",
    assumptions = "the weights of consecutive layers are independent, with mean 0",
    used_in = "Q&A section 2.1: Var(W^i W^(i+1)) = Var(W^i) Var(W^(i+1))",
    defaults = list(fan_in = 100, sd1 = 0.1, sd2 = 0.2, dist = "normal", tied = FALSE),
    drops = c(independence = "tied weights, W^(i+1) = t(W^i): a diagonal entry sums n squares"),
    drop = function(p, what) { p$tied <- TRUE; p$sd2 <- p$sd1; p },
    estimand = "var", code = 8L,
    cparams = function(p) c(p$fan_in, p$sd1, p$sd2, as.numeric(p$tied), dist_codes[[p$dist]]),
    theory = function(p) p$fan_in * p$sd1^2 * p$sd2^2,
    general = function(p) p$fan_in * (dist_kurtosis[[p$dist]] - 1) * p$sd1^4,
    general_text = "tied: Var(sum_k w_k^2) = n Var(w^2) = n (E[w^4] - sd^4)"),
  glorot_forward = glorot_identity(
    statement = "Var(z^i) = Var(x) prod_{i'=0}^{i-1} n_i' Var(W^i') (Glorot & Bengio eq. 5)",
    latex = "\\mathrm{Var}(z^i) = \\mathrm{Var}(x) \\prod_{i'=0}^{i-1} n_{i'} \\mathrm{Var}(W^{i'})",
    assumptions = "linear regime (f'(0) = 1, f linear), independent zero-mean weights, zero biases, iid inputs",
    used_in = "Glorot & Bengio eq. 5; the Q&A's formula",
    quantity = "z"),
  glorot_backward = glorot_identity(
    statement = "Var(dC/ds^i) = Var(dC/ds^(d-1)) prod_{i'=i+1}^{d-1} n_(i'+1) Var(W^i') (eq. 6, indices corrected)",
    latex = "\\mathrm{Var}\\Big(\\frac{\\partial C}{\\partial s^i}\\Big) = \\mathrm{Var}\\Big(\\frac{\\partial C}{\\partial s^{d-1}}\\Big) \\prod_{i'=i+1}^{d-1} n_{i'+1} \\mathrm{Var}(W^{i'})",
    assumptions = "linear regime, independent zero-mean weights, output gradient independent of the weights",
    used_in = "Glorot & Bengio eq. 6 (their product runs one layer too far)",
    quantity = "grad_s"),
  glorot_weight_gradient = glorot_identity(
    statement = "Var(dC/dW^i) = Var(z^i) Var(dC/ds^i) (Glorot & Bengio eq. 7)",
    latex = "\\mathrm{Var}\\Big(\\frac{\\partial C}{\\partial W^i}\\Big) = \\mathrm{Var}(z^i)\\,\\mathrm{Var}\\Big(\\frac{\\partial C}{\\partial s^i}\\Big)",
    assumptions = "linear regime, independent zero-mean weights, activations independent of back-propagated gradients",
    used_in = "Glorot & Bengio eq. 7 and eq. 14: weight gradients do not shrink with depth",
    quantity = "grad_w")
)

# The formula each built-in states, where one formula covers its parameters
# (sums of m terms and the networks are stated in words only).
builtin_formulas <- list(
  linear_mean = E(a * X + b) ~ a * E(X) + b,
  linear_var = Var(a * X + b) ~ a^2 * Var(X),
  product_independent = Var(X * Y) ~ Var(X) * Var(Y) + Var(X) * E(Y)^2 + Var(Y) * E(X)^2,
  product_zero_mean = Var(X * Y) ~ Var(X) * Var(Y),
  delta_method = Var(f(X)) ~ f1(E(X))^2 * Var(X))

# The type of every parameter of the built-ins, checked by identity_params():
# one table, not guessed from the names.
builtin_param_types <- c(
  dist = "dist", weights = "dist", inputs = "dist", activation = "activation", tied = "flag",
  net = "net", layer = "layer", m = "count", fan_in = "count", batch = "count",
  rho = "correlation", rho_x = "unit", rho_z = "unit",
  sd = "nonneg", sd_x = "nonneg", sd_y = "nonneg", sd_w = "nonneg", sd_z = "nonneg",
  sd1 = "nonneg", sd2 = "nonneg", var_x = "nonneg",
  mean = "real", mean_x = "real", mean_y = "real", mean_w = "real", mean_z = "real",
  a = "real", b = "real", beta = "real")

# `identity_defs`, the registry of built-ins, is made in R/verify-registry.R
# (after the constructor is defined).

#' The registry of identities
#'
#' Every variance and covariance identity the Glorot derivation rests on, as
#' checked by [verify()]: the linear-transformation rules of the fan-in
#' notes, the variance of sums and products, a neuron's pre-activation, the
#' covariance proof closing the Q&A, the delta method of its step 2, the
#' independence of layers, and Glorot and Bengio's eqs. 5, 6 and 7.
#'
#' @return A data frame with one row per identity, built-in ones first, then
#'   those added with [register_identity()]: `id`, `statement`,
#'   `latex`, `assumptions`, `used_in` (where in the derivation it is used),
#'   `estimand` (what is estimated: a mean, a variance, a covariance, a ratio
#'   of variances, a per-layer variance of simulated networks, or a user's
#'   `"formula"`), `drops` (the assumptions [verify()] can drop to show a
#'   counterexample) and `source` (`"built-in"` or `"registered"`).
#' @examples
#' ids <- identities()
#' ids[, c("id", "statement")]
#' @export
identities <- function() {
  builtin <- data.frame(
    id = names(identity_defs),
    statement = vapply(identity_defs, `[[`, "", "statement"),
    latex = vapply(identity_defs, `[[`, "", "latex"),
    assumptions = vapply(identity_defs, `[[`, "", "assumptions"),
    used_in = vapply(identity_defs, `[[`, "", "used_in"),
    estimand = vapply(identity_defs, `[[`, "", "estimand"),
    drops = vapply(identity_defs, function(d) paste(names(d$drops), collapse = ", "), ""),
    source = "built-in", row.names = NULL, stringsAsFactors = FALSE)
  reg <- registered_identities()
  if (!length(reg)) return(builtin)
  user <- data.frame(
    id = names(reg),
    statement = vapply(reg, `[[`, "", "statement"),
    latex = NA_character_,
    assumptions = vapply(reg, `[[`, "", "assumptions"),
    used_in = vapply(reg, `[[`, "", "used_in"),
    estimand = "formula",
    drops = vapply(reg, function(d) paste(names(d$drops), collapse = ", "), ""),
    source = "registered", row.names = NULL, stringsAsFactors = FALSE)
  rbind(builtin, user)
}

# Estimate and MCSE of an estimand from a packed bivariate accumulator.
# mean: sd / sqrt(n); var: sqrt((m4 - m2^2) / n); cov: sqrt((m22 - m11^2) / n);
# ratio Var(u) / Var(v): the delta method.
# The accumulator holds u / su and v / sv (`scale`, powers of 2 chosen by
# C_identity): the moments are computed on that scale, where they neither
# underflow nor overflow, and the estimate and MCSE are scaled back.
biv_estimate <- function(a, estimand, scale = c(1, 1)) {
  n <- a[1]
  M <- matrix(a[4:28], 5, byrow = TRUE)   # M[p + 1, q + 1]
  m <- function(p, q) M[p + 1, q + 1] / n
  su <- scale[1]; sv <- scale[2]
  r <- switch(estimand,
    mean = c(estimate = a[2], mcse = sqrt(m(2, 0) / n)) * su,
    var = c(estimate = M[3, 1] / (n - 1), mcse = sqrt(max(m(4, 0) - m(2, 0)^2, 0) / n)) * su^2,
    cov = c(estimate = M[2, 2] / (n - 1), mcse = sqrt(max(m(2, 2) - m(1, 1)^2, 0) / n)) * (su * sv),
    ratio = {
      r <- m(2, 0) / m(0, 2)
      v <- (m(4, 0) - m(2, 0)^2) / m(0, 2)^2 + m(2, 0)^2 * (m(0, 4) - m(0, 2)^2) / m(0, 2)^4 -
        2 * m(2, 0) * (m(2, 2) - m(2, 0) * m(0, 2)) / m(0, 2)^3
      c(estimate = r, mcse = sqrt(max(v, 0) / n)) * (su / sv)^2
    })
  r
}

identity_params <- function(def, args, id) {
  p <- def$params
  unknown <- setdiff(names(args), names(p))
  if (length(args) && (is.null(names(args)) || any(names(args) == ""))) {
    abort("arguments in `...` must be named.")
  }
  if (length(unknown)) {
    abort(sprintf("`%s` is not a parameter of identity \"%s\"; its parameters are %s.",
                             unknown[1], id, paste0("`", names(p), "`", collapse = ", ")))
  }
  p[names(args)] <- args
  for (nm in names(p)) {
    v <- p[[nm]]
    type <- builtin_param_types[[nm]]
    switch(type,
      dist = { p[[nm]] <- check_choice(v, names(dist_codes), nm) },
      activation = {
        if (!(is.character(v) && length(v) == 1 && v %in% activation_names())) {
          abort_arg("activation", "the name of a built-in activation", v)
        }
      },
      flag = { if (!is.logical(v) || length(v) != 1 || is.na(v)) abort_arg(nm, "TRUE or FALSE", v) },
      net = { if (!is.null(v)) check_mlp(v, "net") },
      layer = { if (!is.null(v)) check_whole(v, "layer") },
      count = { if (!is.null(v)) check_whole(v, nm, max = 1e7) },
      correlation = check_number(v, nm, min = -1, max = 1),
      unit = check_number(v, nm, min = 0, max = 1),
      nonneg = { if (!is.null(v)) check_number(v, nm, min = 0) },
      real = check_number(v, nm))
  }
  if (!is.null(def$prepare)) p <- def$prepare(p)
  p
}

#' Check an identity by simulation
#'
#' Simulates the quantity an identity speaks of, in C, and compares the
#' estimate with the theoretical value: with its Monte Carlo standard error
#' (MCSE), a confidence interval, a z-score, a p-value and a verdict in
#' words. See [identities()] for the registry.
#'
#' @section Monte Carlo standard errors:
#' Draws are reduced in chunks (65,536 draws, fewer when one draw sums many
#' terms, so that an interrupt is honoured quickly) to bivariate central co-moments up
#' to order four, merged exactly and stably (Pebay 2008), so memory is
#' constant in `n` and the result is the same for any number of threads. The
#' MCSE is the one the estimator needs:
#' * a mean: \eqn{s / \sqrt{n}};
#' * a sample variance: \eqn{\sqrt{(m_4 - m_2^2) / n}}, with the fourth
#'   central moment \eqn{m_4} (not the normal-theory \eqn{s^2 \sqrt{2/n}});
#' * a covariance: \eqn{\sqrt{(m_{22} - m_{11}^2) / n}}, from the moments of
#'   the product of deviations;
#' * a ratio of variances \eqn{R = m_{20} / m_{02}} estimated from the same
#'   draws: the delta method,
#'   \eqn{Var(\hat R) \approx [(m_{40} - m_{20}^2)/m_{02}^2 + m_{20}^2 (m_{04} -
#'   m_{02}^2)/m_{02}^4 - 2 m_{20}(m_{22} - m_{20} m_{02})/m_{02}^3] / n};
#' * Glorot's eqs. 5-7: network-level replication ([simulate_network()]), the
#'   test using Student's t with `n - 1` degrees of freedom.
#'
#' @section Calibration:
#' The draw-based checks are asymptotic: the MCSE of a variance rests on an
#' estimated fourth moment, which is noisy and skewed in small samples, so
#' the test over-rejects a true identity at small `n` (at level 0.99, 21\%
#' for `linear_var` at n = 20, 3\% for `product_independent` at n = 200).
#' `verify()` therefore refuses `n` below 10,000 draws, the size from which
#' the rejection rate of every built-in identity, for normal, uniform and
#' exponential variables, stays within the binomial band of the nominal
#' rate over seeds (tests/testthat/test-calibration.R); the test is then
#' Student's t with `n - 1` degrees of freedom, approximate, not exact. The
#' Glorot identities replicate networks and use the rule of
#' [simulate_network()] ("Intervals and verdicts"): too few networks for a
#' calibrated interval at the chosen layer is an error naming `n`.
#'
#' Draws are accumulated divided by powers of 2 near their spread, exactly,
#' so that an identity about variances of 1e-100 or 1e100 behaves like one
#' about variances of 1; an MCSE of 0 (draws that do not vary) agrees only
#' with a theoretical value equal to the estimate to 1e-12 relative.
#'
#' A rejection at level 0.99 is reported as "not consistent at level 0.99":
#' 1 in 100 true identities is flagged by chance. [verify_all()] adds a
#' family-wise verdict (Holm).
#'
#' @section Counterexamples:
#' `drop` names an assumption to drop (see the `drops` column of
#' [identities()]): the simulation then breaks it, the identity's value is
#' compared as before, and the general formula that still holds is shown
#' beside it with its own z-score. Dropping `independent_inputs` from
#' `neuron` shows an identity that survives: the covariance proof at work.
#'
#' @param id A built-in or registered identity's id (see [identities()]), an
#'   identity from [new_identity()], or a two-sided formula over `E()`,
#'   `Var()` and `Cov()` of expressions of random variables (see
#'   `vignette("verify-your-own", package = "initvar")`).
#' @param n Number of draws, at least 10,000 (for the Glorot identities: of
#'   networks). Defaults to 1e6 (200 networks).
#' @param ... Parameters of the identity, overriding its defaults (shown by
#'   `print()`): distributions `dist`, `weights`, `inputs` (`"normal"`,
#'   `"uniform"`, `"exponential"`), means, standard deviations, correlations
#'   `rho`, sizes `m` (terms of a sum) and `fan_in` (terms of a neuron); for
#'   `delta_method` an `activation` name; for
#'   the Glorot identities a network `net` from [mlp()], a `layer` and the
#'   `batch` of inputs per network.
#'   For a formula: its random variables (functions of `n` returning `n`
#'   draws, or elementwise schemes such as [init_normal()]) and constants.
#' @param level Confidence level of the interval and the test.
#' @param drop `NULL`, or an assumption to drop.
#' @param threads Number of threads; see [initvar_threads()].
#' @param draw For a formula: `NULL`, or a function of `n` returning an
#'   `n`-row matrix whose named columns are dependent random variables.
#' @param params For a formula: a named list of constants, for names that
#'   clash with `verify()`'s own arguments (`n`, `level`, `drop`, ...).
#' @param progress Show a progress bar (cli) for the Glorot identities
#'   (simulated networks) and for long formula runs.
#' @section Interrupts:
#' Ctrl-C stops a verification within about a second. The draws done so
#' far are kept: the interrupt is re-signalled as a condition of class
#' `initvar_interrupt` whose `partial` field is the verification for those
#' draws (`n` set to their number), also kept in [last_partial()].
#' @param future For a formula or an identity from [new_identity()]: `TRUE`
#'   to reduce the chunks of draws on the workers of the current
#'   `future::plan()` (multisession, a cluster, a scheduler through
#'   future.batchtools; needs the future.apply package). Every chunk draws
#'   from its own stream, so the result is the same as on one process.
#' @return An `initvar_verification` object: a list with `id`, `statement`,
#'   `assumptions`, `params`, `dropped`, `theoretical`, `estimate`, `mcse`,
#'   `lower`, `upper`, `z`, `p_value`, `consistent`, `verdict`, `general`
#'   (value of the general formula, when an assumption is dropped),
#'   `approximation` (`delta_method`) and `path` (estimates as `n` grows).
#'   It has `print()`, `as.data.frame()` and `plot()` methods.
#' @examples
#' set.seed(1)
#' verify("product_independent", n = 1e5)
#' verify("product_zero_mean", n = 1e5, drop = "zero_mean")
#' verify("neuron", n = 1e5, drop = "independent_inputs")   # still holds
#' verify("delta_method", n = 1e5, activation = "tanh", sd = 2)
#' @export
verify <- function(id, n = NULL, ..., level = 0.99, drop = NULL,
                   threads = initvar_threads(), draw = NULL, params = list(), future = FALSE,
                   progress = interactive()) {
  check_flag(progress, "progress")
  check_future(future)
  check_number(level, min = 0, max = 1, min_open = TRUE, max_open = TRUE)
  threads <- check_whole(threads, "threads", max = 1024)
  if (!is.list(params) || (length(params) && (is.null(names(params)) || any(!nzchar(names(params)))))) {
    abort_arg("params", "a named list of constants", params)
  }
  if (inherits(id, "formula")) {
    if (!is.null(drop)) {
      abort_arg("drop", "NULL for a formula (counterexamples belong to an identity from `new_identity()`)", drop)
    }
    return(verify_formula(id, n, list(...), params, draw, level, threads,
                          progress = progress, future = future))
  }
  if (is.character(id) && length(id) == 1 && !is.na(id)) {
    id <- if (exists(id, envir = identity_registry, inherits = FALSE)) {
      get(id, envir = identity_registry)
    } else {
      known <- c(names(identity_defs), ls(identity_registry))
      if (!id %in% known && is.na(pmatch(id, known))) {
        abort(paste0(sprintf("`id` must be a built-in or registered identity (see identities()), not \"%s\".", id),
                     did_you_mean(id, known)))
      }
      identity_defs[[check_choice(id, known, "id")]]
    }
  }
  if (!inherits(id, "initvar_identity")) {
    abort_arg("id", "a built-in or registered identity's id, an identity from `new_identity()`, or a formula", id)
  }
  if (is.null(id$estimand)) {
    return(verify_identity_object(id, n, list(...), params, draw, level, drop, threads,
                                  progress = progress, future = future))
  }
  # an identity with a C kernel (the built-ins)
  if (!is.null(draw)) abort_arg("draw", "NULL for a built-in identity", draw)
  if (length(params)) abort_arg("params", "empty for a built-in identity (give its parameters in `...`)", params)
  def <- id
  id <- def$id
  network <- def$estimand == "network"
  if (is.null(n)) n <- if (network) 200 else 1e6
  check_whole(n, "n", min = 2, max = 1e13)
  if (!network && n < verify_min_draws) {
    abort(sprintf(paste0(
      "`n` must be at least %s draws for identity \"%s\", not %s: below that the MCSE, ",
      "which rests on estimated fourth moments, is not calibrated (see ?verify, \"Calibration\")."),
      format(verify_min_draws, big.mark = ",", scientific = FALSE), id, format(n)))
  }
  p <- identity_params(def, list(...), id)
  if (network) {
    check_whole(n, "n", min = 2, max = 1e9)
    check_whole(p$batch, "batch", min = 2, max = 2^24)
  }
  if (!is.null(drop)) {
    if (!length(def$drops)) {
      abort_arg("drop", sprintf("NULL: identity \"%s\" has no assumption to drop", id), drop)
    }
    drop <- check_choice(drop, names(def$drops), "drop")
  }
  out <- if (network) verify_network(def, id, n, p, level, drop, threads, progress) else
    verify_draws(def, id, n, p, level, drop, threads)
  out
}

# The fewest draws at which the draw-based checks are calibrated: over 400
# seeds their rejection rates at level 0.99 stay within the binomial bound
# at every n >= 1e4 tested (tests/testthat/test-calibration.R); at n = 200
# the plug-in fourth moment rejects a true Var(XY) identity 3% of the time,
# at n = 20 a true Var(aX + b) identity 21%.
verify_min_draws <- 1e4

verify_draws <- function(def, id, n, p, level, drop, threads) {
  if (!is.null(drop)) p <- def$drop(p, drop)
  theory <- def$theory(p)
  cp <- def$cparams(p)
  cp <- c(cp, numeric(10 - length(cp)))
  path_acc <- .Call(C_identity, def$code, as.double(cp), n, threads)
  # interrupted: keep the draws done (chunks merge exactly), re-signal below
  interrupted <- isTRUE(attr(path_acc, "interrupted"))
  if (interrupted) n <- path_acc[1, ncol(path_acc)]
  path <- t(apply(path_acc, 2, biv_estimate, estimand = def$estimand,
                  scale = attr(path_acc, "scale")))
  path <- data.frame(n = path_acc[1, ], estimate = path[, "estimate"], mcse = path[, "mcse"])
  final <- path[nrow(path), ]
  general <- if (!is.null(drop) && !is.null(def$general)) def$general(p) else NULL
  out <- new_verification(def, id, p, drop, theory, final$estimate, final$mcse, n, level,
                          df = n - 1, general = general, path = path,
                          approximation = if (!is.null(def$approximation)) def$approximation(p))
  if (interrupted) raise_interrupt(out)
  out
}

verify_network <- function(def, id, n, p, level, drop, threads, progress = FALSE) {
  net <- p$net
  if (is.null(net)) net <- mlp(c(40, 40, 40, 40), "linear", init_glorot())
  if (!is.null(drop)) {
    net <- mlp(net$widths, "tanh", net$init, net$bias)
  }
  d <- length(net$widths) - 1
  layer <- p$layer
  if (is.null(layer)) layer <- if (def$quantity == "z") d else 1
  if (layer > d) abort_arg("layer", sprintf("a layer of `net`, between 1 and %d", d), layer)
  sim <- simulate_network(net, networks = n, inputs = p$batch, var_x = p$var_x,
                          regime = "linear", level = level, threads = threads, progress = progress)
  df <- as.data.frame(sim)
  r <- df[df$quantity == def$quantity & df$layer == layer, ]
  if (is.na(r$z)) {
    abort(sprintf(paste0(
      "`n` must be at least %s networks for layer %d of this network, not %s: a network's ",
      "contribution to the variance varies too much for a calibrated interval with fewer ",
      "(see ?simulate_network, \"Intervals\")."),
      format(r$networks_needed, big.mark = ",", scientific = FALSE), layer, format(n)))
  }
  general <- if (!is.null(drop)) {
    mf <- sim$prediction$mean_field
    mf[[c(z = "var_z", grad_s = "var_grad_s", grad_w = "var_grad_w")[[def$quantity]]]][layer]
  }
  p$net <- net
  p$layer <- layer
  v <- new_verification(def, id, p, drop, r$prediction, r$estimate, r$mcse, n, level,
                        df = n - 1, general = general, path = NULL, log_scale = TRUE)
  v$simulation <- sim
  if (!is.null(drop)) {
    v$general_text <- paste("the mean-field prediction (exact as the width grows: at finite width",
                            "expect a gap of order 1/width, see ?predict_variance)")
  }
  v
}

new_verification <- function(def, id, p, drop, theory, estimate, mcse, n, level, df,
                             general = NULL, path = NULL, approximation = NULL,
                             log_scale = FALSE) {
  # per-layer variances of networks: the test and interval on the log scale,
  # as simulate_network() reports them
  ag <- if (log_scale && estimate > 0 && mcse > 0 && theory > 0) {
    r <- agreement(log(estimate), mcse / estimate, log(theory), df, level)
    r$lower <- exp(r$lower); r$upper <- exp(r$upper)
    r
  } else agreement(estimate, mcse, theory, df, level)
  z <- ag$z
  pv <- ag$p_value
  consistent <- ag$consistent
  gz <- if (!is.null(general) && !is.na(general)) agreement(estimate, mcse, general, df, level)$z else NA_real_
  verdict <- verdict_text(consistent, z, pv, level, theory, estimate)
  structure(list(
    id = id, statement = def$statement, latex = def$latex, assumptions = def$assumptions,
    used_in = def$used_in, params = p, dropped = drop,
    dropped_text = if (!is.null(drop)) def$drops[[drop]],
    estimand = def$estimand, n = n, level = level, df = df,
    theoretical = theory, estimate = estimate, mcse = mcse,
    lower = ag$lower, upper = ag$upper,
    z = z, p_value = pv, consistent = consistent, verdict = verdict,
    general = general, general_text = def$general_text, general_z = gz,
    approximation = approximation, path = path), class = "initvar_verification")
}

fmt_params <- function(p) {
  p <- p[!vapply(p, is.null, TRUE)]
  vals <- vapply(names(p), function(nm) {
    v <- p[[nm]]
    if (inherits(v, "initvar_mlp")) {
      acts <- unique(vapply(v$activation, format, ""))
      inits <- unique(vapply(v$init, function(s) s$label, ""))
      paste0("mlp(", paste(v$widths, collapse = "-"), ", ",
             if (length(acts) == 1) acts else "mixed activations", ", ",
             if (length(inits) == 1) inits else "mixed initializations", ")")
    }
    else if (is.character(v)) v else format(v, digits = 4)
  }, "")
  paste0(names(p), " = ", vals, collapse = ", ")
}

#' @export
print.initvar_verification <- function(x, digits = 4, ...) {
  if (identical(x$estimand, "formula")) return(print_formula_verification(x, digits))
  f <- function(v) format(signif(v, digits))
  cat("Identity `", x$id, "`: ", x$statement, "\n", sep = "")
  cat("  assumptions: ", x$assumptions, "\n", sep = "")
  if (!is.null(x$dropped)) cat("  DROPPED:     ", x$dropped, ": ", x$dropped_text, "\n", sep = "")
  cat("  used in:     ", x$used_in, "\n", sep = "")
  cat("  parameters:  ", fmt_params(x$params), "\n", sep = "")
  what <- switch(x$estimand, mean = "sample mean", var = "sample variance",
                 cov = "sample covariance", ratio = "ratio of sample variances",
                 network = "per-layer variance over networks")
  se <- switch(x$estimand, mean = "s / sqrt(n)", var = "sqrt((m4 - m2^2) / n)",
               cov = "sqrt((m22 - m11^2) / n)", ratio = "delta method",
               network = "network-level replicates, delta method")
  cat(sprintf("  simulation:  %s of %s %s; MCSE: %s\n", what, format(x$n, big.mark = ",", scientific = FALSE),
              if (x$estimand == "network") "networks" else "draws", se))
  cat("\n")
  lvl <- paste0(100 * x$level, "%")
  cat(sprintf("  theoretical  %s\n", f(x$theoretical)))
  cat(sprintf("  estimate     %s   (MCSE %s)\n", f(x$estimate), format(signif(x$mcse, 2))))
  cat(sprintf("  %s CI       [%s, %s]\n", lvl, f(x$lower), f(x$upper)))
  cat(sprintf("  z = %.2f, p = %.3g%s\n", x$z, x$p_value,
              if (is.finite(x$df)) sprintf(" (t, %g df)", x$df) else ""))
  if (!is.null(x$approximation)) {
    cat(sprintf("  delta method: f'(mean)^2 sd^2 = %s, %+.2f%% from the exact value%s\n",
                f(x$approximation), 100 * (x$approximation / x$theoretical - 1),
                if (abs(x$approximation / x$theoretical - 1) < 0.05) " (linear regime)" else
                  " (outside the linear regime)"))
  }
  cat("\n  ", x$verdict, "\n", sep = "")
  if (!is.null(x$general)) {
    cat(sprintf("  The general formula, %s, gives %s: %s (z = %.2f).\n", x$general_text, f(x$general),
                if (is.na(x$general_z)) "not available" else if (agreement(
                  x$estimate, x$mcse, x$general, x$df, x$level)$consistent)
                  "consistent with the estimate" else "not consistent with the estimate",
                x$general_z))
  }
  invisible(x)
}

#' @export
as.data.frame.initvar_verification <- function(x, row.names = NULL, optional = FALSE, ...) {
  data.frame(id = x$id, dropped = if (is.null(x$dropped)) NA_character_ else x$dropped,
             n = x$n, theoretical = x$theoretical, estimate = x$estimate,
             difference = x$estimate - x$theoretical, mcse = x$mcse,
             lower = x$lower, upper = x$upper, z = x$z, p_value = x$p_value,
             consistent = x$consistent,
             general = if (is.null(x$general)) NA_real_ else x$general,
             verdict = x$verdict, stringsAsFactors = FALSE)
}

#' @rdname verify
#' @param x An `initvar_verification`.
#' @param y Ignored.
#' @param main,ylim Title and vertical range of the plot.
#' @export
plot.initvar_verification <- function(x, y, main = NULL, ylim = NULL, ...) {
  if (is.null(main)) {
    main <- paste0("verify(\"", x$id, "\")", if (!is.null(x$dropped)) paste0(", dropped: ", x$dropped))
  }
  if (identical(x$estimand, "formula")) return(invisible(plot_formula_verification(x, main, ...)))
  if (is.null(x$path)) {
    return(invisible(plot(x$simulation, type = "variance", main = main, ...)))
  }
  pa <- x$path
  q <- stats::qt(1 - (1 - x$level) / 2, max(x$df, 1))
  lo <- pa$estimate - q * pa$mcse
  hi <- pa$estimate + q * pa$mcse
  if (is.null(ylim)) {
    ylim <- range(c(lo, hi, x$theoretical, x$general), na.rm = TRUE)
    ylim[2] <- ylim[2] + 0.3 * diff(ylim)   # room for the legend
  }
  graphics::plot(pa$n, pa$estimate, log = "x", ylim = ylim, pch = 19,
                 xlab = "number of draws n (log scale)", ylab = "estimate", main = main, ...)
  graphics::segments(pa$n, lo, pa$n, hi)
  graphics::abline(h = x$theoretical, col = "#c0392b", lwd = 2)
  leg <- c("estimate with interval", "identity's value")
  cols <- c("black", "#c0392b")
  ltys <- c(1, 1)
  if (!is.null(x$general) && !is.na(x$general)) {
    graphics::abline(h = x$general, col = "#1b6ca8", lwd = 2, lty = 2)
    leg <- c(leg, "general formula")
    cols <- c(cols, "#1b6ca8")
    ltys <- c(ltys, 2)
  }
  graphics::legend("top", legend = leg, col = cols, lty = ltys, pch = c(19, NA, NA)[seq_along(leg)],
                   bty = "n", cex = 0.8, horiz = TRUE)
  invisible(pa)
}

#' Check every identity of the registry
#'
#' Runs [verify()] for each identity in [identities()] with its default
#' parameters: the test a reader runs to see the derivation hold.
#'
#' @section Many tests at once:
#' Each row's verdict is a test at `level`: of 14 true identities, each has
#' a 1 in 100 chance of being flagged, so about 1 run in 7 flags one by
#' chance. The family-wise verdict controls that: Holm's step-down
#' adjustment of the p-values (`p_holm`), and the family is consistent when
#' no adjusted p-value is below `1 - level` (a true registry is then flagged
#' in at most 1 run in 100).
#'
#' @inheritParams verify
#' @param n Draws per identity (at least 10,000; networks for the Glorot
#'   identities: 200).
#' @param progress Show a progress bar (cli) over the identities.
#' @param ids `NULL` (every built-in and registered identity), a character
#'   vector of ids, or a list of identities from [new_identity()] (ids may be
#'   mixed in).
#' @return A data frame of class `initvar_verifications`, one row per
#'   identity, with the columns of `as.data.frame(verify(...))` and the
#'   Holm-adjusted `p_holm` and `consistent_holm`; attribute `level`.
#'   `print()` shows it with the family-wise verdict.
#' @examples
#' set.seed(1)
#' verify_all(n = 1e4)
#' @export
verify_all <- function(n = 1e5, level = 0.99, threads = initvar_threads(), ids = NULL,
                       progress = interactive()) {
  check_flag(progress, "progress")
  check_whole(n, "n", min = verify_min_draws, max = 1e13)
  check_number(level, min = 0, max = 1, min_open = TRUE, max_open = TRUE)
  if (is.null(ids)) ids <- c(as.list(names(identity_defs)), registered_identities())
  if (inherits(ids, "initvar_identity")) ids <- list(ids)
  if (is.character(ids)) ids <- as.list(ids)
  if (!is.list(ids) || !length(ids) ||
      !all(vapply(ids, function(x) inherits(x, "initvar_identity") ||
                    (is.character(x) && length(x) == 1), TRUE))) {
    abort_arg("ids", "NULL, a character vector of identity ids, or a list of identities from `new_identity()`", ids)
  }
  bar <- progress_bar(progress, length(ids), "verify_all")
  rows <- lapply(seq_along(ids), function(k) {
    id <- ids[[k]]
    nn <- if (is.character(id) && id %in% names(identity_defs) &&
              identity_defs[[id]]$estimand == "network") 200 else n
    row <- as.data.frame(verify(id, n = nn, level = level, threads = threads, progress = FALSE))
    progress_set(bar, k)
    row
  })
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  out$p_holm <- stats::p.adjust(out$p_value, "holm")
  out$consistent_holm <- out$p_holm > 1 - level
  attr(out, "level") <- level
  class(out) <- c("initvar_verifications", "data.frame")
  out
}

#' @export
print.initvar_verifications <- function(x, ...) {
  level <- attr(x, "level")
  if (is.null(level)) level <- verdict_level
  f <- function(v) formatC(v, digits = 4, format = "g")
  tab <- data.frame(
    id = x$id,
    n = format(x$n, big.mark = ",", scientific = FALSE, trim = TRUE),
    theory = f(x$theoretical), estimate = f(x$estimate),
    mcse = formatC(x$mcse, digits = 2, format = "g"),
    z = formatC(x$z, digits = 2, format = "f"),
    p = formatC(x$p_value, digits = 2, format = "g"),
    holm = formatC(x$p_holm, digits = 2, format = "g"),
    ok = ifelse(is.na(x$consistent), "-", ifelse(x$consistent, "yes", "NO")),
    stringsAsFactors = FALSE)
  cat(sprintf("<initvar verifications> %d identities, level %s each (holm: Holm-adjusted p)\n\n",
              nrow(x), format(level)))
  print(tab, row.names = FALSE, right = FALSE)
  fam <- all(x$consistent_holm, na.rm = TRUE)
  cat("\n", strwrap(sprintf(paste(
    "Family-wise (Holm, level %s): %s. %d of %d identities are consistent one by one; with",
    "%d tests, about %.1f would be flagged by chance if all were true."),
    format(level), if (fam) "consistent: no identity is flagged after adjusting for the number of tests"
    else sprintf("NOT consistent: %s flagged after adjustment", paste(x$id[!x$consistent_holm], collapse = ", ")),
    sum(x$consistent, na.rm = TRUE), nrow(x), nrow(x), nrow(x) * (1 - level))), sep = "\n")
  invisible(x)
}
