# audit_init(): every tensor of a model tested against the scheme it claims
# (its exact mean and variance at the tensor's fans), a Holm family-wise
# verdict, and which common scheme the tensor looks like.

#' Audit a model's initialization: every tensor against its scheme
#'
#' Tests each tensor of a model against the initialization scheme it should
#' have been drawn from, and says which common scheme it looks like: a
#' silently overwritten initialization (a tensor of ones, a framework's
#' default where another scheme was meant) is flagged.
#'
#' For each tensor, the fans come from its shape by [fans()], under the
#' same layout rule as [sample_weights()] (a shape torch and Keras read
#' differently needs `layout`). The scheme's exact mean \eqn{\mu} and
#' variance \eqn{\sigma^2} at those fans ([weight_mean()],
#' [weight_variance()]) are compared with the tensor's: the sample variance
#' \eqn{s^2} by \eqn{z = (s^2 - \sigma^2) / se} with
#' \eqn{se^2 = m_4 / n - \sigma^4 (n - 3) / (n (n - 1))}, the exact variance
#' of a sample variance, where \eqn{m_4} is the scheme's exact fourth
#' central moment (uniform, normal and symmetric truncated normal schemes)
#' or else the sample's; the mean by \eqn{(\bar x - \mu) / (\sigma /
#' \sqrt{n})}. A tensor of a uniform, normal or truncated normal scheme
#' with at least 80 entries also gets a family test: Pearson's chi-square
#' (15 degrees of freedom) over 16 bins equally likely under the scheme,
#' which tells a uniform from a normal of the same variance (not applied to
#' `BF16` tensors of more than \eqn{2^{16}} entries or `F16` of more than
#' \eqn{2^{22}}, whose rounding alone would be detected). The tensor's
#' p-value is Bonferroni's over its two or three tests, `consistent` is
#' `p_value >= 1 - level`, and
#' `consistent_holm` is Holm's family-wise verdict over the audited
#' tensors. A scheme of constant weights is consistent only with a tensor
#' of exactly that value. An orthogonal scheme is decided exactly too: the
#' tensor's rows in stored (row-major) order, \eqn{W}, must have
#' \eqn{\max |W^T W - g^2 I|} (rows >= columns; \eqn{W W^T} otherwise)
#' within the stored type's rounding, \eqn{(3u + 2^{-46}\sqrt{k}) g^2} with
#' \eqn{u = 2^{-24}} for `F32`, \eqn{2^{-11}} for `F16`, \eqn{2^{-8}} for
#' `BF16` (column `ortho_err`; a Gram matrix larger than 2048 x 2048 is not
#' formed, and the moment tests apply). Otherwise the entries are treated
#' as independent draws (an identity matrix's are not: its test is
#' approximate).
#'
#' A file is read tensor by tensor, each in windows of about a million
#' elements whose moments and bin counts are accumulated, so a file of many
#' gigabytes is audited in a few hundred megabytes of memory.
#'
#' `looks_like` names the framework defaults and common schemes of a
#' catalogue that the tensor is consistent with, best first: torch's
#' `nn.Linear` / `nn.Conv` default \eqn{U(-1/\sqrt{fan_{in}},
#' 1/\sqrt{fan_{in}})} (variance \eqn{1/(3 fan_{in})}), Glorot uniform
#' (Keras's and Flux's default), Glorot normal, LeCun normal truncated at
#' two standard deviations (Flax's and JAX's `lecun_normal`, variance
#' \eqn{1/fan_{in}}), LeCun normal and uniform, He normal and uniform.
#' Each is tested by Wald's statistic of the sample's \eqn{(\bar x,
#' \overline{x^2}, \overline{x^4})} against the scheme's exact moments up to
#' the eighth, with their exact covariance (\eqn{\chi^2_3}; consistent
#' when its p-value is at least `1 - level`); the best match, column
#' `best_match` and the name a flagged tensor is given, is the scheme of
#' smallest statistic, if its p-value is at least \eqn{10^{-6}}. A flagged tensor reads, for example,
#' `"torch default (nn.Linear, nn.ConvNd), not Glorot (Xavier) uniform"`; a
#' constant one `"all ones: overwritten"`.
#'
#' Special schemes ([init_ssm]): a Mamba dt bias ([init_mamba_dt()]) with a
#' value outside the support \eqn{[g(\max(dt_{min}, floor)),
#' g(dt_{max})]} (within 16 units of the stored type's rounding) is
#' inconsistent at once, else the moment and bin tests above apply with
#' its exact moments and quantiles; a flagged one is named: all zeros or
#' ones, centred on 0 like a Linear layer's default bias, or spyx PR#42's
#' \eqn{\log \Delta + \log(1 - e^{-\Delta})}, whose softplus is about
#' \eqn{\Delta^2} (tested against that formula's exact support and
#' moments). An S4D tensor ([init_s4d()]) is deterministic: consistent
#' when every element is within 4 units of the stored type's rounding of
#' its value (`ortho_err` then holds the largest deviation).
#'
#' @param weights A path to a safetensors, `.npy` or `.npz` file, or a named
#'   list of arrays, read by [read_weights()].
#' @param schemes One scheme (such as [init_glorot()]) for every tensor, or
#'   a named list of schemes whose names are regular expressions on the
#'   tensor names: the first that matches gives a tensor's scheme, and a
#'   tensor no pattern matches is reported, not audited.
#' @param layout `NULL`, `"torch"` (out, in, k...) or `"keras"` (k..., in,
#'   out): how the shapes are read. It must be named when a shape's fans
#'   are ambiguous (a non-square matrix, for a scheme that needs fans).
#' @param level Confidence level of each verdict, in (0, 1): a correct
#'   tensor is flagged with probability `1 - level`, and a correct model
#'   (by `consistent_holm`) with at most that probability.
#' @return An object of class `initvar_audit`: `as.data.frame()` gives one
#'   row per tensor with columns `tensor`, `shape`, `dtype`, `scheme` (its
#'   label), `audited`, `n`, `mean`, `expected_mean`, `var`,
#'   `expected_var`, `ratio` (`var / expected_var`), `se` (of `var`), `z`
#'   (of the variance), `z_mean`, `chisq` and `p_dist` (the family test,
#'   `NA` where not applied), `ortho_err`, `p_value`, `consistent`,
#'   `consistent_holm`, `looks_like` and `best_match` (the catalogue's
#'   best match, `NA` when none fits or the catalogue does not apply). `print()` shows the table and the
#'   verdict; `plot()` draws each audited tensor's variance ratio with its
#'   interval at `level`.
#' @seealso [read_weights()]; [weight_variance()] for the exact moments.
#' @examples
#' set.seed(1)
#' w <- list(
#'   fc1.weight = sample_weights(init_glorot(), dim = c(64, 32), layout = "torch"),
#'   fc2.weight = sample_weights(init_torch_default(), dim = c(16, 64), layout = "torch"),
#'   fc2.bias = array(1, 16))
#' a <- audit_init(w, list("weight$" = init_glorot(), "bias$" = init_zeros()),
#'                 layout = "torch")
#' a
#' as.data.frame(a)[, c("tensor", "ratio", "consistent", "looks_like")]
#' plot(a)
#' @export
audit_init <- function(weights, schemes, layout = NULL, level = 0.99) {
  if (missing(weights)) abort("`weights` is missing: give a file path or a named list of arrays.")
  if (missing(schemes)) abort("`schemes` is missing: give a scheme such as `init_glorot()`, or a named list of them.")
  level <- check_number(level, "level", min = 0, max = 1, min_open = TRUE, max_open = TRUE)
  if (!is.null(layout)) layout <- check_choice(layout, c("torch", "keras"), "layout")
  schemes <- check_audit_schemes(schemes)
  # tensor by tensor, in windows: a file's tensors are never held whole
  breaks_for <- function(nm, d, dtype, n) {
    hit <- which(vapply(base::names(schemes), function(p) grepl(p, nm), TRUE))
    if (length(hit) == 0) return(NULL)
    m <- tryCatch(audit_moments(schemes[[hit[1]]], d, layout, nm), error = function(e) NULL)
    if (is.null(m)) return(NULL)   # audit_tensor() raises the error, naming audit_init()
    audit_spec(m, d, n, dtype)
  }
  w <- tryCatch(weights_stats(weights, breaks_for = breaks_for), initvar_error = function(e) {
    abort(sub("^`path`", "`weights`", conditionMessage(e)))
  })
  alpha <- 1 - level
  rows <- lapply(base::names(w), function(nm) audit_tensor(w[[nm]], nm, schemes, layout, alpha))
  tab <- do.call(rbind, rows)
  tab$consistent_holm <- NA
  a <- tab$audited & !is.na(tab$p_value)
  if (any(a)) tab$consistent_holm[a] <- stats::p.adjust(tab$p_value[a], "holm") >= alpha
  last <- c("consistent_holm", "looks_like", "best_match")
  tab <- tab[, c(setdiff(base::names(tab), last), last)]
  rownames(tab) <- NULL
  structure(list(table = tab, level = level, layout = layout), class = "initvar_audit")
}

check_audit_schemes <- function(schemes) {
  single <- inherits(schemes, "initvar_scheme")
  if (single) schemes <- list(".*" = schemes)
  if (!is.list(schemes) || length(schemes) == 0 || is.null(base::names(schemes)) ||
      any(is.na(base::names(schemes))) || any(!nzchar(base::names(schemes)))) {
    abort_arg("schemes", "a scheme such as `init_glorot()`, or a list of schemes named by regular expressions on the tensor names", schemes)
  }
  for (k in seq_along(schemes)) {
    p <- base::names(schemes)[k]
    if (!inherits(schemes[[k]], "initvar_scheme")) {
      abort(sprintf("`schemes`[[\"%s\"]] must be an initialization scheme such as `init_glorot()`, not %s.",
                    p, describe(schemes[[k]])))
    }
    fam <- schemes[[k]]$family
    if (!is.character(fam) || length(fam) != 1 || !fam %in% c(base::names(family_table), "variance_scaling")) {
      abort(sprintf("%s is not a scheme made by initvar's constructors, such as `init_glorot()`.",
                    if (single) "`schemes`" else sprintf("`schemes`[[\"%s\"]]", p)))
    }
    ok <- tryCatch({ grepl(p, "x"); TRUE }, error = function(e) FALSE, warning = function(e) FALSE)
    if (!ok) abort(sprintf("`schemes`: the name \"%s\" is not a valid regular expression.", p))
  }
  schemes
}

# Exact mean, variance and (where known) fourth central moment of a scheme
# on a shape; errors name the tensor.
audit_moments <- function(scheme, d, layout, nm) {
  tryCatch({
    lay <- shape_layout(layout, d, !(scheme$family %in% fan_free), or_fans = FALSE)
    shape <- layer_shape(scheme, dim = d, layout = lay)
    r <- resolve_for(scheme, shape)
    m <- dist_moments(r)
    fm <- if (r$family %in% c("uniform", "normal") ||
              (r$family == "truncated_normal" && isTRUE(all.equal(r$lower, -r$upper)))) family_moments(r)
    if (r$family == "mamba_dt") fm <- list(m4 = mamba_dt_moments(r)[["m4"]])
    list(mean = m[["mean"]], var = m[["var"]], m4 = if (!is.null(fm)) fm$m4 else NA_real_,
         family = r$family, value = if (r$family == "constant") r$value, r = r,
         fan_in = shape$fan_in, fan_out = shape$fan_out, layout = lay)
  }, initvar_error = function(e) {
    abort(sprintf("tensor \"%s\" (shape %s): %s", nm, shape_text(d), conditionMessage(e)))
  })
}

# The distribution test's bins: 16 equally likely under the resolved
# scheme (uniform, normal, truncated normal), when the tensor has at least
# 5 entries expected per bin, and its stored precision cannot move a
# detectable mass across a bin edge (BF16 beyond 2^16 entries, F16 beyond
# 2^22 are binned no more).
audit_bins <- 16L
audit_breaks <- function(r, n, dtype) {
  if (n < 5 * audit_bins) return(NULL)
  if (identical(dtype, "BF16") && n > 2^16) return(NULL)
  if (identical(dtype, "F16") && n > 2^22) return(NULL)
  p <- seq_len(audit_bins - 1L) / audit_bins
  b <- switch(r$family,
    uniform = if (r$b > r$a) r$a + (r$b - r$a) * p,
    normal = if (r$sd > 0) stats::qnorm(p, r$mean, r$sd),
    truncated_normal = {
      lo <- stats::pnorm(r$lower)
      hi <- stats::pnorm(r$upper)
      if (r$sd > 0 && hi - lo > 1e-6) r$mean + r$sd * stats::qnorm(lo + (hi - lo) * p)
    },
    # an atom at the floor gives tied breaks: no bins
    mamba_dt = mamba_dt_quantile(r, p),
    NULL)
  if (is.null(b) || !all(is.finite(b)) || any(diff(b) <= 0)) return(NULL)
  b
}

# What to accumulate for a tensor: its bins, and for an orthogonal scheme
# its Gram matrix (rows in row-major order: torch's (out, in, k...) has rows
# of length prod(in, k...), Keras's (k..., in, out) rows of length out),
# when the Gram is at most 2048 x 2048 (and the rows, for a wide matrix,
# at most 2^22 entries).
audit_spec <- function(m, d, n, dtype) {
  spec <- list(breaks = audit_breaks(m$r, n, dtype))
  if (m$family == "s4d") {
    spec$target <- list(values = s4d_values(m$r$method, m$r$part, m$r$n_state),
                        tol = 4 * dtype_unit(dtype))
  }
  if (m$family == "orthogonal" && length(d) >= 2 && n > 0) {
    block <- if (identical(m$layout, "keras")) d[length(d)] else prod(d[-1])
    nrow <- n / block
    if (min(block, nrow) <= 2048 && (nrow >= block || n <= 2^22)) {
      spec$block <- block
      spec$tall <- nrow >= block
    }
  }
  spec
}

# The rounding tolerance of a Gram matrix of a stored orthogonal matrix:
# each entry rounded with relative error u moves each Gram entry by at
# most (2u + u^2) gain^2 (Cauchy-Schwarz); a float64 QR's own error is
# about 2^-52 sqrt(k).
gram_tolerance <- function(dtype, gain2, k) {
  gain2 * (3 * dtype_unit(dtype) + 64 * 2^-52 * sqrt(k))
}

# The unit roundoff of a stored type (float64's for the integer types).
dtype_unit <- function(dtype) {
  switch(if (is.null(dtype) || is.na(dtype)) "F64" else dtype,
         F32 = 2^-24, F16 = 2^-11, BF16 = 2^-8, 2^-53)
}

scheme_label <- function(s) if (is.character(s$label) && length(s$label) == 1) s$label else s$family

shape_text <- function(d) paste(format(d, scientific = FALSE, trim = TRUE), collapse = "x")

# `x`: one element of weights_stats(): the shape `d`, `dtype` and the
# streamed statistics of the tensor's values.
audit_tensor <- function(x, nm, schemes, layout, alpha) {
  d <- x$d
  dtype <- if (is.null(x$dtype)) NA_character_ else x$dtype
  st <- x$stats
  n <- st$n
  finite <- st$bad == 0
  hit <- which(vapply(base::names(schemes), function(p) grepl(p, nm), TRUE))
  row <- data.frame(tensor = nm, shape = shape_text(d), dtype = dtype, scheme = NA_character_,
                    audited = FALSE, n = n, mean = NA_real_, expected_mean = NA_real_,
                    var = NA_real_, expected_var = NA_real_, ratio = NA_real_, se = NA_real_,
                    z = NA_real_, z_mean = NA_real_, chisq = NA_real_, p_dist = NA_real_,
                    ortho_err = NA_real_,
                    p_value = NA_real_, consistent = NA,
                    looks_like = NA_character_, best_match = NA_character_,
                    stringsAsFactors = FALSE)
  if (n > 0 && finite) {
    row$mean <- st$mean
    if (n > 1) row$var <- st$var
  }
  if (length(hit) == 0) {
    row$looks_like <- "not audited: no pattern of `schemes` matches"
    return(row)
  }
  scheme <- schemes[[hit[1]]]
  row$scheme <- scheme_label(scheme)
  if (n == 0) {
    row$looks_like <- "not audited: empty"
    return(row)
  }
  m <- audit_moments(scheme, d, layout, nm)
  row$audited <- TRUE
  row$expected_mean <- m$mean
  row$expected_var <- m$var
  if (!finite) {
    row$p_value <- 0
    row$consistent <- FALSE
    row$looks_like <- sprintf("%s non-finite values", fmt_int(st$bad))
    return(row)
  }
  if (m$family == "s4d") {
    # deterministic: every element against its value, within 4 units of the
    # stored type's rounding
    ok <- isTRUE(st$target_bad == 0)
    row$ortho_err <- st$target_err
    row$p_value <- if (ok) 1 else 0
    row$consistent <- ok
    if (n > 1) row$ratio <- row$var / m$var
    row$looks_like <- if (ok) scheme_label(scheme) else if (st$min == st$max)
      looks_like(st, row, d, m, scheme, alpha, layout) else
      sprintf("not %s (max |W - target| = %s)", scheme_label(scheme), format(st$target_err, digits = 3))
    return(row)
  }
  if (m$family == "mamba_dt") {
    # outside the support [b_lo, b_hi] (with the stored type's rounding) is
    # decided at once; inside, the moment and bin tests below
    sup <- mamba_dt_support(m$r)
    tol <- 16 * dtype_unit(dtype) * max(abs(sup))
    if (st$min < sup[1] - tol || st$max > sup[2] + tol) {
      row$p_value <- 0
      row$consistent <- FALSE
      if (n > 1) row$ratio <- row$var / m$var
      row$looks_like <- if (st$min == st$max) looks_like(st, row, d, m, scheme, alpha, layout) else
        mamba_dt_diagnosis(st, m$r, dtype, alpha)
      return(row)
    }
  }
  if (m$var == 0) {
    tol <- 8 * .Machine$double.eps * max(1, abs(m$mean))
    ok <- max(abs(st$min - m$mean), abs(st$max - m$mean)) <= tol
    row$p_value <- if (ok) 1 else 0
    if (n > 1) row$ratio <- if (row$var == 0) NaN else Inf
  } else {
    z_mean <- (row$mean - m$mean) / sqrt(m$var / n)
    p_mean <- 2 * stats::pnorm(-abs(z_mean))
    p <- p_mean
    if (n > 1) {
      m4 <- m$m4
      if (!is.finite(m4)) m4 <- st$m4
      se2 <- m4 / n - m$var^2 * (n - 3) / (n * (n - 1))
      se <- sqrt(max(se2, 0))
      row$se <- se
      row$ratio <- row$var / m$var
      row$z <- if (se > 0) (row$var - m$var) / se else if (row$var == m$var) 0 else Inf
      p_var <- 2 * stats::pnorm(-abs(row$z))
      counts <- st$counts
      if (!is.null(counts) && sum(counts) == n) {
        # Pearson's chi-square over the equally likely bins: the family test
        e <- n / length(counts)
        row$chisq <- sum((counts - e)^2) / e
        row$p_dist <- stats::pchisq(row$chisq, length(counts) - 1, lower.tail = FALSE)
        p <- min(1, 3 * min(p_mean, p_var, row$p_dist))
      } else {
        p <- min(1, 2 * min(p_mean, p_var))
      }
    }
    row$z_mean <- z_mean
    row$p_value <- p
  }
  if (m$family == "orthogonal" && !is.null(st$gram)) {
    # orthogonality is exact, not a draw: max |G - gain^2 I| against the
    # stored type's rounding decides
    g2 <- m$r$gain^2
    k <- nrow(st$gram)
    row$ortho_err <- max(abs(st$gram - g2 * diag(k)))
    ok <- row$ortho_err <= gram_tolerance(dtype, g2, n / k)
    row$p_value <- if (ok) 1 else 0
    row$consistent <- ok
    row$looks_like <- if (ok) "orthogonal" else
      if (st$min == st$max) looks_like(st, row, d, m, scheme, alpha, m$layout) else
      sprintf("not orthogonal (max |G - gain^2 I| = %s)", format(row$ortho_err, digits = 3))
    return(row)
  }
  row$consistent <- row$p_value >= alpha
  if (m$family == "mamba_dt" && !row$consistent && st$min != st$max) {
    row$looks_like <- mamba_dt_diagnosis(st, m$r, dtype, alpha)
    return(row)
  }
  ll <- looks_like(st, row, d, m, scheme, alpha,
                   if (scheme$family %in% fan_free) layout else m$layout)
  row$looks_like <- as.vector(ll)
  if (!is.null(attr(ll, "best"))) row$best_match <- attr(ll, "best")
  row
}

# What a dt bias that is not Mamba's looks like: spyx PR#42's log(dt) fed
# where dt was meant (b = log(dt) + log(1 - exp(-dt)), so softplus(b) is
# about dt^2), a zero-centred layer default, or where softplus(b) lies.
mamba_dt_diagnosis <- function(st, r, dtype, alpha) {
  n <- st$n
  nd <- mamba_dt_nodes(r)
  t <- log(softplus(nd$x))                      # log dt at the nodes
  spyx <- list(x = t + log(-expm1(-exp(t))), w = nd$w)
  mm <- nodes_moments(spyx)
  sup <- c(log(max(r$dt_min, r$floor)), log(r$dt_max))
  sup <- sup + log(-expm1(-exp(sup)))
  tol <- 16 * dtype_unit(dtype) * max(abs(sup)) + 1e-9 * diff(sup)
  fits <- st$min >= sup[1] - tol && st$max <= sup[2] + tol
  if (fits && n > 1 && mm[["var"]] > 0) {
    se2 <- mm[["m4"]] / n - mm[["var"]]^2 * (n - 3) / (n * (n - 1))
    z <- c((st$mean - mm[["mean"]]) / sqrt(mm[["var"]] / n), (st$var - mm[["var"]]) / sqrt(max(se2, 0)))
    # (not absurd, as for best_match: a dt bias from spyx's formula is
    # named even in the draws a test at `level` would reject)
    fits <- all(2 * stats::pnorm(-abs(z)) >= best_match_floor / 2)
  }
  if (fits) return("softplus(bias) about dt^2: log(dt) fed where dt was meant (spyx PR#42)")
  if (st$min < 0 && st$max > 0 && n > 1 && abs(st$mean) < 5 * sqrt(st$var / n)) {
    return(sprintf("centred on 0 (in [%s, %s]), like a Linear layer's default bias: overwritten",
                   format(st$min, digits = 3), format(st$max, digits = 3)))
  }
  sprintf("softplus(bias) in [%s, %s], not in [%s, %s]: not Mamba's dt bias",
          format(softplus(st$min), digits = 3), format(softplus(st$max), digits = 3),
          format(r$dt_min), format(r$dt_max))
}

# The catalogue looks_like() tries: the frameworks' defaults and the common
# schemes, by name (the name says whose default it is).
audit_catalogue <- function() {
  list("torch default (nn.Linear, nn.ConvNd)" = init_torch_default(),
       "Glorot uniform (Keras, Flux default)" = init_glorot("uniform"),
       "Glorot normal" = init_glorot("normal"),
       "LeCun normal, truncated (Flax, JAX default)" = init_lecun("truncated_normal"),
       "LeCun normal" = init_lecun("normal"),
       "LeCun uniform" = init_lecun("uniform"),
       "He normal (torch kaiming_normal_)" = init_he("normal"),
       "He uniform (torch kaiming_uniform_)" = init_he("uniform"))
}

# E x^2, E x^4, E x^6, E x^8 of a mean-zero symmetric resolved scheme
# (uniform on [-b, b]: b^k / (k + 1); normal: sd^k (k - 1)!!; N(0, 1)
# truncated to [-c, c]: E z^k = (k - 1) E z^(k-2) - 2 c^(k-1) phi(c) / Z,
# Z = 2 Phi(c) - 1), or NULL.
even_moments <- function(r) {
  k <- c(2, 4, 6, 8)
  switch(r$family,
    uniform = if (isTRUE(all.equal(r$a, -r$b))) r$b^k / (k + 1),
    normal = if (r$mean == 0) r$sd^k * c(1, 3, 15, 105),
    truncated_normal = if (r$mean == 0 && isTRUE(all.equal(r$lower, -r$upper))) {
      cc <- r$upper
      Z <- 2 * stats::pnorm(cc) - 1
      m <- numeric(4)
      prev <- 1
      for (i in 1:4) {
        prev <- (k[i] - 1) * prev - 2 * cc^(k[i] - 1) * stats::dnorm(cc) / Z
        m[i] <- prev
      }
      m * r$sd^k
    },
    NULL)
}

# Wald's statistic of (mean, mean x^2, mean x^4) against a catalogue
# scheme's exact moments, with their exact covariance (odd moments 0):
# chi-square with 3 degrees of freedom under the scheme.
catalogue_wald <- function(st, e) {
  n <- st$n
  S <- matrix(c(e[2] - e[1]^2, e[3] - e[1] * e[2], e[3] - e[1] * e[2], e[4] - e[2]^2), 2) / n
  dd <- c(st$raw2 - e[1], st$raw4 - e[2])
  w <- tryCatch(st$mean^2 / (e[1] / n) + drop(dd %*% solve(S, dd)), error = function(err) Inf)
  if (is.finite(w)) w else Inf
}

# The text of `looks_like`, with attribute "best": the catalogue scheme
# whose Wald statistic is smallest among those consistent at `alpha`.
looks_like <- function(st, row, d, m, scheme, alpha, lay) {
  declared <- scheme_label(scheme)
  if (st$min == st$max) {
    v1 <- st$min
    what <- if (v1 == 0) "all zeros" else if (v1 == 1) "all ones" else
      sprintf("constant %s", format(v1, digits = 6))
    return(if (isTRUE(row$consistent)) what else paste0(what, ": overwritten"))
  }
  n <- st$n
  if (n < 2 || length(d) < 2) {
    return(if (isTRUE(row$consistent)) declared else paste("not", declared))
  }
  w <- vapply(audit_catalogue(), function(sc) {
    mm <- tryCatch(audit_moments(sc, d, lay, ""), error = function(e) NULL)
    e <- if (!is.null(mm)) even_moments(mm$r)
    if (is.null(e) || !all(is.finite(e)) || e[1] <= 0) return(Inf)
    catalogue_wald(st, e)
  }, 1)
  p <- stats::pchisq(w, 3, lower.tail = FALSE)
  ok <- which(p >= alpha)
  found <- base::names(w)[ok[order(w[ok])]]
  # the best match: the smallest statistic, when it is not absurd (p >=
  # 1e-6), so that a tensor of a catalogue scheme is named by it even in
  # the 1 - level of draws its own test at `level` would reject
  b <- which.min(w)
  best <- if (length(b) && p[b] >= best_match_floor) base::names(w)[b] else NA_character_
  text <- if (length(found)) paste(found, collapse = " or ") else "none of the catalogue"
  if (!isTRUE(row$consistent)) text <- paste0(if (!is.na(best)) best else text, ", not ", declared)
  structure(text, best = best)
}
best_match_floor <- 1e-6

#' @rdname audit_init
#' @param x An `initvar_audit` object.
#' @param row.names,optional,... Ignored (for the generics).
#' @export
as.data.frame.initvar_audit <- function(x, row.names = NULL, optional = FALSE, ...) {
  x$table
}

#' @rdname audit_init
#' @export
print.initvar_audit <- function(x, ...) {
  t <- x$table
  a <- t$audited
  cat(sprintf("<initvar_audit> %d tensors, %d audited at level %s\n", nrow(t), sum(a),
              format(x$level)))
  show <- data.frame(tensor = t$tensor, shape = t$shape,
                     ratio = formatC(t$ratio, format = "f", digits = 3),
                     z = formatC(t$z, format = "f", digits = 1),
                     p = format.pval(t$p_value, digits = 2),
                     ok = ifelse(is.na(t$consistent_holm), "-", ifelse(t$consistent_holm, "yes", "NO")),
                     looks_like = t$looks_like, stringsAsFactors = FALSE)
  print(show, row.names = FALSE, right = FALSE)
  bad <- sum(a & !is.na(t$consistent_holm) & !t$consistent_holm)
  cat(if (bad == 0) "Every audited tensor is consistent with its scheme (Holm, family-wise).\n" else
    sprintf("%d tensor%s inconsistent with %s scheme (Holm, family-wise).\n", bad,
            if (bad == 1) " is" else "s are", if (bad == 1) "its" else "their"))
  invisible(x)
}

#' @rdname audit_init
#' @param main Plot title.
#' @export
plot.initvar_audit <- function(x, main = "Variance / expected variance", ...) {
  t <- x$table
  t <- t[t$audited & is.finite(t$ratio) & t$ratio > 0, , drop = FALSE]
  if (nrow(t) == 0) {
    graphics::plot.new()
    graphics::title(main = main)
    graphics::text(0.5, 0.5, "no tensor with a finite, positive variance ratio")
    return(invisible(x))
  }
  q <- stats::qnorm(1 - (1 - x$level) / 2)
  lo <- pmax((t$var - q * t$se) / t$expected_var, 1e-3 * min(t$ratio))
  hi <- (t$var + q * t$se) / t$expected_var
  lo[!is.finite(lo)] <- t$ratio[!is.finite(lo)]
  hi[!is.finite(hi)] <- t$ratio[!is.finite(hi)]
  k <- nrow(t)
  col <- ifelse(is.na(t$consistent_holm) | t$consistent_holm, "black", "red")
  graphics::plot(t$ratio, seq_len(k), log = "x", xlim = range(c(lo, hi, 1)), ylim = c(0.5, k + 0.5),
                 yaxt = "n", pch = 19, col = col, xlab = "sample variance / scheme's variance",
                 ylab = "", main = main, ...)
  graphics::segments(lo, seq_len(k), hi, seq_len(k), col = col)
  graphics::abline(v = 1, lty = 2)
  graphics::axis(2, seq_len(k), t$tensor, las = 1, cex.axis = 0.7)
  invisible(x)
}
