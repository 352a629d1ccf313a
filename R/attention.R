# Attention logits at initialization: exact moments, simulation in C.

#' Attention logits at initialization: variance, kurtosis, softmax entropy
#'
#' The logit of scaled dot-product attention between tokens \eqn{x} and
#' \eqn{y} is \eqn{\ell = s\, q \cdot k}, with \eqn{q = W_Q^\top x} and
#' \eqn{k = W_K^\top y}, \eqn{W_Q, W_K} \eqn{d \times d_k} matrices drawn
#' from `init` (fans \eqn{d} = `d_model` and \eqn{d_k}), and token entries
#' drawn from `input`. `attention_logits()` predicts the variance and the
#' fourth moment of the logits exactly, and simulates them in C with Monte
#' Carlo standard errors, together with the softmax entropy and the largest
#' attention weight of a row of `seq_len` logits, for each `d_k` and scale.
#'
#' @section Exact moments:
#' Let the weights have variance \eqn{\sigma^2} and fourth moment
#' \eqn{\mu_w = \kappa_w \sigma^4}, the token entries variance \eqn{v} and
#' fourth moment \eqn{\mu_x = \kappa_x v^2}, all of mean 0 and independent.
#' Then \eqn{q_a = \sum_m W_{ma} x_m} has
#' \deqn{C = E[q_a^2] = d \sigma^2 v,}
#' \deqn{A = E[q_a^4] = d \mu_w \mu_x + 3 d (d - 1) \sigma^4 v^2,}
#' \deqn{B = E[q_a^2 q_b^2] = \sigma^4 (d \mu_x + d (d - 1) v^2) \quad (a \ne b),}
#' and every moment in which some coordinate appears an odd number of times
#' vanishes (the columns of \eqn{W} are independent with mean 0). For two
#' different tokens \eqn{q} and \eqn{k} are independent, so
#' \deqn{Var(\ell) = s^2 d_k C^2 = s^2 d_k (d \sigma^2 v)^2,}
#' \deqn{E[\ell^4] = s^4 (d_k A^2 + 3 d_k (d_k - 1) B^2),}
#' and the kurtosis \eqn{E[\ell^4] / Var(\ell)^2} tends to
#' \eqn{3 + 6 / d_k} as \eqn{d \to \infty} (a sum of \eqn{d_k} products of
#' independent normals, each of kurtosis 9), with the finite-\eqn{d}
#' corrections of \eqn{A} and \eqn{B} that depend on \eqn{\kappa_w} and
#' \eqn{\kappa_x}. The variance does not depend on the kurtosis of either.
#' With fan-in scaling (\eqn{\sigma^2 = 1/d}, LeCun) and \eqn{s = 1 /
#' \sqrt{d_k}} the variance is \eqn{v^2} whatever \eqn{d_k}: that is why
#' attention divides by \eqn{\sqrt{d_k}}; muP's \eqn{s = 1 / d_k} gives
#' \eqn{v^2 / d_k}, logits that vanish as the head widens, so that attention
#' starts uniform. The logit of a token with itself (the diagonal, `i = j`)
#' shares \eqn{x}: its variance is \eqn{s^2 d_k B = Var(\ell) (1 +
#' (\kappa_x - 1) / d)}, exact, larger for heavy-tailed inputs.
#'
#' @section Softmax entropy:
#' The logits of a row are uncorrelated with mean 0 and, for symmetric
#' weight distributions, the row's law is symmetric under \eqn{\ell \to
#' -\ell}. Expanding the entropy \eqn{H = \log \sum_j e^{\ell_j} - \sum_j p_j
#' \ell_j} about equal logits, \eqn{H = \log T - \frac12 \overline{(\ell -
#' \bar\ell)^2} + O(\ell^4)}, whose expectation is
#' \deqn{H \approx \log T - \frac{T - 1}{2 T^2} ((T - 1) Var(\ell) + Var(\ell_{ii})),}
#' the `predicted` entropy: exact as the logit scale goes to 0 (the error is
#' of order \eqn{Var(\ell)^2}), an approximation otherwise (no verdict is
#' given for it). Saturation (the largest attention weight of a row, 1/T for
#' uniform attention, 1 for one-hot) is simulated only.
#'
#' @section Simulation:
#' Each of `networks` replicates draws \eqn{W_Q}, \eqn{W_K} and `inputs`
#' sequences of `seq_len` tokens, from its own random stream (so the result
#' does not depend on `threads`), and reduces its logits to per-network
#' means; these are independent across networks, so the MCSE of each
#' estimate is the standard deviation of the per-network values over
#' \eqn{\sqrt{networks}} (the kurtosis by the delta method), and verdicts
#' are `agreement()`'s t test at level 0.99 with `networks - 1` degrees of
#' freedom. A random logit of a row, off the diagonal, is the estimand of
#' `var_logit` and `m4_logit`. At small `d_model` and `d_k` the per-network
#' values are heavy-tailed (a network's logit scale is a product of random
#' weight norms), and a t test is calibrated only with enough networks: the
#' error of a two-sided test's level is of order (skewness^2 + excess
#' kurtosis) / networks, so a verdict is given only where that ratio,
#' estimated from the per-network values, is at most 0.05; otherwise
#' `consistent` is `NA` and `networks_needed` says about how many networks
#' would give one (fourth moments need many more than variances).
#'
#' @param d_model Model width \eqn{d}: the fan-in of \eqn{W_Q} and \eqn{W_K}.
#' @param d_k Head width(s) \eqn{d_k}: one simulation per value.
#' @param init An elementwise scheme with mean 0 for \eqn{W_Q} and
#'   \eqn{W_K} (uniform, normal, truncated normal or variance scaling),
#'   resolved with `fan_in = d_model`, `fan_out = d_k`.
#' @param scale The logit scale \eqn{s}: a number, or one per `d_k` (default
#'   \eqn{1/\sqrt{d_k}}), or rules by name: `"standard"` (\eqn{1/\sqrt{d_k}},
#'   Vaswani et al. 2017) and `"mup"` (\eqn{1/d_k}, Yang et al. 2021); with
#'   names, every `d_k` is run with every rule. At most 1e100, and at most
#'   the scale at which the logits' predicted fourth moment reaches 1e140
#'   (beyond, the simulation's sums would overflow; the error gives the
#'   limit for the weights and inputs).
#' @param seq_len Tokens per sequence \eqn{T}, at least 2.
#' @param inputs Sequences per network.
#' @param input The distribution of the token entries: a scheme that does
#'   not depend on the layer (`init_normal()`, `init_uniform(-1, 1)`,
#'   `init_truncated_normal()`), with mean 0.
#' @param networks Number of independent networks (weight draws), at least
#'   10.
#' @param threads Number of threads to use (OpenMP); see [initvar_threads()].
#' @return An `initvar_attention` object: `$table`, a data frame with one
#'   row per `d_k`, scale and quantity (`var_logit`, `var_logit_diag`,
#'   `m4_logit`, `kurtosis`, `entropy`, `max_prob`, `mean_logit`): the
#'   `predicted` value (`NA` where there is none), `exact` (whether it is
#'   exact), the simulated `estimate`, its `mcse`, `z`, `p_value`,
#'   `consistent` (exact predictions with enough networks only), a 95%
#'   interval `lower`, `upper`, `networks` and `networks_needed` (for a
#'   calibrated verdict; see Simulation); and the settings. It has `print()`, `as.data.frame()` and
#'   `plot()` methods.
#' @references
#' Vaswani, A. et al. (2017). Attention is all you need. NeurIPS.
#'
#' Yang, G. et al. (2021). Tuning large neural networks via zero-shot
#' hyperparameter transfer (muP). NeurIPS.
#' @examples
#' set.seed(1)
#' a <- attention_logits(64, c(4, 16, 64), init_lecun(), scale = c("standard", "mup"),
#'                       seq_len = 8, inputs = 2, networks = 100, threads = 1)
#' a
#' plot(a, "entropy")
#' @export
attention_logits <- function(d_model, d_k, init = init_lecun(), scale = 1 / sqrt(d_k),
                             seq_len = 16, inputs = 4, input = init_normal(),
                             networks = 500, threads = initvar_threads()) {
  d_model <- check_whole(d_model, "d_model", max = 1e5)
  if (!is.numeric(d_k) || length(d_k) < 1) abort_arg("d_k", "a vector of positive whole numbers", d_k)
  for (i in seq_along(d_k)) {
    check_whole(d_k[i], if (length(d_k) > 1) sprintf("d_k[%d]", i) else "d_k", max = 1e5)
  }
  d_k <- as.double(d_k)
  check_scheme(init, "init")
  seq_len <- check_whole(seq_len, "seq_len", min = 2, max = 1e5)
  inputs <- check_whole(inputs, "inputs", max = 1e6)
  check_scheme(input, "input")
  networks <- check_whole(networks, "networks", min = 10, max = 1e7)
  threads <- check_whole(threads, "threads", max = 1024)
  grid <- attention_grid(d_k, scale)
  xm <- input_moments(input)
  if (d_model * max(d_k) > 1e8 || seq_len * d_model > 1e8) {
    abort("`d_model` * `d_k` and `seq_len` * `d_model` must be at most 1e8 (the memory of one network).")
  }
  rows <- list()
  for (g in seq_len(nrow(grid))) {
    dk <- grid$d_k[g]
    wm <- weight_moments(init, d_model, dk)
    pred <- attention_prediction(d_model, dk, grid$scale[g], seq_len, wm, xm)
    check_logit_range(pred, grid$scale[g], d_model, dk, seq_len, wm, xm, length(d_k) > 1 || is.character(scale))
    S <- .Call(C_attention, c(d_model, dk, seq_len, networks, inputs), grid$scale[g],
               wm$code, wm$params, xm$code, xm$params, threads)
    if (isTRUE(attr(S, "interrupted"))) {
      partial <- if (nrow(S) >= 10) attention_result(rows, list(
        attention_table(d_model, dk, grid$rule[g], grid$scale[g], seq_len, pred, S)),
        d_model, init, input, seq_len, inputs, nrow(S)) else NULL
      raise_interrupt(partial)
    }
    rows[[g]] <- attention_table(d_model, dk, grid$rule[g], grid$scale[g], seq_len, pred, S)
  }
  attention_result(rows, NULL, d_model, init, input, seq_len, inputs, networks)
}

attention_result <- function(rows, extra, d_model, init, input, seq_len, inputs, networks) {
  table <- do.call(rbind, c(rows, extra))
  rownames(table) <- NULL
  structure(list(table = table, d_model = d_model, init = init, input = input,
                 seq_len = seq_len, inputs = inputs, networks = networks),
            class = "initvar_attention")
}

# d_k x scale grid: numbers paired with d_k, or named rules crossed with it.
attention_grid <- function(d_k, scale) {
  if (is.character(scale)) {
    if (length(scale) < 1 || anyNA(scale)) abort_arg("scale", "\"standard\" or \"mup\", or numbers", scale)
    rules <- vapply(seq_along(scale), function(i)
      check_choice(scale[i], c("standard", "mup"),
                   if (length(scale) > 1) sprintf("scale[%d]", i) else "scale"), "")
    g <- expand.grid(d_k = d_k, rule = unique(rules), stringsAsFactors = FALSE)
    g$scale <- ifelse(g$rule == "standard", 1 / sqrt(g$d_k), 1 / g$d_k)
    return(g)
  }
  if (!is.numeric(scale) || !(length(scale) %in% c(1, length(d_k)))) {
    abort_arg("scale", sprintf("a number, %d numbers (one per `d_k`), or \"standard\" / \"mup\"",
                               length(d_k)), scale)
  }
  for (i in seq_along(scale)) {
    check_number(scale[i], if (length(scale) > 1) sprintf("scale[%d]", i) else "scale",
                 min = 0, min_open = TRUE, max = 1e100)
  }
  scale <- rep_len(as.double(scale), length(d_k))
  rule <- ifelse(abs(scale - 1 / sqrt(d_k)) <= 1e-15 * scale, "standard",
                 ifelse(abs(scale - 1 / d_k) <= 1e-15 * scale, "mup", "custom"))
  data.frame(d_k = d_k, rule = rule, scale = scale, stringsAsFactors = FALSE)
}

# Variance and fourth central moment of a concrete elementwise distribution,
# with the C family code and parameters (family_c_params(), the one encoder).
family_moments <- function(r) {
  m <- switch(r$family,
    uniform = list(var = (r$b - r$a)^2 / 12, m4 = (r$b - r$a)^4 / 80, mean = (r$a + r$b) / 2),
    normal = list(var = r$sd^2, m4 = 3 * r$sd^4, mean = r$mean),
    truncated_normal = {
      m <- tn_central(r$lower, r$upper)
      list(var = r$sd^2 * m[["var"]], m4 = r$sd^4 * m[["m4"]], mean = r$mean + r$sd * m[["mean"]])
    },
    NULL)
  if (is.null(m)) return(NULL)
  c(m, family_c_params(r))
}

# Mean, variance and fourth central moment of N(0, 1) truncated to [a, b]
# (a + b = 0 here: mean-zero schemes), by 64-point Gauss-Legendre on the
# bounds clipped to [-12, 12] (the mass beyond is below 1e-32).
tn_central <- function(a, b) {
  lo <- max(a, -12); hi <- min(b, 12)
  q <- gauss_legendre_half(64L)
  x <- (lo + hi) / 2 + (hi - lo) * q$x
  w <- q$w * exp(-x^2 / 2)
  w <- w / sum(w)
  mu <- sum(w * x)
  c(mean = mu, var = sum(w * (x - mu)^2), m4 = sum(w * (x - mu)^4))
}

weight_moments <- function(init, d_model, d_k) {
  if (!(init$family %in% c("uniform", "normal", "truncated_normal", "variance_scaling"))) {
    abort_arg("init", "an elementwise scheme (uniform, normal, truncated normal or variance scaling)",
              init$label)
  }
  m <- family_moments(resolve_scheme(init, d_model, d_k))
  if (abs(m$mean) > 1e-12 * sqrt(m$var)) {
    abort_arg("init", "a scheme whose weights have mean 0", init$label)
  }
  m
}

input_moments <- function(input) {
  if (!(input$family %in% c("uniform", "normal", "truncated_normal"))) {
    abort_arg("input", "a distribution that does not depend on the layer, such as `init_normal()`",
              input$label)
  }
  m <- family_moments(resolve_scheme(input, 1, 1))
  if (abs(m$mean) > 1e-12 * sqrt(m$var)) {
    abort_arg("input", "a distribution with mean 0, such as `init_uniform(-1, 1)`", input$label)
  }
  m
}

# The exact moments of the logits (see ?attention_logits).
attention_prediction <- function(d, dk, s, T, wm, xm) {
  sw2 <- wm$var; mw <- wm$m4; v <- xm$var; mx <- xm$m4
  C <- d * sw2 * v
  A <- d * mw * mx + 3 * d * (d - 1) * sw2^2 * v^2
  B <- sw2^2 * (d * mx + d * (d - 1) * v^2)
  var_off <- s^2 * dk * C^2
  m4 <- s^4 * (dk * A^2 + 3 * dk * (dk - 1) * B^2)
  var_diag <- s^2 * dk * B
  list(var_logit = var_off, var_logit_diag = var_diag, m4_logit = m4,
       kurtosis = m4 / var_off^2, mean_logit = 0,
       entropy = log(T) - (T - 1) / (2 * T^2) * ((T - 1) * var_off + var_diag))
}

# The simulation sums fourth powers of the logits and the summaries take
# standard deviations of those sums (squares of fourth powers): a fourth
# moment above 1e140 would overflow (Inf - Inf, NaN, in the summaries). The
# limit is on the scale, given the weights and inputs (the fourth moment is
# s^4 times that at s = 1), stated before any simulation.
attention_m4_max <- 1e140
check_logit_range <- function(pred, s, d, dk, T, wm, xm, several) {
  if (pred$m4_logit <= attention_m4_max) return(invisible())
  m4_1 <- attention_prediction(d, dk, 1, T, wm, xm)$m4_logit
  smax <- (attention_m4_max / m4_1)^(1 / 4)
  abort(sprintf(paste0(
    "`scale` must be at most %s%s for these weights and inputs (the logits' fourth moment, ",
    "%s * scale^4, must stay below 1e140, which the simulation's sums of squares can hold), not %s."),
    format(signif(smax, 3)), if (several) sprintf(" (at d_k = %s)", format(dk)) else "",
    format(signif(m4_1, 4)), format(s, digits = 15)))
}

# A verdict's t test is calibrated when the per-network values are not too
# heavy-tailed for the number of networks: the error in the level of a
# two-sided t test is of order (skewness^2 + excess kurtosis) / networks
# (Edgeworth), so verdicts need that ratio, estimated from the values, to be
# at most `attention_tail_bound` (tests/testthat/test-attention.R checks
# the calibration at the bound).
attention_tail_bound <- c(second = 0.01, fourth = 0.01)

tail_index <- function(x) {
  d <- x - mean(x)
  d <- d / max(abs(d), .Machine$double.xmin)   # scale-free: no overflow of d^4
  m2 <- mean(d^2)
  if (!(m2 > 0)) return(0)
  (mean(d^3) / m2^1.5)^2 + max(0, mean(d^4) / m2^2 - 3)
}

attention_table <- function(d_model, dk, rule, s, T, pred, S) {
  J <- nrow(S)
  mean_se <- function(x) c(mean(x), stats::sd(x) / sqrt(J))
  est <- list(mean_logit = mean_se(S[, 1]), var_logit = mean_se(S[, 2]),
              m4_logit = mean_se(S[, 3]), var_logit_diag = mean_se(S[, 4]),
              entropy = mean_se(S[, 5]), max_prob = mean_se(S[, 6]))
  # kurtosis m4 / var^2 by the delta method on the per-network means
  u <- mean(S[, 2]); w <- mean(S[, 3])
  grad <- c(-2 * w / u^3, 1 / u^2)
  V <- stats::cov(S[, 2:3])
  est$kurtosis <- c(w / u^2, sqrt(max(0, drop(t(grad) %*% V %*% grad)) / J))
  q <- c("var_logit", "var_logit_diag", "m4_logit", "kurtosis", "mean_logit", "entropy", "max_prob")
  exact <- c(TRUE, TRUE, TRUE, TRUE, TRUE, FALSE, FALSE)
  predicted <- vapply(q, function(k) if (is.null(pred[[k]])) NA_real_ else pred[[k]], 0)
  e <- vapply(q, function(k) est[[k]][1], 0)
  se <- vapply(q, function(k) est[[k]][2], 0)
  ag <- agreement(e, se, ifelse(exact, predicted, e), df = J - 1, interval_level = 0.95)
  # tails of the per-network values behind each estimate
  col <- c(var_logit = 2, var_logit_diag = 4, m4_logit = 3, kurtosis = 3, mean_logit = 1,
           entropy = 5, max_prob = 6)
  tails <- vapply(q, function(k) {
    ti <- tail_index(S[, col[[k]]])
    if (k == "kurtosis") ti <- max(ti, tail_index(S[, 2]))
    ti
  }, 0)
  bound <- ifelse(q %in% c("m4_logit", "kurtosis"), attention_tail_bound[["fourth"]],
                  attention_tail_bound[["second"]])
  needed <- ceiling(tails / bound)
  verdict <- exact & needed <= J
  data.frame(d_model = d_model, d_k = dk, rule = rule, scale = s, seq_len = T,
             quantity = q, predicted = unname(predicted), exact = exact,
             estimate = unname(e), mcse = unname(se),
             z = ifelse(exact, ag$z, NA_real_), p_value = ifelse(exact, ag$p_value, NA_real_),
             consistent = ifelse(verdict, ag$consistent, NA), lower = ag$lower, upper = ag$upper,
             networks = J, networks_needed = unname(needed), stringsAsFactors = FALSE)
}

#' @export
print.initvar_attention <- function(x, ...) {
  t <- x$table
  cat(sprintf("<initvar attention logits> d_model = %s, %s weights, %s tokens\n",
              format(x$d_model), x$init$label, x$input$label))
  cat(sprintf("  %s networks x %s sequences of %s tokens; verdicts at level %s\n",
              format(x$networks), format(x$inputs), format(x$seq_len), format(verdict_level)))
  keys <- unique(t[c("d_k", "rule", "scale")])
  show <- c("var_logit", "kurtosis", "entropy", "max_prob")
  for (i in seq_len(nrow(keys))) {
    sub <- t[t$d_k == keys$d_k[i] & t$rule == keys$rule[i] & t$scale == keys$scale[i] &
               t$quantity %in% show, ]
    cat(sprintf("  d_k = %s, scale = %s (%s)\n", format(keys$d_k[i]),
                format(signif(keys$scale[i], 4)), keys$rule[i]))
    for (j in seq_len(nrow(sub))) {
      r <- sub[j, ]
      verdict <- if (isTRUE(r$exact)) {
        if (is.na(r$consistent)) sprintf("z = %+.2f, no verdict: needs ~%s networks", r$z,
                                         format(r$networks_needed, big.mark = ","))
        else if (r$consistent) sprintf("agrees (z = %+.2f)", r$z) else sprintf("DIFFERS (z = %+.2f)", r$z)
      } else if (!is.na(r$predicted)) "approximation" else ""
      cat(sprintf("    %-10s predicted %-10s simulated %-10s +- %-9s %s\n", r$quantity,
                  if (is.na(r$predicted)) "-" else format(signif(r$predicted, 4)),
                  format(signif(r$estimate, 4)), format(signif(r$mcse, 2)), verdict))
    }
  }
  invisible(x)
}

#' @export
as.data.frame.initvar_attention <- function(x, row.names = NULL, optional = FALSE, ...) {
  x$table
}

#' Plot attention logits at initialization
#'
#' `type = "variance"`: the logit variance against `d_k` (log-log), simulated
#' with 95% intervals and predicted exactly, one line per scale rule;
#' `type = "entropy"`: the softmax entropy of a row (simulated, with the
#' small-scale prediction dashed and `log(seq_len)`, uniform attention,
#' dotted); `type = "saturation"`: the largest attention weight of a row.
#'
#' @param x An `initvar_attention` object from [attention_logits()].
#' @param type `"variance"`, `"entropy"` or `"saturation"`.
#' @param ... Further graphical parameters for [graphics::plot()].
#' @return Invisibly, the rows of `as.data.frame(x)` drawn.
#' @examples
#' set.seed(2)
#' a <- attention_logits(32, c(2, 8, 32), scale = c("standard", "mup"),
#'                       seq_len = 8, inputs = 2, networks = 50, threads = 1)
#' plot(a)
#' @export
plot.initvar_attention <- function(x, type = c("variance", "entropy", "saturation"), ...) {
  type <- check_choice(type, c("variance", "entropy", "saturation"), "type")
  q <- switch(type, variance = "var_logit", entropy = "entropy", saturation = "max_prob")
  t <- x$table[x$table$quantity == q, ]
  rules <- unique(t$rule)
  cols <- seq_along(rules)
  logy <- type == "variance"
  yl <- range(c(t$lower, t$upper, t$predicted, if (type == "entropy") log(x$seq_len)), na.rm = TRUE)
  if (logy) yl <- range(c(t$estimate, t$predicted, t$upper, t$lower[t$lower > 0]), na.rm = TRUE)
  graphics::plot(range(t$d_k), yl, type = "n", log = if (logy) "xy" else "x",
                 xlab = "d_k", ylab = switch(type, variance = "Var(logit)",
                                             entropy = "softmax entropy (nats)",
                                             saturation = "largest attention weight"),
                 main = sprintf("Attention logits at initialization (d_model = %s)", format(x$d_model)),
                 ...)
  for (i in seq_along(rules)) {
    s <- t[t$rule == rules[i], ]
    s <- s[order(s$d_k), ]
    graphics::points(s$d_k, s$estimate, pch = 19, col = cols[i])
    lo <- if (logy) pmax(s$lower, min(s$estimate) / 10) else s$lower
    graphics::segments(s$d_k, lo, s$d_k, s$upper, col = cols[i])
    if (any(!is.na(s$predicted))) graphics::lines(s$d_k, s$predicted, col = cols[i],
                                                   lty = if (type == "variance") 1 else 2)
  }
  if (type == "entropy") graphics::abline(h = log(x$seq_len), lty = 3)
  graphics::legend("topleft", legend = rules, col = cols, pch = 19, bty = "n")
  invisible(t)
}
