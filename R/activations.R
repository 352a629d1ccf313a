# Activation functions known by name, with their derivatives and kinks: the
# points where f or one of its derivatives jumps, where the quadrature of
# normal_expectation() splits its panels. `text` is the formula print()
# shows; `code` is the activation's code in the C engine, where act_eval()
# (src/activations.h) evaluates it and IV_ACTIVATIONS (src/vocab.h) names
# it (test-vocabulary.R checks that the two agree).

selu_alpha <- 1.6732632423543772848170429916717
selu_lambda <- 1.0507009873554804934193349852946
gelu_tanh_c <- sqrt(2 / pi)

# 1 + tanh(u) = 2 plogis(2 u) and 1 - tanh(u)^2 = 4 plogis(2 u) plogis(-2 u),
# without the cancellation of 1 + tanh(u) for u << 0.
gelu_tanh_u <- function(x) gelu_tanh_c * (x + 0.044715 * x^3)

# softplus(x) = log(1 + e^x), without overflow or cancellation
softplus <- function(x) log1p(exp(-abs(x))) + pmax(x, 0)

activation_table <- list(
  linear = list(code = 0L, text = "x", f = function(x, p) x, df = function(x, p) rep(1, length(x))),
  tanh = list(code = 1L, text = "tanh(x)", f = function(x, p) tanh(x), df = function(x, p) 1 - tanh(x)^2),
  sigmoid = list(code = 2L, text = "1 / (1 + exp(-x))", f = function(x, p) stats::plogis(x),
                 df = function(x, p) { s <- stats::plogis(x); s * (1 - s) }),
  softsign = list(code = 3L, text = "x / (1 + |x|)", kinks = 0, f = function(x, p) x / (1 + abs(x)),
                  df = function(x, p) 1 / (1 + abs(x))^2),
  relu = list(code = 4L, text = "max(x, 0)", kinks = 0, f = function(x, p) pmax(x, 0),
              df = function(x, p) as.double(x > 0)),
  leaky_relu = list(code = 5L, text = "x if x > 0, param * x otherwise", kinks = 0,
                    f = function(x, p) ifelse(x > 0, x, p * x),
                    df = function(x, p) ifelse(x > 0, 1, p), param = 0.01),
  elu = list(code = 8L, text = "x if x > 0, param * (exp(x) - 1) otherwise", kinks = 0,
             f = function(x, p) ifelse(x > 0, x, p * expm1(x)),
             df = function(x, p) ifelse(x > 0, 1, p * exp(x)), param = 1),
  selu = list(code = 6L, text = "1.0507 * (x if x > 0, 1.6733 * (exp(x) - 1) otherwise)", kinks = 0,
              f = function(x, p) selu_lambda * ifelse(x > 0, x, selu_alpha * expm1(x)),
              df = function(x, p) selu_lambda * ifelse(x > 0, 1, selu_alpha * exp(x))),
  scaled_tanh = list(code = 7L, text = "1.7159 * tanh(2 x / 3)", f = function(x, p) 1.7159 * tanh(2 * x / 3),
                     df = function(x, p) 1.7159 * 2 / 3 * (1 - tanh(2 * x / 3)^2)),
  gelu = list(code = 9L, text = "x * Phi(x), Phi the standard normal CDF (exact GELU)",
              f = function(x, p) x * stats::pnorm(x),
              df = function(x, p) stats::pnorm(x) + x * stats::dnorm(x)),
  gelu_tanh = list(code = 10L, text = "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (GELU, tanh approximation)",
                   f = function(x, p) x * stats::plogis(2 * gelu_tanh_u(x)),
                   df = function(x, p) {
                     u2 <- 2 * gelu_tanh_u(x)
                     a <- stats::plogis(u2)
                     pq <- a * stats::plogis(-u2)
                     tail <- ifelse(pq == 0, 0,
                                    x * pq * 2 * gelu_tanh_c * (1 + 3 * 0.044715 * x^2))
                     a + tail
                   }),
  silu = list(code = 11L, text = "x * sigmoid(x) (SiLU, swish)",
              f = function(x, p) x * stats::plogis(x),
              df = function(x, p) stats::plogis(x) * (1 + x * stats::plogis(-x))),
  mish = list(code = 12L, text = "x * tanh(softplus(x)), softplus(x) = log(1 + exp(x))",
              f = function(x, p) x * tanh(softplus(x)),
              df = function(x, p) {
                sp <- softplus(x)
                e <- exp(-2 * sp)
                # sech^2(sp) = 4 e^(-2 sp) / (1 + e^(-2 sp))^2, exact for large sp
                tanh(sp) + x * 4 * e / (1 + e)^2 * stats::plogis(x)
              })
)

# The C codes by name; "r_function" (an R function called back from C,
# ACT_R) comes last. An entry without a `code` has no C case yet: it runs
# through the R-function path.
activation_codes <- local({
  codes <- unlist(lapply(activation_table, `[[`, "code"))
  c(codes, r_function = max(codes) + 1L)
})

activation_aliases <- c(identity = "linear", conv1d = "linear", conv2d = "linear",
                        conv3d = "linear", conv_transpose1d = "linear",
                        conv_transpose2d = "linear", conv_transpose3d = "linear",
                        logistic = "sigmoid", lecun_tanh = "scaled_tanh",
                        swish = "silu")

activation_names <- function() c(names(activation_table), names(activation_aliases))

canonical_activation <- function(name, arg = "activation") {
  check_string(name, arg)
  if (name %in% names(activation_aliases)) return(activation_aliases[[name]])
  if (!name %in% names(activation_table)) {
    e <- tryCatch(
      abort_arg(arg, paste0("a known activation (",
                            paste0("\"", names(activation_table), "\"", collapse = ", "),
                            "; torch's aliases in ?activation) or a function"), name),
      error = function(e) e)
    e$message <- paste0(conditionMessage(e), did_you_mean(name, activation_names()))
    stop(e)
  }
  name
}

# ---- R functions as activations ----------------------------------------------

# A short label for a function given without a name.
function_label <- function(f) {
  if (is.primitive(f)) return(sub('^\\.Primitive\\("(.*)"\\)$', "\\1", deparse(f)[1]))
  txt <- paste(trimws(deparse(f, control = NULL)), collapse = " ")
  txt <- gsub("\\s+", " ", sub("^function \\(", "function(", txt))
  if (nchar(txt) > 50) txt <- paste0(substr(txt, 1, 47), "...")
  txt
}

# The derivative of a one-argument function by stats::D(), as a vectorized
# function, or NULL when D() cannot differentiate its body (pmax, abs,
# plogis, ifelse, several statements, ...).
symbolic_derivative <- function(f) {
  if (is.primitive(f)) {
    nm <- function_label(f)
    arg <- "x"
    body <- call(nm, as.name("x"))
    fm <- as.pairlist(alist(x = ))
    env <- baseenv()
  } else {
    fm <- formals(f)
    if (length(fm) != 1) return(NULL)
    arg <- names(fm)
    body <- body(f)
    while (is.call(body) && identical(body[[1]], as.name("{")) && length(body) == 2) {
      body <- body[[2]]
    }
    env <- environment(f)
  }
  d <- tryCatch(stats::D(body, arg), error = function(e) NULL)
  if (is.null(d)) return(NULL)
  g <- function() NULL
  formals(g) <- fm
  # a constant derivative (D(x) is 1) still gives one value per input
  body(g) <- call("rep_len", d, call("length", as.name(arg)))
  environment(g) <- env
  g
}

# Five-point central difference, h = eps^(1/5) max(|x|, 1) (made exactly
# representable): truncation error h^4 |f^(5)| / 30 and rounding error
# about 1.5 eps |f| / h, both near 1e-13 relative for a smooth f on the
# scale of max(|x|, 1). Within 2h of a kink the stencil is one-sided (on
# the side of x; the right side at the kink itself), so it does not
# straddle the bend.
numeric_derivative <- function(f, kinks = numeric()) {
  force(f)
  force(kinks)
  function(x) {
    h <- .Machine$double.eps^(1 / 5) * pmax(abs(x), 1)
    h <- (x + h) - x
    out <- (f(x - 2 * h) - 8 * f(x - h) + 8 * f(x + h) - f(x + 2 * h)) / (12 * h)
    if (length(kinks)) {
      near <- vapply(x, function(xx) {
        k <- kinks[which.min(abs(kinks - xx))]
        if (abs(xx - k) < 2.5 * max(abs(xx), 1) * .Machine$double.eps^(1 / 5)) k else NA_real_
      }, 0)
      one <- which(!is.na(near))
      if (length(one)) {
        xs <- x[one]
        hs <- ifelse(xs < near[one], -h[one], h[one])
        out[one] <- (-25 * f(xs) + 48 * f(xs + hs) - 36 * f(xs + 2 * hs) +
                       16 * f(xs + 3 * hs) - 3 * f(xs + 4 * hs)) / (12 * hs)
      }
    }
    out
  }
}

# The derivative of `f`: symbolic when D() can do it and agrees with the
# numerical one at a few smooth points, numerical otherwise.
derive_activation <- function(f, kinks) {
  num <- numeric_derivative(f, kinks)
  sym <- symbolic_derivative(f)
  if (!is.null(sym)) {
    x <- c(-2.7, -1.1, -0.35, 0.45, 1.3, 2.9)
    x <- x[vapply(x, function(xx) all(abs(xx - kinks) > 0.05), TRUE)]
    a <- tryCatch(sym(x), error = function(e) NULL)
    b <- num(x)
    if (is.numeric(a) && length(a) == length(x) && all(is.finite(a)) &&
        all(abs(a - b) <= 1e-6 * (1 + abs(b)))) {
      return(list(df = sym, method = "symbolic (stats::D)"))
    }
  }
  list(df = num, method = "numerical (five-point central difference)")
}

check_activation_function <- function(f, arg) {
  if (!is.function(f)) abort_arg(arg, "a vectorized R function", f)
  why <- activation_function_problem(f)
  if (!is.null(why)) {
    abort(sprintf("`%s` must be a vectorized R function returning one number per input: %s.",
                  arg, why))
  }
  invisible(f)
}

# Why `f` is not a vectorized function of one argument (NULL when it is):
# it is probed on inputs of several lengths (1, 5 and 7), since the
# derivatives and expectations call it on vectors of any length.
activation_function_problem <- function(f) {
  probes <- list(0.3, c(-2, -0.5, 0, 0.5, 2), seq(-3, 3, length.out = 7))
  for (x in probes) {
    call <- sprintf("f(%s)", if (length(x) == 1) format(x) else
      sprintf("c(%s)", paste(format(x, digits = 3, trim = TRUE), collapse = ", ")))
    v <- tryCatch(f(x), error = function(e) e)
    if (inherits(v, "error")) {
      return(sprintf("%s fails (%s)", call, conditionMessage(v)))
    }
    if (!is.numeric(v)) {
      return(sprintf("%s returns %s, not numbers", call, describe(v)))
    }
    if (length(v) != length(x)) {
      return(sprintf("%s returns %d value%s for %d input%s", call, length(v),
                     if (length(v) == 1) "" else "s", length(x), if (length(x) == 1) "" else "s"))
    }
  }
  NULL
}

check_kinks <- function(kinks) {
  if (is.null(kinks)) return(numeric())
  if (!is.numeric(kinks) || anyNA(kinks) || any(!is.finite(kinks))) {
    abort_arg("kinks", "NULL or a vector of finite numbers (where the function bends)", kinks)
  }
  sort(unique(as.double(kinks)))
}
