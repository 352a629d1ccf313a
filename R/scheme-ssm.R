# State-space models' special initializations as schemes: Mamba's dt bias
# (inverse softplus of a log-uniform dt) and S4D's deterministic A
# (S4D-Real's A_log = log(1..N), S4D-Lin's log(1/2) and pi n). Drawn in R
# (their families have no C code: the network engines refuse them), with
# exact moments by quadrature, for sample_weights(), weight_variance() and
# audit_init().

#' State-space initializations: Mamba's dt bias and S4D's A
#'
#' Schemes for the special tensors of Mamba and S4D layers, so that
#' [audit_init()] can test them and [sample_weights()] draw them.
#'
#' * `init_mamba_dt(dt_min, dt_max, floor)`: Mamba's `dt_proj.bias`. A step
#'   \eqn{\Delta} is drawn log-uniform on `[dt_min, dt_max]`, raised to
#'   `floor` (`dt_init_floor`), and stored through the inverse softplus,
#'   \eqn{b = \Delta + \log(1 - e^{-\Delta})}, so that the layer's
#'   \eqn{\mathrm{softplus}(b)} is \eqn{\Delta} at initialization. The map is
#'   increasing, so the bias has the exact distribution function
#'   \eqn{F(b) = (\log \mathrm{softplus}(b) - \log dt_{min}) / (\log dt_{max} -
#'   \log dt_{min})} on \eqn{[b_{lo}, b_{hi}]}, \eqn{b_{lo} = g(\max(dt_{min},
#'   floor))}, \eqn{b_{hi} = g(dt_{max})}, \eqn{g(\Delta) = \Delta + \log(1 -
#'   e^{-\Delta})} (with an atom \eqn{(\log floor - \log dt_{min}) / (\log
#'   dt_{max} - \log dt_{min})} at \eqn{g(floor)} when the floor is above
#'   `dt_min`). Its moments \eqn{E b^k = \int g(e^t)^k dt / L} over \eqn{t \in
#'   [\log dt_{min}, \log dt_{max}]}, \eqn{L = \log(dt_{max} / dt_{min})},
#'   are computed by 64-point Gauss-Legendre quadrature on each of 8 panels
#'   (exact to rounding: \eqn{g(e^t)} is analytic there). At Mamba's
#'   defaults (`1e-3`, `0.1`, `1e-4`) the bias lies in \eqn{[-6.908, -2.252]}
#'   with mean \eqn{-4.5944} and variance \eqn{1.7966} (fourth central moment \eqn{5.8263}). Shape-free: any
#'   tensor.
#' * `init_s4d("real")`: S4D-Real's (and Mamba's) `A_log`, of shape
#'   `(d_inner, N)`: every row is \eqn{\log(1), \dots, \log(N)}, \eqn{N} the
#'   last dimension. `init_s4d("lin")`: S4D-Lin's \eqn{A = -1/2 + i \pi n},
#'   stored as `part = "log_real"`, \eqn{\log(1/2)} everywhere, and `part =
#'   "imag"`, \eqn{\pi n} for \eqn{n = 0, \dots, N - 1} along the last
#'   dimension. Deterministic: the "variance" of one weight is that of the
#'   \eqn{N} values of a row (divisor \eqn{N}), and [audit_init()] tests the
#'   tensor exactly, element by element, against the stored type's rounding.
#'
#' Mamba's `dt_proj.weight` is \eqn{U(\pm dt_{rank}^{-1/2})} (at
#' `dt_scale = 1`): [init_torch_default()], whose fan-in is `dt_rank`.
#'
#' These schemes are drawn in R, not by the C engines: a network's layers
#' cannot use them.
#'
#' @param dt_min,dt_max The range of the step \eqn{\Delta}: positive, with
#'   `dt_min < dt_max`.
#' @param floor The floor \eqn{\Delta} is raised to (`dt_init_floor`), in
#'   `[0, dt_max)`.
#' @param method `"real"` (S4D-Real) or `"lin"` (S4D-Lin).
#' @param part Which stored tensor: `"log_real"`, the log of \eqn{-Re(A)}
#'   (Mamba's `A_log`), or `"imag"`, \eqn{Im(A)} (S4D-Lin only).
#' @return An initialization scheme (class `initvar_scheme`).
#' @seealso [audit_init()], which tests a model's tensors against these.
#' @examples
#' s <- init_mamba_dt()
#' s
#' c(mean = weight_mean(s), var = weight_variance(s))
#' set.seed(1)
#' b <- sample_weights(s, dim = 64)
#' range(log1p(exp(b)))          # softplus(bias): within [0.001, 0.1]
#' A_log <- sample_weights(init_s4d(), dim = c(4, 16))
#' A_log[1, 1:4]                 # log(1), log(2), log(3), log(4)
#' weight_variance(init_s4d(), dim = c(4, 16))
#' @name init_ssm
NULL

#' @rdname init_ssm
#' @export
init_mamba_dt <- function(dt_min = 1e-3, dt_max = 0.1, floor = 1e-4) {
  dt_min <- check_number(dt_min, "dt_min", min = 1e-300, max = 1e300)
  dt_max <- check_number(dt_max, "dt_max", min = 1e-300, max = 1e300)
  if (!(dt_max > dt_min)) abort_arg("dt_max", sprintf("greater than `dt_min` (%s)", format(dt_min)), dt_max)
  floor <- check_number(floor, "floor", min = 0)
  if (!(floor < dt_max)) abort_arg("floor", sprintf("below `dt_max` (%s)", format(dt_max)), floor)
  new_scheme("mamba_dt", sprintf("Mamba dt bias (dt log-uniform on [%s, %s])", format(dt_min),
                                 format(dt_max)),
             "mamba_dt", dt_min = dt_min, dt_max = dt_max, floor = floor,
             reference = "Gu & Dao (2023), mamba_simple.py: dt_proj.bias")
}

#' @rdname init_ssm
#' @export
init_s4d <- function(method = c("real", "lin"), part = c("log_real", "imag")) {
  method <- check_choice(method, c("real", "lin"), "method")
  part <- check_choice(part, c("log_real", "imag"), "part")
  if (method == "real" && part == "imag") {
    abort_arg("part", "\"log_real\" for S4D-Real, whose A is real", part)
  }
  label <- switch(paste(method, part),
    "real log_real" = "S4D-Real A_log = log(1..N)",
    "lin log_real" = "S4D-Lin log(-Re A) = log(1/2)",
    "lin imag" = "S4D-Lin Im A = pi (0..N-1)")
  new_scheme("s4d", label, "s4d", method = method, part = part,
             reference = "Gu, Gupta, Goel & Re (2022), S4D")
}

# ---- Mamba's dt bias ----------------------------------------------------------

# inverse softplus, as Mamba computes it: dt + log(-expm1(-dt)) (softplus()
# is R/activations.R's)
inv_softplus <- function(y) y + log(-expm1(-y))

# The dt bias's distribution as quadrature nodes and weights (summing to 1):
# 8 panels of 64-point Gauss-Legendre over log dt, plus the floor's atom.
mamba_dt_nodes <- function(r) {
  lo <- log(r$dt_min)
  hi <- log(r$dt_max)
  L <- hi - lo
  cut <- if (r$floor > r$dt_min) log(r$floor) else lo
  q <- gauss_legendre_half(64L)
  edges <- seq(cut, hi, length.out = 9)
  t <- unlist(lapply(1:8, function(k) (edges[k] + edges[k + 1]) / 2 + (edges[k + 1] - edges[k]) * q$x))
  w <- rep(q$w / sum(q$w), 8) * (hi - cut) / 8 / L
  x <- inv_softplus(exp(t))
  if (cut > lo) {
    x <- c(inv_softplus(r$floor), x)
    w <- c((cut - lo) / L, w)
  }
  list(x = x, w = w)
}

# Mean, variance and fourth central moment of a quadrature distribution.
nodes_moments <- function(nd) {
  mu <- sum(nd$w * nd$x)
  d <- nd$x - mu
  c(mean = mu, var = sum(nd$w * d^2), m4 = sum(nd$w * d^4))
}

mamba_dt_moments <- function(r) nodes_moments(mamba_dt_nodes(r))

# The support [b_lo, b_hi] and the quantile function of the dt bias.
mamba_dt_support <- function(r) inv_softplus(c(max(r$dt_min, r$floor), r$dt_max))
mamba_dt_quantile <- function(r, p) {
  inv_softplus(pmax(r$floor, exp(log(r$dt_min) + p * log(r$dt_max / r$dt_min))))
}

mamba_dt_sample <- function(r, dim) {
  n <- prod(dim)
  dt <- exp(stats::runif(n, log(r$dt_min), log(r$dt_max)))
  out <- inv_softplus(pmax(dt, r$floor))
  if (length(dim) > 1) dim(out) <- dim
  out
}

# The density of the continuous part: 1 / (L db/dt), db/dt = y / (1 - e^-y)
# at y = softplus(b) = dt.
mamba_dt_density <- function(r) {
  s <- mamba_dt_support(r)
  L <- log(r$dt_max / r$dt_min)
  function(b) {
    y <- softplus(b)
    ifelse(b < s[1] | b > s[2], 0, -expm1(-y) / (L * y))
  }
}

# ---- S4D's deterministic A ---------------------------------------------------

# The N values of a row.
s4d_values <- function(method, part, N) {
  n <- seq_len(max(1, N)) - 1
  if (method == "real") return(log(n + 1))
  if (part == "log_real") rep(log(0.5), length(n)) else pi * n
}

s4d_sample <- function(r, dim) {
  v <- s4d_values(r$method, r$part, r$n_state)
  if (length(dim) == 1) return(v)
  array(rep(v, each = prod(dim[-length(dim)])), dim)
}
