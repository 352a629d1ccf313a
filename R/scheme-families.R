# The concrete distributions a scheme resolves to ("families"), as data: one
# entry per family, which knows
#   code:      its code in the C samplers and the engine (IV_FAMILIES in
#              src/vocab.h; test-vocabulary.R checks that they agree), or
#              NULL for a family drawn in R only;
#   fan_free:  whether it is defined without the layer's size (biases);
#   resolve(scheme, rows, cols, total, diag): the concrete distribution of a
#              scheme of this family on a rows x cols matrix (rows = fan_in);
#   moments(r): the exact mean and variance of one weight;
#   text(x, fmt): the distribution as print() shows it;
#   c_params(r): the four parameters C_sample_iid and the engine take;
#   density(r): the density plot() draws (NULL: none);
#   sample(r, dim, shape, threads): draws for sample_weights().
# A new family is one entry here (and, for C speed, one case in the C
# sampler, iv_fill() in src/sample.c, with its code in IV_FAMILIES).
# Schemes that are rules rather than distributions (variance scaling)
# resolve to one of these; see resolve_scheme() in R/schemes.R.

family_table <- list(
  uniform = list(
    code = 1L, fan_free = TRUE,
    resolve = function(s, ...) list(family = "uniform", a = s$a, b = s$b),
    moments = function(r) c(mean = (r$a + r$b) / 2, var = (r$b - r$a)^2 / 12),
    text = function(x, fmt) sprintf("U(%s, %s)", fmt(x$a), fmt(x$b)),
    c_params = function(r) c(r$a, r$b, 0, 0),
    density = function(r) function(t) stats::dunif(t, r$a, r$b),
    sample = function(r, dim, shape, threads) sample_iid(r, dim, threads)),
  normal = list(
    code = 2L, fan_free = TRUE,
    resolve = function(s, ...) list(family = "normal", mean = s$mean, sd = s$sd),
    moments = function(r) c(mean = r$mean, var = r$sd^2),
    text = function(x, fmt) sprintf("N(%s, %s^2)", fmt(x$mean), fmt(x$sd)),
    c_params = function(r) c(r$mean, r$sd, 0, 0),
    density = function(r) function(t) stats::dnorm(t, r$mean, r$sd),
    sample = function(r, dim, shape, threads) sample_iid(r, dim, threads)),
  truncated_normal = list(
    code = 3L, fan_free = TRUE,
    resolve = function(s, ...) {
      list(family = "truncated_normal", mean = s$mean, sd = s$sd, lower = s$lower,
           upper = s$upper)
    },
    moments = function(r) {
      # scaled through the sd: the standardized variance may underflow
      # (1e-400 for [1e200, Inf]) where sd^2 times it does not
      m <- tn_stats(r$lower, r$upper)
      c(mean = r$mean + r$sd * m[["mean"]], var = (r$sd * m[["sd"]])^2)
    },
    text = function(x, fmt) {
      sprintf("N(%s, %s^2) truncated to [%s, %s]", fmt(x$mean), fmt(x$sd),
              fmt(x$mean + x$lower * x$sd), fmt(x$mean + x$upper * x$sd))
    },
    c_params = function(r) c(r$mean, r$sd, r$lower, r$upper),
    density = function(r) function(t) {
      z <- (t - r$mean) / r$sd
      ifelse(z < r$lower | z > r$upper, 0, stats::dnorm(z) / r$sd /
               (stats::pnorm(r$upper) - stats::pnorm(r$lower)))
    },
    sample = function(r, dim, shape, threads) sample_iid(r, dim, threads)),
  constant = list(
    code = 4L, fan_free = TRUE,
    resolve = function(s, ...) list(family = "constant", value = s$value),
    moments = function(r) c(mean = r$value, var = 0),
    text = function(x, fmt) sprintf("constant %s", fmt(x$value)),
    c_params = function(r) c(r$value, 0, 0, 0),
    density = function(r) NULL,
    sample = function(r, dim, shape, threads) {
      out <- rep(r$value, prod(dim))
      if (length(dim) > 1) dim(out) <- dim
      out
    }),
  identity = list(
    code = 5L, fan_free = FALSE,
    resolve = function(s, rows, cols, total, diag, ...) {
      list(family = "identity", gain = s$gain, total = total, diag = diag)
    },
    moments = function(r) {
      p <- r$diag / r$total
      c(mean = r$gain * p, var = r$gain^2 * p * (1 - p))
    },
    text = function(x, fmt) sprintf("%s on the diagonal, 0 elsewhere", fmt(x$gain)),
    c_params = function(r) c(r$gain, 0, 0, 0),
    density = function(r) NULL,
    sample = function(r, dim, shape, threads) sample_identity(r$gain, dim, shape$layout)),
  orthogonal = list(
    code = 6L, fan_free = FALSE,
    resolve = function(s, rows, cols, ...) {
      list(family = "orthogonal", gain = s$gain, rows = rows, cols = cols)
    },
    moments = function(r) c(mean = 0, var = r$gain^2 / max(r$rows, r$cols)),
    text = function(x, fmt) {
      sprintf("%s x a Haar-random matrix with orthonormal columns (or rows)", fmt(x$gain))
    },
    c_params = function(r) c(r$gain, 0, 0, 0),
    density = function(r) NULL,
    sample = function(r, dim, shape, threads) {
      local_blas_single_thread()   # the QR: one BLAS thread, whatever `threads`
      matrix_to_shape(.Call(C_sample_orthogonal, r$rows, r$cols, r$gain, threads), shape)
    }),
  sparse = list(
    code = 7L, fan_free = FALSE,
    resolve = function(s, rows, cols, ...) {
      list(family = "sparse", sd = s$sd, rows = rows, cols = cols,
           nzero = min(rows, ceiling(s$sparsity * rows)))
    },
    moments = function(r) c(mean = 0, var = r$sd^2 * (1 - r$nzero / r$rows)),
    text = function(x, fmt) {
      sprintf("N(0, %s^2) with a fraction %s of zeros in each column", fmt(x$sd),
              fmt(x$sparsity))
    },
    c_params = function(r) c(r$nzero, r$sd, 0, 0),
    density = function(r) NULL,
    sample = function(r, dim, shape, threads) {
      matrix_to_shape(.Call(C_sample_sparse, r$rows, r$cols, r$nzero, r$sd, threads), shape)
    }),
  # R/init-delta.R: a conv kernel zero but at its centre tap, where each
  # group's c_in/G x c_out/G matrix is orthogonal; `kernel` (taps, centre
  # tap in the engine's order, groups) comes from the layer or the shape
  delta_orthogonal = list(
    code = 8L, fan_free = FALSE,
    resolve = function(s, rows, cols, total, diag, kernel = NULL, ...) {
      kn <- if (is.null(kernel)) list(taps = 1, centre = 0, groups = 1) else kernel
      list(family = "delta_orthogonal", gain = s$gain, taps = kn$taps, centre = kn$centre,
           groups = kn$groups, c_in = rows / kn$taps, c_out = cols / kn$groups)
    },
    moments = function(r) {
      c(mean = 0, var = r$gain^2 / (r$taps * max(r$c_in, r$c_out)))
    },
    text = function(x, fmt) {
      sprintf("0 but at the kernel's centre tap: %s x a Haar-random orthogonal channel matrix",
              fmt(x$gain))
    },
    c_params = function(r) c(r$gain, r$taps, r$centre, r$groups),
    density = function(r) NULL,
    sample = function(r, dim, shape, threads) sample_delta_orthogonal(r, shape, threads)),
  # R/init-delta.R: Xiao et al.'s Algorithm 1, a kernel whose symbol is an
  # isometry at every frequency; `kernel` as for delta_orthogonal
  conv_orthogonal = list(
    code = 9L, fan_free = FALSE,
    resolve = function(s, rows, cols, total, diag, kernel = NULL, ...) {
      kn <- if (is.null(kernel)) delta_kernel(1) else kernel
      hw <- if (length(kn$size) == 1) c(1, kn$size) else kn$size
      list(family = "conv_orthogonal", gain = s$gain, taps = kn$taps, kh = hw[1], kw = hw[2],
           groups = kn$groups, c_in = rows / kn$taps, c_out = cols / kn$groups)
    },
    moments = function(r) {
      c(mean = 0, var = r$gain^2 / (r$taps * max(r$c_in, r$c_out)))
    },
    text = function(x, fmt) {
      sprintf("%s x an orthogonal convolution kernel (Xiao et al.'s Algorithm 1)", fmt(x$gain))
    },
    c_params = function(r) c(r$gain, r$kh, r$kw, r$groups),
    density = function(r) NULL,
    sample = function(r, dim, shape, threads) sample_conv_orthogonal(r, shape, threads)),
  # R/scheme-ssm.R: Mamba's dt bias and S4D's A, drawn in R (no C code: the
  # engines refuse them); s4d's N is the last dimension of the shape
  mamba_dt = list(
    code = NULL, fan_free = TRUE,
    resolve = function(s, ...) {
      list(family = "mamba_dt", dt_min = s$dt_min, dt_max = s$dt_max, floor = s$floor)
    },
    moments = function(r) mamba_dt_moments(r)[c("mean", "var")],
    text = function(x, fmt) {
      sprintf("dt + log(1 - exp(-dt)), dt = max(%s, exp(U(log %s, log %s)))", fmt(x$floor),
              fmt(x$dt_min), fmt(x$dt_max))
    },
    c_params = function(r) c(r$dt_min, r$dt_max, r$floor, 0),
    density = function(r) mamba_dt_density(r),
    sample = function(r, dim, shape, threads) mamba_dt_sample(r, dim)),
  s4d = list(
    code = NULL, fan_free = TRUE,
    resolve = function(s, rows, cols, total, diag, dim = NULL, ...) {
      list(family = "s4d", method = s$method, part = s$part,
           n_state = if (length(dim)) dim[length(dim)] else 1)
    },
    moments = function(r) {
      v <- s4d_values(r$method, r$part, r$n_state)
      c(mean = mean(v), var = mean((v - mean(v))^2))
    },
    text = function(x, fmt) {
      switch(paste(x$method, x$part), "real log_real" = "log(1), ..., log(N) along the last dimension",
             "lin log_real" = "log(1/2) everywhere",
             "lin imag" = "pi (0, ..., N - 1) along the last dimension")
    },
    c_params = function(r) c(0, 0, 0, 0),
    density = function(r) NULL,
    sample = function(r, dim, shape, threads) s4d_sample(r, dim))
)

# The families' C codes by name, and those defined without the layer size.
family_codes <- vapply(Filter(function(f) !is.null(f$code), family_table),
                       function(f) f$code, 0L)
fan_free <- names(Filter(function(f) f$fan_free, family_table))

# The entry of a family.
family_of <- function(family) {
  f <- family_table[[family]]
  if (is.null(f)) stop("internal error: unknown family ", family)
  f
}

# Elementwise families drawn by C_sample_iid.
sample_iid <- function(r, dim, threads) {
  cc <- family_c_params(r)
  .Call(C_sample_iid, dim, cc$code, cc$params, threads)
}

# A resolved scheme as the C samplers and the engine take it: its family's
# code and four parameters.
family_c_params <- function(r) {
  f <- family_of(r$family)
  list(code = f$code, params = as.double(f$c_params(r)))
}
