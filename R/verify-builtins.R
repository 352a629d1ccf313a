# The built-in identities as data: statements, assumptions, defaults, the
# assumptions that can be dropped, and each one's C kernel (src/identities.c)
# with its parameters, exact value and general formula. The registry
# `identity_defs` is made of these in R/verify-registry.R.

# (the distributions' C codes, dist_codes, are in R/codes.R)
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
    drops = character(0), estimand = "mean", c_kernel = "linear",
    cparams = function(p) c(dist_codes[[p$dist]], p$mean, p$sd, p$a, p$b),
    theory = function(p) p$a * p$mean + p$b),
  linear_var = list(
    statement = "Var(aX + b) = a^2 Var(X)",
    latex = "\\operatorname{Var}(aX + b) = a^2\\,\\operatorname{Var}(X)",
    assumptions = "none: any X with a finite variance, constants a and b",
    used_in = "the fan-in notes: scaling weights by sd scales the variance by sd^2",
    defaults = list(dist = "exponential", mean = 1, sd = 1, a = 2, b = 3),
    drops = character(0), estimand = "var", c_kernel = "linear",
    cparams = function(p) c(dist_codes[[p$dist]], p$mean, p$sd, p$a, p$b),
    theory = function(p) p$a^2 * p$sd^2),
  sum_independent = list(
    statement = "Var(X_1 + ... + X_m) = Var(X_1) + ... + Var(X_m) = m sd^2",
    latex = "\\operatorname{Var}\\Big(\\sum_{i=1}^m X_i\\Big) = \\sum_{i=1}^m \\operatorname{Var}(X_i)",
    assumptions = "X_i independent (uncorrelated suffices), each with variance sd^2",
    used_in = "Q&A step 7: the variance of a neuron's sum",
    defaults = list(m = 10, dist = "uniform", mean = 0, sd = 1, rho = 0),
    drops = c(independence = "the terms are equicorrelated, rho = 0.3"),
    drop = function(p, what) { if (p$rho == 0) p$rho <- 0.3; p },
    estimand = "var", c_kernel = "sum",
    cparams = function(p) c(p$m, dist_codes[[p$dist]], p$mean, p$sd, p$rho),
    theory = function(p) p$m * p$sd^2,
    general = function(p) p$m * p$sd^2 * (1 + (p$m - 1) * p$rho),
    general_text = "Var(sum X_i) = sum Var(X_i) + 2 sum_{i<j} Cov(X_i, X_j) = m sd^2 (1 + (m - 1) rho)"),
  sum_uncorrelated = list(
    statement = "Var(T_1 + ... + T_m) = sum Var(T_i) for T_i = W_i Z: uncorrelated but dependent terms",
    latex = "\\operatorname{Var}\\Big(\\sum_i W_i Z\\Big) = \\sum_i \\operatorname{Var}(W_i Z)",
    assumptions = "W_i independent with mean 0, independent of Z: the terms share Z (dependent) but are uncorrelated",
    used_in = "Q&A step 7 and the closing covariance proof: uncorrelated is what the sum needs",
    defaults = list(m = 10, mean_w = 0, sd_w = 1, mean_z = 1, sd_z = 1),
    drops = c(uncorrelated = "the W_i have mean 0.5, so the terms are correlated through Z"),
    drop = function(p, what) { if (p$mean_w == 0) p$mean_w <- 0.5; p },
    estimand = "var", c_kernel = "sum_uncorrelated",
    cparams = function(p) c(p$m, p$mean_w, p$sd_w, p$mean_z, p$sd_z),
    theory = function(p) p$m * ((p$sd_w^2 + p$mean_w^2) * (p$sd_z^2 + p$mean_z^2) - p$mean_w^2 * p$mean_z^2),
    general = function(p) {
      vt <- (p$sd_w^2 + p$mean_w^2) * (p$sd_z^2 + p$mean_z^2) - p$mean_w^2 * p$mean_z^2
      p$m * vt + p$m * (p$m - 1) * p$mean_w^2 * p$sd_z^2
    },
    general_text = "Var(sum T_i) = m Var(T) + m (m - 1) Cov(T_1, T_2), Cov(T_1, T_2) = E[W]^2 Var(Z)"),
  product_independent = list(
    statement = "Var(XY) = Var(X) Var(Y) + Var(X) E[Y]^2 + Var(Y) E[X]^2",
    latex = "\\operatorname{Var}(XY) = \\operatorname{Var}(X)\\operatorname{Var}(Y) + \\operatorname{Var}(X)\\mathbb{E}[Y]^2 + \\operatorname{Var}(Y)\\mathbb{E}[X]^2",
    assumptions = "X and Y independent",
    used_in = "Q&A steps 8-9: the variance of one term w_j x_j",
    defaults = list(mean_x = 1, sd_x = 2, mean_y = -0.5, sd_y = 1, rho = 0, dist = "normal"),
    drops = c(independence = "X and Y are bivariate normal with correlation rho = 0.8"),
    drop = function(p, what) { if (p$rho == 0) p$rho <- 0.8; p$dist <- "normal"; p },
    estimand = "var", c_kernel = "product",
    cparams = function(p) c(p$mean_x, p$sd_x, p$mean_y, p$sd_y, p$rho, dist_codes[[p$dist]]),
    theory = function(p) p$sd_x^2 * p$sd_y^2 + p$sd_x^2 * p$mean_y^2 + p$sd_y^2 * p$mean_x^2,
    general = function(p) {
      p$mean_x^2 * p$sd_y^2 + p$mean_y^2 * p$sd_x^2 + p$sd_x^2 * p$sd_y^2 * (1 + p$rho^2) +
        2 * p$rho * p$sd_x * p$sd_y * p$mean_x * p$mean_y
    },
    general_text = "bivariate normal: Var(XY) = mx^2 sy^2 + my^2 sx^2 + sx^2 sy^2 (1 + rho^2) + 2 rho sx sy mx my"),
  product_zero_mean = list(
    statement = "Var(XY) = Var(X) Var(Y)",
    latex = "\\operatorname{Var}(XY) = \\operatorname{Var}(X)\\,\\operatorname{Var}(Y)",
    assumptions = "X and Y independent with mean 0",
    used_in = "Q&A step 8 and the fan-in notes: zero-mean weights and inputs",
    defaults = list(mean_x = 0, sd_x = 2, mean_y = 0, sd_y = 1.5, rho = 0, dist = "uniform"),
    drops = c(zero_mean = "E[X] = 1 and E[Y] = -0.5"),
    drop = function(p, what) {
      if (p$mean_x == 0 && p$mean_y == 0) { p$mean_x <- 1; p$mean_y <- -0.5 }
      p
    },
    estimand = "var", c_kernel = "product",
    cparams = function(p) c(p$mean_x, p$sd_x, p$mean_y, p$sd_y, p$rho, dist_codes[[p$dist]]),
    theory = function(p) p$sd_x^2 * p$sd_y^2,
    general = function(p) p$sd_x^2 * p$sd_y^2 + p$sd_x^2 * p$mean_y^2 + p$sd_y^2 * p$mean_x^2,
    general_text = "independent X, Y: Var(XY) = Var(X) Var(Y) + Var(X) E[Y]^2 + Var(Y) E[X]^2"),
  neuron = list(
    statement = "Var(w_1 x_1 + ... + w_n x_n) = n Var(W) Var(X)",
    latex = "\\operatorname{Var}\\Big(\\sum_{j=1}^n w_j x_j\\Big) = n\\,\\operatorname{Var}(W)\\,\\operatorname{Var}(X)",
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
    estimand = "var", c_kernel = "neuron",
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
    latex = "\\frac{\\operatorname{Var}(s)}{\\operatorname{Var}(x)} = n\\,\\operatorname{Var}(W) = 1 \\text{ for } \\mathrm{sd}(W) = 1/\\sqrt{n}",
    assumptions = "as for `neuron`; the ratio of two variances estimated from the same draws",
    used_in = "the fan-in notes: why sd = 1/sqrt(fan_in) keeps unit variance",
    defaults = list(fan_in = 256, weights = "normal", mean_w = 0, sd_w = NULL, inputs = "uniform",
                    mean_x = 0, sd_x = 2, rho_x = 0, beta = 0),
    drops = c(zero_mean = "E[W] = 0.05 and E[X] = 0.5"),
    drop = function(p, what) { p$mean_w <- 0.05; p$mean_x <- 0.5; p },
    estimand = "ratio", c_kernel = "neuron",
    prepare = function(p) { if (is.null(p$sd_w)) p$sd_w <- 1 / sqrt(p$fan_in); p },
    cparams = function(p) c(p$fan_in, dist_codes[[p$weights]], p$mean_w, p$sd_w, dist_codes[[p$inputs]],
                            p$mean_x, p$sd_x, p$rho_x, p$beta),
    theory = function(p) p$fan_in * p$sd_w^2,
    general = function(p) p$fan_in * (p$sd_w^2 * p$sd_x^2 + p$sd_w^2 * p$mean_x^2 +
                                   p$sd_x^2 * p$mean_w^2) / p$sd_x^2,
    general_text = "Var(s) / Var(x) = n (Var(W) Var(X) + Var(W) E[X]^2 + Var(X) E[W]^2) / Var(X)"),
  covariance_zero = list(
    statement = "Cov(w_k . z, w_j . z) = 0 for k != j, even when the features of z are correlated",
    latex = "\\operatorname{Cov}(w_k^\\top z, w_j^\\top z) = \\mathbb{E}[w_k]^\\top \\mathbb{E}[z\\, w_j^\\top z] = 0",
    assumptions = "w_k and w_j independent of each other and of z, with mean 0",
    used_in = "Q&A, closing proof: why step 7 holds for dependent features",
    defaults = list(fan_in = 50, mean_w = 0, sd_w = 1, sd_z = 1, rho_z = 0.5),
    drops = c(zero_mean = "the weights have mean 0.2"),
    drop = function(p, what) { if (p$mean_w == 0) p$mean_w <- 0.2; p },
    estimand = "cov", c_kernel = "covariance",
    cparams = function(p) c(p$fan_in, p$mean_w, p$sd_w, p$sd_z, p$rho_z),
    theory = function(p) 0,
    general = function(p) p$mean_w^2 * p$sd_z^2 * (p$fan_in + p$fan_in * (p$fan_in - 1) * p$rho_z),
    general_text = "Cov(w_k . z, w_j . z) = E[w]^2 1' Cov(z) 1 = E[w]^2 sd_z^2 (n + n (n - 1) rho)"),
  delta_method = list(
    statement = "Var(f(X)) ~ f'(E[X])^2 Var(X) (delta method); checked against the exact Var(f(X)) by quadrature",
    latex = "\\operatorname{Var}(f(X)) \\approx f'(\\mathbb{E}X)^2\\,\\operatorname{Var}(X)",
    assumptions = "X ~ N(mean, sd^2) with sd small enough that f is nearly linear (the linear regime)",
    used_in = "Q&A step 2: Var(f(s)) ~ f'(0)^2 Var(s) = Var(s)",
    defaults = list(activation = "tanh", mean = 0, sd = 0.1),
    drops = character(0), estimand = "var", c_kernel = "delta",
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
    latex = "\\operatorname{Var}\\big((W^i W^{i+1})_{ac}\\big) = n\\,\\operatorname{Var}(W^i)\\,\\operatorname{Var}(W^{i+1})",
    assumptions = "the weights of consecutive layers are independent, with mean 0",
    used_in = "Q&A section 2.1: Var(W^i W^(i+1)) = Var(W^i) Var(W^(i+1))",
    defaults = list(fan_in = 100, sd1 = 0.1, sd2 = 0.2, dist = "normal", tied = FALSE),
    drops = c(independence = "tied weights, W^(i+1) = t(W^i): a diagonal entry sums n squares"),
    drop = function(p, what) { p$tied <- TRUE; p$sd2 <- p$sd1; p },
    estimand = "var", c_kernel = "layers",
    cparams = function(p) c(p$fan_in, p$sd1, p$sd2, as.numeric(p$tied), dist_codes[[p$dist]]),
    theory = function(p) p$fan_in * p$sd1^2 * p$sd2^2,
    general = function(p) p$fan_in * (dist_kurtosis[[p$dist]] - 1) * p$sd1^4,
    general_text = "tied: Var(sum_k w_k^2) = n Var(w^2) = n (E[w^4] - sd^4)"),
  glorot_forward = glorot_identity(
    statement = "Var(z^i) = Var(x) prod_{i'=0}^{i-1} n_i' Var(W^i') (Glorot & Bengio eq. 5)",
    latex = "\\operatorname{Var}(z^i) = \\operatorname{Var}(x) \\prod_{i'=0}^{i-1} n_{i'} \\operatorname{Var}(W^{i'})",
    assumptions = "linear regime (f'(0) = 1, f linear), independent zero-mean weights, zero biases, iid inputs",
    used_in = "Glorot & Bengio eq. 5; the Q&A's formula",
    quantity = "z"),
  glorot_backward = glorot_identity(
    statement = "Var(dC/ds^i) = Var(dC/ds^(d-1)) prod_{i'=i+1}^{d-1} n_(i'+1) Var(W^i') (eq. 6, indices corrected)",
    latex = "\\operatorname{Var}\\Big(\\frac{\\partial C}{\\partial s^i}\\Big) = \\operatorname{Var}\\Big(\\frac{\\partial C}{\\partial s^{d-1}}\\Big) \\prod_{i'=i+1}^{d-1} n_{i'+1} \\operatorname{Var}(W^{i'})",
    assumptions = "linear regime, independent zero-mean weights, output gradient independent of the weights",
    used_in = "Glorot & Bengio eq. 6 (their product runs one layer too far)",
    quantity = "grad_s"),
  glorot_weight_gradient = glorot_identity(
    statement = "Var(dC/dW^i) = Var(z^i) Var(dC/ds^i) (Glorot & Bengio eq. 7)",
    latex = "\\operatorname{Var}\\Big(\\frac{\\partial C}{\\partial W^i}\\Big) = \\operatorname{Var}(z^i)\\,\\operatorname{Var}\\Big(\\frac{\\partial C}{\\partial s^i}\\Big)",
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
