# Initialization schemes: constructors, print/format, exact moments.

# The standard deviation of N(0, 1) truncated to [-2, 2]. Keras and JAX
# divide the target standard deviation by it so that a truncated normal
# realizes the target variance.
trunc_sd_correction <- 0.87962566103423978

new_scheme <- function(name, label, family, ..., reference = NULL) {
  structure(list(name = name, label = label, family = family, ...,
                 reference = reference),
            class = "initvar_scheme")
}

# engine = TRUE (networks, identities): the scheme must be one the C
# engines draw; init_mamba_dt() and init_s4d() are drawn in R only.
check_scheme <- function(scheme, arg = "scheme", engine = TRUE) {
  if (!inherits(scheme, "initvar_scheme")) {
    abort_arg(arg, "an initialization scheme such as `init_glorot()`", scheme)
  }
  problem <- scheme_problem(scheme)
  if (!is.null(problem)) {
    abort(sprintf(
      "`%s` must be an initialization scheme such as `init_glorot()`, not a forged <initvar_scheme> (%s).",
      arg, problem))
  }
  if (engine && scheme$family %in% names(family_table) && is.null(family_table[[scheme$family]]$code)) {
    abort(sprintf(paste0(
      "`%s` must be a scheme the network engines draw, not %s: it is for ",
      "`sample_weights()`, `weight_variance()` and `audit_init()`."), arg, scheme$label))
  }
  invisible(scheme)
}

# Why an object of class initvar_scheme is not one the constructors make
# (NULL when it is): its family must be one of `family_table` (or a
# variance-scaling rule drawing from uniform, normal or truncated normal),
# and resolved for a small layer it must have finite moments and finite
# sampler parameters.
scheme_problem <- function(s) {
  if (!is.list(s)) return("not a list")
  fam <- s$family
  if (!is.character(fam) || length(fam) != 1 || is.na(fam)) return("it has no `family`")
  if (!fam %in% c(names(family_table), "variance_scaling")) {
    return(sprintf("unknown family \"%s\"", fam))
  }
  if (!is.character(s$name) || length(s$name) != 1 || is.na(s$name)) return("it has no `name`")
  if (fam == "variance_scaling") {
    if (!is.character(s$draw) || length(s$draw) != 1 ||
        !s$draw %in% c("uniform", "normal", "truncated_normal")) {
      return("its `draw` is not uniform, normal or truncated_normal")
    }
    if (!is.character(s$mode) || length(s$mode) != 1 ||
        !s$mode %in% c("fan_in", "fan_out", "fan_avg", "fan_geo_avg")) {
      return("its `mode` is not a known fan mode")
    }
  }
  ok <- tryCatch({
    r <- resolve_scheme(s, 4, 3)
    m <- dist_moments(r)
    p <- family_c_params(r)$params
    # (numbers; init_s4d()'s method and part are strings it checks)
    all(vapply(r[-1], function(v) (is.numeric(v) || is.character(v)) && length(v) == 1 &&
                 !is.na(v), TRUE)) &&
      (fam != "s4d" || (isTRUE(s$method %in% c("real", "lin")) &&
                          isTRUE(s$part %in% c("log_real", "imag")))) &&
      (fam != "sparse" || (is.numeric(s$sparsity) && length(s$sparsity) == 1 &&
                             isTRUE(s$sparsity >= 0 && s$sparsity < 1))) &&
      is.numeric(m) && length(m) == 2 && all(is.finite(m)) && m[[2]] >= 0 &&
      length(p) == 4 && !anyNA(p)
  }, error = function(e) FALSE, warning = function(w) FALSE)
  if (!isTRUE(ok)) return(sprintf("its %s parameters do not give finite moments", fam))
  NULL
}

conventions <- c("initvar", "torch", "keras", "jax", "tfjs")

# Overflow and underflow bounds. A scheme is refused at construction when
# its variance, or a draw, would not be a finite double: every sd-like
# parameter must have a finite square (<= sqrt(.Machine$double.xmax), about
# 1.34e154), and a normal draw mean + z sd must stay finite for |z| <= 40.
sqrt_xmax <- sqrt(.Machine$double.xmax)
sqrt_xmin <- sqrt(.Machine$double.xmin)
draw_reach <- 40

check_square_finite <- function(x, arg, what = sprintf("`%s`^2", arg)) {
  if (abs(x) > sqrt_xmax) {
    abort_arg(arg, sprintf("at most %s in size, so that %s is finite",
                           format(sqrt_xmax, digits = 4), what), x)
  }
  invisible(x)
}

# ---- elementary distributions -----------------------------------------------

#' Elementary weight distributions
#'
#' Schemes whose parameters do not depend on the layer's size.
#'
#' * `init_uniform(a, b)`: \eqn{U(a, b)}; variance \eqn{(b - a)^2 / 12}.
#' * `init_normal(mean, sd)`: \eqn{N(mean, sd^2)}.
#' * `init_truncated_normal(mean, sd, lower, upper)`: \eqn{N(mean, sd^2)}
#'   conditioned on lying in the bounds. With `bounds = "sd"` (the default,
#'   as in Keras and JAX) `lower` and `upper` are in units of `sd` around the
#'   mean; with `bounds = "absolute"` they are values, as in torch's
#'   `trunc_normal_(mean, std, a, b)`. The realized variance is smaller than
#'   `sd^2`: [weight_variance()] gives it exactly (for the default bounds,
#'   \eqn{0.8796^2 sd^2 = 0.7737 sd^2}).
#' * `init_constant(value)`, `init_zeros()`, `init_ones()`: every weight
#'   equal to `value`.
#'
#' @section Limits:
#' A scheme is refused at construction when its variance or its draws would
#' overflow a double: `b - a` and `sd` must be at most
#' `sqrt(.Machine$double.xmax)` (1.34e154), so that the variance is finite;
#' a truncated normal's realized variance and its draws `mean + sd * z`
#' (for `z` within the bounds and within 40 of the point of the bounds
#' nearest 0) must be finite, and with `bounds = "absolute"` the standardized
#' bounds must stay distinct. Tiny parameters are accepted: the draws are
#' exact, and a variance below the double range (`sd = 1e-200`, or the
#' truncation `[1e200, Inf]`, whose variance is about `1e-400`) is returned
#' as its nearest double, 0.
#'
#' @param a,b Bounds of the uniform distribution, `a < b`.
#' @param mean,sd Mean and standard deviation of the (parent) normal
#'   distribution; `sd > 0`.
#' @param lower,upper Truncation bounds, `lower < upper`; may be infinite.
#' @param bounds `"sd"`: bounds are in units of `sd` around `mean`;
#'   `"absolute"`: bounds are values.
#' @param value The constant.
#' @return An `initvar_scheme` object, for [sample_weights()],
#'   [weight_variance()] and [weight_mean()].
#' @seealso [init_variance_scaling()] for schemes scaled by the layer's fans.
#' @examples
#' init_uniform(-0.05, 0.05)
#' init_truncated_normal(sd = 0.02)
#' weight_variance(init_truncated_normal(), 10, 10)   # 0.7737, not 1
#' # torch's trunc_normal_(std = 0.02) truncates at -2 and 2, not at 2 sd:
#' weight_variance(init_truncated_normal(sd = 0.02, lower = -2, upper = 2,
#'                                       bounds = "absolute"), 10, 10)
#' @name init_elementary
NULL

#' @rdname init_elementary
#' @export
init_uniform <- function(a = 0, b = 1) {
  a <- check_number(a)
  b <- check_number(b)
  if (!(b > a)) {
    abort_arg("b", sprintf("greater than `a` (%s)", format(a)), b)
  }
  if (!is.finite(b - a) || !is.finite((b - a)^2 / 12)) {
    abort_arg("b", sprintf(paste0(
      "within %s of `a` (%s), so that the width `b` - `a` and the variance ",
      "(b - a)^2 / 12 are finite"), format(sqrt_xmax, digits = 4),
      format(a)), b)
  }
  new_scheme("uniform", "uniform", "uniform", a = a, b = b)
}

#' @rdname init_elementary
#' @export
init_normal <- function(mean = 0, sd = 1) {
  mean <- check_number(mean)
  sd <- check_number(sd, min = 0, min_open = TRUE)
  check_square_finite(sd, "sd", "the variance `sd`^2")
  check_draw_range(mean, sd, -draw_reach, draw_reach)
  new_scheme("normal", "normal", "normal", mean = mean, sd = sd)
}

#' @rdname init_elementary
#' @export
init_truncated_normal <- function(mean = 0, sd = 1, lower = -2, upper = 2,
                                  bounds = c("sd", "absolute")) {
  mean <- check_number(mean)
  sd <- check_number(sd, min = 0, min_open = TRUE)
  lower <- check_number(lower, finite = FALSE)
  upper <- check_number(upper, finite = FALSE)
  bounds <- check_choice(bounds, c("sd", "absolute"), "bounds")
  if (!(upper > lower)) {
    abort_arg("upper", sprintf("greater than `lower` (%s)", format(lower)), upper)
  }
  if (lower == Inf || upper == -Inf) {
    abort_arg("lower", "below `upper` with a non-empty interval between them", lower)
  }
  std <- if (bounds == "sd") c(lower, upper) else (c(lower, upper) - mean) / sd
  if (anyNA(std) || !(std[2] > std[1])) {
    abort_arg("sd", sprintf(
      "large enough to tell the bounds apart: (`upper` - `mean`) / `sd` must exceed (`lower` - `mean`) / `sd`, here %s and %s",
      format(std[2]), format(std[1])), sd)
  }
  # the standardized interval's mass, where it matters: draws are within 40
  # of its point closest to 0, and within the bounds
  reach <- c(if (std[2] < 0) max(std[1], std[2] - draw_reach) else max(std[1], -draw_reach),
             if (std[1] > 0) min(std[2], std[1] + draw_reach) else min(std[2], draw_reach))
  check_draw_range(mean, sd, reach[1], reach[2])
  tsd <- tn_stats(std[1], std[2])[["sd"]]
  if (!is.finite((sd * tsd)^2)) {
    abort_arg("sd", sprintf(
      "at most %s, so that the realized variance (%s x `sd`)^2 is finite",
      format(sqrt_xmax / tsd, digits = 4), format(tsd, digits = 4)), sd)
  }
  new_scheme("truncated_normal", "truncated normal", "truncated_normal",
             mean = mean, sd = sd, lower = std[1], upper = std[2],
             bounds = bounds, given = c(lower, upper))
}

#' @rdname init_elementary
#' @export
init_constant <- function(value = 0) {
  value <- check_number(value)
  new_scheme("constant", "constant", "constant", value = value)
}

#' @rdname init_elementary
#' @export
init_zeros <- function() init_constant(0)

#' @rdname init_elementary
#' @export
init_ones <- function() init_constant(1)

# ---- structured schemes -----------------------------------------------------

#' Structured initializations: identity, orthogonal, sparse
#'
#' * `init_identity(gain)`: `gain` on the diagonal, zero elsewhere; a
#'   rectangular matrix gets the diagonal of its top-left square. For a
#'   convolution kernel (`dim` with more than two entries) it is the Dirac
#'   delta of torch's `dirac_()`: `gain` at the centre of the kernel linking
#'   channel `i` to channel `i`.
#' * `init_orthogonal(gain)` (Saxe et al. 2014): a matrix with orthonormal
#'   columns (`fan_in >= fan_out`) or orthonormal rows (`fan_in < fan_out`),
#'   times `gain`. It is the Q factor of the QR decomposition (LAPACK
#'   `dgeqrf`) of a matrix of independent standard normals, with the signs of
#'   R's diagonal moved into Q, which makes it exactly Haar-distributed
#'   (Mezzadri 2007). A kernel is flattened to `fan_in x out_units` first.
#'   Each entry has mean 0 and variance `gain^2 / max(rows, cols)`.
#' * `init_sparse(sparsity, sd)` (Martens 2010): each **column**, i.e. the
#'   `fan_in` incoming weights of one output unit, has exactly
#'   `ceiling(sparsity * fan_in)` zeros at uniformly random positions; the
#'   other weights are \eqn{N(0, sd^2)}. Libraries disagree on the
#'   orientation: torch's `sparse_()` zeroes a fraction of each column of its
#'   `(out, in)` weight, that is of the *outgoing* weights of each input unit
#'   (a row in initvar's layout), with `ceiling(sparsity * fan_out)` zeros.
#'   `sample_weights(init_sparse(s), dim = c(out, in), layout = "torch")`
#'   reproduces torch's pattern exactly; in initvar's own layout, sample the
#'   transpose: `t(sample_weights(init_sparse(s), fan_out, fan_in))`. The
#'   number of zeros is `ceiling(sparsity * n)` computed in floating point, as
#'   torch computes it: `0.28 * 25` is `7.000000000000001`, so 8 zeros.
#'
#' @param gain Positive multiplier, at most `sqrt(.Machine$double.xmax)`
#'   (1.34e154) so that the variance is finite.
#' @param sparsity Fraction of zeros in each column, in `[0, 1)`.
#' @param sd Standard deviation of the non-zero weights, `sd > 0`, at most
#'   1.34e154.
#' @inherit init_elementary return
#' @examples
#' W <- sample_weights(init_orthogonal(), 6, 4)
#' round(crossprod(W), 12)
#' sample_weights(init_identity(), 3, 5)
#' W <- sample_weights(init_sparse(0.75), 8, 3)
#' colSums(W == 0)   # 6 zeros in each column
#' @name init_structured
NULL

#' @rdname init_structured
#' @export
init_identity <- function(gain = 1) {
  gain <- check_number(gain, min = 0, min_open = TRUE)
  check_square_finite(gain, "gain", "the variance, a multiple of `gain`^2,")
  new_scheme("identity", "identity", "identity", gain = gain)
}

#' @rdname init_structured
#' @export
init_orthogonal <- function(gain = 1) {
  gain <- check_number(gain, min = 0, min_open = TRUE)
  check_square_finite(gain, "gain", "the variance `gain`^2 / max(fan_in, fan_out)")
  new_scheme("orthogonal", "orthogonal (Haar)", "orthogonal", gain = gain,
             reference = "Saxe, McClelland & Ganguli (2014); Mezzadri (2007)")
}

#' @rdname init_structured
#' @export
init_sparse <- function(sparsity = 0.9, sd = 0.01) {
  sparsity <- check_number(sparsity, min = 0, max = 1, max_open = TRUE)
  sd <- check_number(sd, min = 0, min_open = TRUE)
  check_square_finite(sd, "sd", "the variance `sd`^2")
  new_scheme("sparse", "sparse", "sparse", sparsity = sparsity, sd = sd,
             reference = "Martens (2010)")
}

# ---- variance scaling -------------------------------------------------------

#' Variance-scaling initializations: Glorot, He, LeCun and the general form
#'
#' `init_variance_scaling(scale, mode, distribution)` draws weights with
#' variance \eqn{scale / n}, where \eqn{n} is chosen by `mode`:
#' `fan_in`, `fan_out`, `fan_avg` \eqn{= (fan_in + fan_out) / 2} or
#' `fan_geo_avg` \eqn{= \sqrt{fan_in \cdot fan_out}}. The named schemes are
#' special cases:
#'
#' | scheme | scale | mode |
#' |---|---|---|
#' | `init_glorot(gain)` (Xavier; Glorot & Bengio 2010, eqs. 12, 16) | `gain^2` | `fan_avg` |
#' | `init_he(a)` (Kaiming; He et al. 2015) | `2 / (1 + a^2)` | `fan_in` (or `fan_out`) |
#' | `init_lecun()` (LeCun et al. 1998) | 1 | `fan_in` |
#' | `init_glorot_standard()` (Glorot & Bengio 2010, eq. 1) | 1/3 | `fan_in`, uniform |
#' | `init_torch_default()` (`nn.Linear`'s `kaiming_uniform_(a = sqrt(5))`) | 1/3 | `fan_in`, uniform |
#'
#' With variance \eqn{v}: `"uniform"` is \eqn{U(-\sqrt{3v}, \sqrt{3v})};
#' `"normal"` is \eqn{N(0, v)}; `"truncated_normal"` is a normal truncated
#' at two standard deviations whose standard deviation is first divided by
#' 0.87962566103423978 (the standard deviation of \eqn{N(0, 1)} truncated to
#' \eqn{[-2, 2]}), so that the realized variance is exactly \eqn{v}.
#'
#' @section Framework conventions:
#' The frameworks agree on the variance formulas and on uniform draws but not
#' on what "normal" means. `convention` reproduces each:
#'
#' * `"initvar"` (default) and `"torch"`: `"normal"` is an untruncated
#'   normal, as in torch's `xavier_normal_()` and `kaiming_normal_()`. torch
#'   has no truncated variance-scaling initializer, so `"truncated_normal"`
#'   is an error under `"torch"`.
#' * `"keras"`: `glorot_normal`, `he_normal`, `lecun_normal` and
#'   `VarianceScaling(distribution = "normal")` (a legacy alias) are all the
#'   *corrected* truncated normal: realized variance = target.
#' * `"jax"`: `glorot_normal`, `he_normal` and `lecun_normal` are the corrected
#'   truncated normal, but `variance_scaling(distribution = "normal")` is
#'   untruncated.
#' * `"tfjs"`: every normal is truncated at 2 sd *without* the correction, so
#'   the realized variance is \eqn{0.8796^2 = 0.7737} of the target.
#'
#' @param scale Positive variance scale, at least `.Machine$double.xmin`.
#' @param mode Which fan divides `scale`.
#' @param distribution `"uniform"`, `"normal"` or `"truncated_normal"`.
#' @param gain Glorot's gain: the variance is multiplied by `gain^2`; see
#'   [gain()]. `gain^2` must be a positive finite double, not 0 or `Inf`:
#'   `1.5e-154 <= gain <= 1.3e154`.
#' @param a He et al.'s negative slope of the leaky ReLU that follows the
#'   layer (0 for ReLU). The scale `2 / (1 + a^2)` must be a positive double,
#'   not 0: `|a| <= 9.5e153`.
#' @param convention Whose meaning of "normal" to use; see the section below.
#' @param ... Nothing: an argument not listed is an error that names it
#'   (torch's `nonlinearity` points to [init_kaiming()]).
#' @inherit init_elementary return
#' @references
#' Glorot, X. and Bengio, Y. (2010). Understanding the difficulty of training
#' deep feedforward neural networks. AISTATS.
#'
#' He, K., Zhang, X., Ren, S. and Sun, J. (2015). Delving deep into
#' rectifiers. ICCV.
#'
#' LeCun, Y., Bottou, L., Orr, G. and Mueller, K.-R. (1998). Efficient
#' BackProp. In Neural Networks: Tricks of the Trade.
#' @examples
#' init_glorot()
#' weight_variance(init_glorot(), fan_in = 1000, fan_out = 1000)   # 1e-3
#' weight_variance(init_he(), 512, 256)                            # 2 / 512
#' # the same "glorot_normal" in four frameworks
#' sapply(c("torch", "keras", "jax", "tfjs"), function(cv)
#'   weight_variance(init_glorot("normal", convention = cv), 100, 100))
#' @name init_variance_scaling
NULL

#' @rdname init_variance_scaling
#' @export
init_variance_scaling <- function(scale = 1,
                                  mode = c("fan_in", "fan_out", "fan_avg", "fan_geo_avg"),
                                  distribution = c("truncated_normal", "normal", "uniform"),
                                  convention = c("initvar", "torch", "keras", "jax", "tfjs")) {
  scale <- check_number(scale, min = 0, min_open = TRUE)
  check_scale(scale, "scale", "`scale`")
  mode <- check_choice(mode, c("fan_in", "fan_out", "fan_avg", "fan_geo_avg"), "mode")
  distribution <- check_choice(distribution, c("truncated_normal", "normal", "uniform"),
                               "distribution")
  convention <- check_choice(convention, conventions, "convention")
  vs_scheme("variance_scaling", "variance scaling", scale, mode, distribution,
            convention, named = FALSE)
}

# A variance scale must be a positive normal double: 0 (underflow) would
# give all-zero weights, Inf infinite ones.
check_scale <- function(scale, arg, what, x = scale) {
  if (!(is.finite(scale) && scale >= .Machine$double.xmin)) {
    abort_arg(arg, sprintf(
      "a value for which the variance scale %s is a positive finite double (between %s and %s)",
      what, format(.Machine$double.xmin, digits = 4),
      format(.Machine$double.xmax, digits = 4)), x)
  }
  invisible(scale)
}

# Normal draws mean + z sd, lo <= z <= hi, must be finite.
check_draw_range <- function(mean, sd, lo, hi) {
  ends <- mean + sd * c(lo, hi)
  if (!all(is.finite(ends))) {
    abort_arg("sd", sprintf(
      "small enough that draws stay finite: `mean` + z `sd` overflows for z in [%s, %s] with `mean` = %s",
      format(lo, digits = 4), format(hi, digits = 4), format(mean)), sd)
  }
  invisible(TRUE)
}

vs_scheme <- function(name, label, scale, mode, distribution, convention,
                      named, reference = NULL, ...) {
  # What `distribution` means under `convention`: the family drawn, and
  # whether a truncated normal's sd is corrected.
  family <- distribution
  corrected <- NA
  if (distribution != "uniform") {
    if (convention == "torch" && distribution == "truncated_normal") {
      abort(paste0(
        "`distribution = \"truncated_normal\"` has no torch equivalent: torch's ",
        "xavier/kaiming initializers are uniform or untruncated normal. Use ",
        "`convention = \"keras\"`, or `init_truncated_normal()` for torch's ",
        "`trunc_normal_()`."))
    }
    truncate <- switch(convention,
      initvar = , torch = distribution == "truncated_normal",
      keras = TRUE,
      jax = distribution == "truncated_normal" || named,
      tfjs = TRUE)
    if (truncate) {
      family <- "truncated_normal"
      corrected <- convention != "tfjs"
    }
  }
  new_scheme(name, label, "variance_scaling", scale = scale, mode = mode,
             distribution = distribution, draw = family, corrected = corrected,
             convention = convention, reference = reference, ...)
}

#' @rdname init_variance_scaling
#' @export
init_glorot <- function(distribution = c("uniform", "normal", "truncated_normal"),
                        gain = 1,
                        convention = c("initvar", "torch", "keras", "jax", "tfjs"), ...) {
  check_dots(...)
  distribution <- check_choice(distribution, c("uniform", "normal", "truncated_normal"),
                               "distribution")
  gain <- check_number(gain, min = 0, min_open = TRUE)
  check_scale(gain^2, "gain", "`gain`^2", gain)
  convention <- check_choice(convention, conventions, "convention")
  vs_scheme("glorot", paste("Glorot (Xavier)", sub("_", " ", distribution)),
            gain^2, "fan_avg", distribution, convention, named = TRUE,
            reference = "Glorot & Bengio (2010), eq. 12 (eq. 16 for uniform)",
            gain = gain)
}

#' @rdname init_variance_scaling
#' @export
init_he <- function(distribution = c("normal", "uniform", "truncated_normal"),
                    a = 0, mode = c("fan_in", "fan_out"),
                    convention = c("initvar", "torch", "keras", "jax", "tfjs"), ...) {
  check_dots(...)
  distribution <- check_choice(distribution, c("normal", "uniform", "truncated_normal"),
                               "distribution")
  a <- check_number(a)
  check_scale(2 / (1 + a^2), "a", "2 / (1 + `a`^2)", a)
  mode <- check_choice(mode, c("fan_in", "fan_out"), "mode")
  convention <- check_choice(convention, conventions, "convention")
  vs_scheme("he", paste("He (Kaiming)", sub("_", " ", distribution)),
            2 / (1 + a^2), mode, distribution, convention, named = TRUE,
            reference = "He, Zhang, Ren & Sun (2015), eq. 10", a = a)
}

#' @rdname init_variance_scaling
#' @export
init_lecun <- function(distribution = c("normal", "uniform", "truncated_normal"),
                       convention = c("initvar", "torch", "keras", "jax", "tfjs"), ...) {
  check_dots(...)
  distribution <- check_choice(distribution, c("normal", "uniform", "truncated_normal"),
                               "distribution")
  convention <- check_choice(convention, conventions, "convention")
  vs_scheme("lecun", paste("LeCun", sub("_", " ", distribution)),
            1, "fan_in", distribution, convention, named = TRUE,
            reference = "LeCun, Bottou, Orr & Mueller (1998)")
}

#' @rdname init_variance_scaling
#' @export
init_glorot_standard <- function() {
  vs_scheme("glorot_standard", "Glorot & Bengio's \"standard\" U[-1/sqrt(fan_in), 1/sqrt(fan_in)]",
            1 / 3, "fan_in", "uniform", "initvar", named = TRUE,
            reference = "Glorot & Bengio (2010), eq. 1")
}

#' @rdname init_variance_scaling
#' @export
init_torch_default <- function() {
  vs_scheme("torch_default",
            "torch nn.Linear default: kaiming_uniform_(a = sqrt(5)) = U[-1/sqrt(fan_in), 1/sqrt(fan_in)]",
            1 / 3, "fan_in", "uniform", "torch", named = TRUE,
            reference = "torch.nn.Linear.reset_parameters()")
}

# ---- resolution to concrete parameters --------------------------------------

# "scale / n" as a reader would write it.
vs_formula <- function(scale, mode) {
  fmt <- function(v) format(v, digits = 6)
  if (isTRUE(all.equal(scale, 1 / 3))) {
    return(sprintf("1 / (3 %s)", switch(mode, fan_in = "fan_in", fan_out = "fan_out",
      fan_avg = "(fan_in + fan_out) / 2", fan_geo_avg = "sqrt(fan_in fan_out)")))
  }
  switch(mode,
    fan_in = sprintf("%s / fan_in", fmt(scale)),
    fan_out = sprintf("%s / fan_out", fmt(scale)),
    fan_avg = sprintf("%s / (fan_in + fan_out)", fmt(2 * scale)),
    fan_geo_avg = sprintf("%s / sqrt(fan_in fan_out)", fmt(scale)))
}

mode_n <- function(mode, fan_in, fan_out) {
  switch(mode, fan_in = fan_in, fan_out = fan_out,
         fan_avg = (fan_in + fan_out) / 2,
         fan_geo_avg = sqrt(fan_in * fan_out))
}

# The concrete distribution a scheme draws from for a given layer.
# rows x cols is the matrix the structured schemes work on (fan_in x
# out_units); total is the number of entries; diag the number of identity
# entries.
resolve_scheme <- function(scheme, fan_in, fan_out, rows = fan_in,
                           cols = fan_out, total = rows * cols,
                           diag = min(rows, cols), kernel = scheme$kernel, dim = NULL) {
  if (scheme$family != "variance_scaling") {
    # (kernel: the taps, centre tap and groups of a conv kernel, for
    # init_delta_orthogonal(); NULL for a matrix. dim: the shape, for
    # init_s4d()'s N)
    return(family_of(scheme$family)$resolve(scheme, rows, cols, total, diag, kernel = kernel,
                                            dim = dim))
  }
  switch(scheme$family,
    variance_scaling = {
      v <- scheme$scale / mode_n(scheme$mode, fan_in, fan_out)
      switch(scheme$draw,
        uniform = list(family = "uniform", a = -sqrt(3 * v), b = sqrt(3 * v)),
        normal = list(family = "normal", mean = 0, sd = sqrt(v)),
        truncated_normal = list(
          family = "truncated_normal", mean = 0,
          sd = if (isTRUE(scheme$corrected)) sqrt(v) / trunc_sd_correction else sqrt(v),
          lower = -2, upper = 2))
    })
}

# ---- print and format -------------------------------------------------------

scheme_distribution_text <- function(x) {
  fmt <- function(v) format(v, digits = 6)
  if (x$family != "variance_scaling") return(family_of(x$family)$text(x, fmt))
  switch(x$family,
    variance_scaling = switch(x$draw,
      uniform = "U(-sqrt(3 v), sqrt(3 v))",
      normal = "N(0, v)",
      truncated_normal = if (isTRUE(x$corrected)) {
        "N(0, (sqrt(v) / 0.8796)^2) truncated at 2 sd: realized variance v"
      } else {
        "N(0, v) truncated at 2 sd: realized variance 0.7737 v"
      }))
}

scheme_variance_text <- function(x) {
  fmt <- function(v) format(v, digits = 6)
  switch(x$family,
    variance_scaling = {
      v <- vs_formula(x$scale, x$mode)
      if (identical(x$draw, "truncated_normal") && isFALSE(x$corrected)) {
        sprintf("Var(W) = 0.7737 v, v = %s (truncated without correction)", v)
      } else {
        sprintf("Var(W) = v = %s", v)
      }
    },
    orthogonal = sprintf("Var(W) = %s^2 / max(fan_in, fan_out)", fmt(x$gain)),
    delta_orthogonal = sprintf(
      "Var(W) = %s^2 / (taps * max(c_in, c_out) / groups), over the whole kernel", fmt(x$gain)),
    conv_orthogonal = sprintf(
      "Var(W) = %s^2 / (taps * max(c_in, c_out) / groups), over the whole kernel", fmt(x$gain)),
    sparse = sprintf("Var(W) = %s^2 * (1 - ceiling(%s * fan_in) / fan_in)",
                     fmt(x$sd), fmt(x$sparsity)),
    identity = "fixed entries (see ?weight_variance)",
    sprintf("Var(W) = %s", fmt(dist_moments(resolve_scheme(x, 1, 1))[["var"]])))
}

#' @export
format.initvar_scheme <- function(x, ...) {
  sprintf("%s: %s", x$label, scheme_variance_text(x))
}

#' @export
print.initvar_scheme <- function(x, ...) {
  cat("<initvar scheme> ", x$label, "\n", sep = "")
  cat("  draws:      ", scheme_distribution_text(x), "\n", sep = "")
  cat("  variance:   ", scheme_variance_text(x), "\n", sep = "")
  if (!is.null(x$convention) && x$family == "variance_scaling") {
    cat("  convention: ", x$convention, "\n", sep = "")
  }
  if (!is.null(x$reference)) cat("  reference:  ", x$reference, "\n", sep = "")
  invisible(x)
}
