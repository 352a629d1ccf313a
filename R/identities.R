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

# Each identity: statement, assumptions, where it is used, default
# parameters, the assumptions that can be dropped (and how), the estimand
# ("mean", "var", "cov", "ratio" of Var(u) / Var(v), or "network"), the
# theoretical value and the general formula that holds without the dropped
# assumption.
identity_defs <- list(
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
      f <- activation(p$activation)$f
      m1 <- normal_expectation(f, p$sd, p$mean)
      normal_expectation(function(x) (f(x) - m1)^2, p$sd, p$mean)
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

#' The registry of identities
#'
#' Every variance and covariance identity the Glorot derivation rests on, as
#' checked by [verify()]: the linear-transformation rules of the fan-in
#' notes, the variance of sums and products, a neuron's pre-activation, the
#' covariance proof closing the Q&A, the delta method of its step 2, the
#' independence of layers, and Glorot and Bengio's eqs. 5, 6 and 7.
#'
#' @return A data frame with one row per identity: `id`, `statement`,
#'   `latex`, `assumptions`, `used_in` (where in the derivation it is used),
#'   `estimand` (what is estimated: a mean, a variance, a covariance, a ratio
#'   of variances, or a per-layer variance of simulated networks) and
#'   `drops` (the assumptions [verify()] can drop to show a counterexample).
#' @examples
#' ids <- identities()
#' ids[, c("id", "statement")]
#' @export
identities <- function() {
  data.frame(
    id = names(identity_defs),
    statement = vapply(identity_defs, `[[`, "", "statement"),
    latex = vapply(identity_defs, `[[`, "", "latex"),
    assumptions = vapply(identity_defs, `[[`, "", "assumptions"),
    used_in = vapply(identity_defs, `[[`, "", "used_in"),
    estimand = vapply(identity_defs, `[[`, "", "estimand"),
    drops = vapply(identity_defs, function(d) paste(names(d$drops), collapse = ", "), ""),
    row.names = NULL, stringsAsFactors = FALSE)
}

# Estimate and MCSE of an estimand from a packed bivariate accumulator.
# mean: sd / sqrt(n); var: sqrt((m4 - m2^2) / n); cov: sqrt((m22 - m11^2) / n);
# ratio Var(u) / Var(v): the delta method.
biv_estimate <- function(a, estimand) {
  n <- a[1]
  M <- matrix(a[4:28], 5, byrow = TRUE)   # M[p + 1, q + 1]
  m <- function(p, q) M[p + 1, q + 1] / n
  switch(estimand,
    mean = c(estimate = a[2], mcse = sqrt(m(2, 0) / n)),
    var = c(estimate = M[3, 1] / (n - 1), mcse = sqrt(max(m(4, 0) - m(2, 0)^2, 0) / n)),
    cov = c(estimate = M[2, 2] / (n - 1), mcse = sqrt(max(m(2, 2) - m(1, 1)^2, 0) / n)),
    ratio = {
      r <- m(2, 0) / m(0, 2)
      v <- (m(4, 0) - m(2, 0)^2) / m(0, 2)^2 + m(2, 0)^2 * (m(0, 4) - m(0, 2)^2) / m(0, 2)^4 -
        2 * m(2, 0) * (m(2, 2) - m(2, 0) * m(0, 2)) / m(0, 2)^3
      c(estimate = r, mcse = sqrt(max(v, 0) / n))
    })
}

identity_params <- function(def, args, id) {
  p <- def$defaults
  unknown <- setdiff(names(args), names(p))
  if (length(args) && (is.null(names(args)) || any(names(args) == ""))) {
    stop(simpleError("arguments in `...` must be named.", call = sys.call(-1)))
  }
  if (length(unknown)) {
    stop(simpleError(sprintf("`%s` is not a parameter of identity \"%s\"; its parameters are %s.",
                             unknown[1], id, paste0("`", names(p), "`", collapse = ", ")),
                     call = sys.call(-1)))
  }
  p[names(args)] <- args
  for (nm in names(p)) {
    v <- p[[nm]]
    if (nm %in% c("dist", "weights", "inputs")) {
      p[[nm]] <- check_choice(v, names(dist_codes), nm)
    } else if (nm == "activation") {
      if (!(is.character(v) && length(v) == 1 && v %in% activation_names()) ||
          canonical_activation(v) %in% c("r_function")) {
        abort_arg("activation", "the name of a built-in activation", v)
      }
    } else if (nm == "tied") {
      if (!is.logical(v) || length(v) != 1 || is.na(v)) abort_arg("tied", "TRUE or FALSE", v)
    } else if (nm == "net") {
      if (!is.null(v)) check_mlp(v, "net")
    } else if (nm == "layer") {
      if (!is.null(v)) check_whole(v, "layer")
    } else if (nm %in% c("m", "fan_in", "batch")) {
      if (!is.null(v)) check_whole(v, nm, max = 1e7)
    } else if (nm %in% c("rho", "rho_x", "rho_z")) {
      check_number(v, nm, min = if (nm == "rho") -1 else 0, max = 1)
    } else if (grepl("^sd|^var", nm)) {
      if (!is.null(v)) check_number(v, nm, min = 0)
    } else {
      check_number(v, nm)
    }
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
#' @section Counterexamples:
#' `drop` names an assumption to drop (see the `drops` column of
#' [identities()]): the simulation then breaks it, the identity's value is
#' compared as before, and the general formula that still holds is shown
#' beside it with its own z-score. Dropping `independent_inputs` from
#' `neuron` shows an identity that survives: the covariance proof at work.
#'
#' @param id An identity, from `identities()$id`.
#' @param n Number of draws (for the Glorot identities: of networks).
#'   Defaults to 1e6 (200 networks).
#' @param ... Parameters of the identity, overriding its defaults (shown by
#'   `print()`): distributions `dist`, `weights`, `inputs` (`"normal"`,
#'   `"uniform"`, `"exponential"`), means, standard deviations, correlations
#'   `rho`, sizes `m` (terms of a sum) and `fan_in` (terms of a neuron); for
#'   `delta_method` an `activation` name; for
#'   the Glorot identities a network `net` from [mlp()], a `layer` and the
#'   `batch` of inputs per network.
#' @param level Confidence level of the interval and the test.
#' @param drop `NULL`, or an assumption to drop.
#' @param threads Number of threads; see [initvar_threads()].
#' @param progress Show a progress bar (cli) for the Glorot identities
#'   (simulated networks).
#' @section Interrupts:
#' Ctrl-C stops a verification within about a second. The draws done so
#' far are kept: the interrupt is re-signalled as a condition of class
#' `initvar_interrupt` whose `partial` field is the verification for those
#' draws (`n` set to their number), also kept in [last_partial()].
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
                   threads = initvar_threads(), progress = interactive()) {
  id <- check_choice(id, names(identity_defs), "id")
  def <- identity_defs[[id]]
  network <- def$estimand == "network"
  if (is.null(n)) n <- if (network) 200 else 1e6
  check_whole(n, "n", min = 2, max = 1e13)
  check_number(level, min = 0, max = 1, min_open = TRUE, max_open = TRUE)
  threads <- check_whole(threads, "threads", max = 1024)
  check_flag(progress, "progress")
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

verify_draws <- function(def, id, n, p, level, drop, threads) {
  if (!is.null(drop)) p <- def$drop(p, drop)
  theory <- def$theory(p)
  cp <- def$cparams(p)
  cp <- c(cp, numeric(10 - length(cp)))
  path_acc <- .Call(C_identity, def$code, as.double(cp), n, threads)
  # interrupted: keep the draws done (chunks merge exactly), re-signal below
  interrupted <- isTRUE(attr(path_acc, "interrupted"))
  if (interrupted) n <- path_acc[1, ncol(path_acc)]
  path <- t(apply(path_acc, 2, biv_estimate, estimand = def$estimand))
  path <- data.frame(n = path_acc[1, ], estimate = path[, "estimate"], mcse = path[, "mcse"])
  final <- path[nrow(path), ]
  general <- if (!is.null(drop) && !is.null(def$general)) def$general(p) else NULL
  out <- new_verification(def, id, p, drop, theory, final$estimate, final$mcse, n, level,
                          df = Inf, general = general, path = path,
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
  general <- if (!is.null(drop)) {
    mf <- sim$prediction$mean_field
    mf[[c(z = "var_z", grad_s = "var_grad_s", grad_w = "var_grad_w")[[def$quantity]]]][layer]
  }
  p$net <- net
  p$layer <- layer
  v <- new_verification(def, id, p, drop, r$prediction, r$estimate, r$mcse, n, level,
                        df = n - 1, general = general, path = NULL)
  v$simulation <- sim
  if (!is.null(drop)) {
    v$general_text <- paste("the mean-field prediction (exact as the width grows: at finite width",
                            "expect a gap of order 1/width, see ?predict_variance)")
  }
  v
}

new_verification <- function(def, id, p, drop, theory, estimate, mcse, n, level, df,
                             general = NULL, path = NULL, approximation = NULL) {
  q <- if (is.finite(df)) stats::qt(1 - (1 - level) / 2, df) else stats::qnorm(1 - (1 - level) / 2)
  if (mcse > 0) {
    z <- (estimate - theory) / mcse
    pv <- if (is.finite(df)) 2 * stats::pt(-abs(z), df) else 2 * stats::pnorm(-abs(z))
  } else {
    z <- if (isTRUE(all.equal(estimate, theory))) 0 else sign(estimate - theory) * Inf
    pv <- if (z == 0) 1 else 0
  }
  consistent <- pv > 1 - level
  gz <- if (!is.null(general) && !is.na(general) && mcse > 0) (estimate - general) / mcse else NA_real_
  diff <- estimate - theory
  rel <- if (theory != 0) diff / abs(theory) else NA_real_
  verdict <- if (consistent) {
    sprintf("consistent with the identity at level %s (|z| = %.2f, p = %.3g)",
            format(level), abs(z), pv)
  } else {
    sprintf("the identity fails: the estimate differs from %s by %s%s (z = %.1f, p = %.2g)",
            format(signif(theory, 4)), format(signif(diff, 3)),
            if (is.finite(rel)) sprintf(" (%+.1f%%)", 100 * rel) else "", z, pv)
  }
  structure(list(
    id = id, statement = def$statement, latex = def$latex, assumptions = def$assumptions,
    used_in = def$used_in, params = p, dropped = drop,
    dropped_text = if (!is.null(drop)) def$drops[[drop]],
    estimand = def$estimand, n = n, level = level, df = df,
    theoretical = theory, estimate = estimate, mcse = mcse,
    lower = estimate - q * mcse, upper = estimate + q * mcse,
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
                if (is.na(x$general_z)) "not available" else if (abs(x$general_z) <
                  stats::qnorm(1 - (1 - x$level) / 2)) "consistent with the estimate" else
                    "not consistent with the estimate", x$general_z))
  }
  invisible(x)
}

#' @export
as.data.frame.initvar_verification <- function(x, row.names = NULL, optional = FALSE, ...) {
  data.frame(id = x$id, dropped = if (is.null(x$dropped)) NA_character_ else x$dropped,
             n = x$n, theoretical = x$theoretical, estimate = x$estimate, mcse = x$mcse,
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
  if (is.null(x$path)) {
    return(invisible(plot(x$simulation, type = "variance", main = main, ...)))
  }
  pa <- x$path
  q <- stats::qnorm(1 - (1 - x$level) / 2)
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
#' @inheritParams verify
#' @param n Draws per identity (networks for the Glorot identities: 200).
#' @param progress Show a progress bar (cli) over the identities.
#' @return A data frame, one row per identity, as from
#'   `as.data.frame(verify(...))`.
#' @examples
#' set.seed(1)
#' verify_all(n = 1e4)
#' @export
verify_all <- function(n = 1e5, level = 0.99, threads = initvar_threads(),
                       progress = interactive()) {
  check_whole(n, "n", min = 2, max = 1e13)
  bar <- progress_bar(progress, length(identity_defs), "verify_all")
  rows <- lapply(seq_along(identity_defs), function(k) {
    id <- names(identity_defs)[k]
    nn <- if (identity_defs[[id]]$estimand == "network") 200 else n
    row <- as.data.frame(verify(id, n = nn, level = level, threads = threads, progress = FALSE))
    progress_set(bar, k)
    row
  })
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  out
}
