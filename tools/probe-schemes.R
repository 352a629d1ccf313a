# Systematic probe of malformed and edge-case calls to the sampling API.
#
#   R_LIBS=/tmp/lib-x Rscript tools/probe-schemes.R [verbose]
#
# Not run by the tests or CI. Each call runs in a forked child
# (parallel::mcparallel), one at a time, so a crash is counted instead of
# ending the probe. A call passes when it either
#   * fails with a clear R error: the message names an argument in
#     backticks and the error is raised in R, not by a .Call, or
#   * returns a value that keeps the contract: a scheme whose moments are
#     finite, whose samples are finite, of the shape asked for, and whose
#     sample mean and variance agree (loosely) with weight_mean() and
#     weight_variance(); finite moments; fans that are positive whole
#     numbers; a gain that is a positive finite number (and the right one).
# Anything else is a "silent accept" (a wrong value without a word), an
# "unclear error", or a "crash". The last line gives the counts.
suppressPackageStartupMessages(library(initvar))
verbose <- "verbose" %in% commandArgs(TRUE)

bad <- list(NA, NaN, Inf, -Inf, 0, -1, 1e308, -1e308, 1e-308, 1e-200, 1e200,
            c(1, 2), list(1), "a", NULL, TRUE, NA_integer_, 2.5, matrix(1),
            factor("a"), numeric(0), 1e154, 1e-160)

calls <- list()
add <- function(fun, args, type = fun, expect = NULL) {
  calls[[length(calls) + 1]] <<- list(fun = fun, args = args, type = type,
                                      expect = expect)
}

# every constructor, every argument, every bad value
ctor_args <- list(
  init_uniform = c("a", "b"), init_normal = c("mean", "sd"),
  init_truncated_normal = c("mean", "sd", "lower", "upper"),
  init_constant = "value", init_identity = "gain", init_orthogonal = "gain",
  init_sparse = c("sparsity", "sd"), init_variance_scaling = "scale",
  init_glorot = "gain", init_he = "a")
for (fn in names(ctor_args)) for (arg in ctor_args[[fn]]) for (b in bad) {
  args <- list(b)
  names(args) <- arg
  if (is.null(b)) args <- structure(list(NULL), names = arg)
  add(fn, args, "scheme")
}
# hand-picked overflow and precision cases
add("init_uniform", list(a = -1e308, b = 1e308), "scheme")
add("init_uniform", list(a = -1e200, b = 1e200), "scheme")
add("init_uniform", list(a = 1e308, b = 1.7e308), "scheme")
add("init_normal", list(mean = 1e308, sd = 1e308), "scheme")
add("init_normal", list(mean = 1.79e308, sd = 1e300), "scheme")
add("init_truncated_normal", list(sd = 1e200, lower = -Inf, upper = Inf), "scheme")
add("init_truncated_normal", list(sd = 1e300, lower = 1e10, upper = Inf), "scheme")
add("init_truncated_normal", list(mean = 1e308, sd = 1e307, lower = 5, upper = 10), "scheme")
add("init_truncated_normal", list(sd = 1e100, lower = 1e200, upper = Inf), "scheme")
add("init_truncated_normal", list(lower = 1e200, upper = Inf), "scheme")
add("init_truncated_normal", list(lower = -1e-300, upper = 1e-300), "scheme")
add("init_truncated_normal", list(lower = -3, upper = 3, bounds = "absolute", sd = 1e-300), "scheme")
add("init_truncated_normal", list(lower = -1e308, upper = 1e308, bounds = "absolute", sd = 1e-10), "scheme")
add("init_truncated_normal", list(lower = 2, upper = 2 + 1e-15), "scheme")
add("init_sparse", list(sparsity = 0.999999, sd = 1), "scheme")
add("init_he", list(a = 1e154), "scheme")
add("init_he", list(a = -1e200), "scheme")
add("init_glorot", list(gain = 1e-200), "scheme")
add("init_variance_scaling", list(scale = 1e308), "scheme")
add("init_variance_scaling", list(scale = 1e-320), "scheme")
add("init_identity", list(gain = 1e200), "scheme")
add("init_orthogonal", list(gain = 1e200), "scheme")
for (ar in list(list(distribution = "normal"), list(distribution = "truncated_normal"),
                list(distribution = NA), list(distribution = 1), list(convention = "tfjs"),
                list(distribution = c("uniform", "normal")), list(convention = NULL)))
  add("init_glorot", ar, "scheme")

# sampling and moments: fans, dim, layout, threads
s_ok <- list(init_glorot(), init_normal(), init_orthogonal(), init_sparse(0.5),
             init_identity(), init_truncated_normal())
for (f in c("sample_weights", "weight_variance", "weight_mean")) {
  for (b in bad) {
    add(f, list(init_glorot(), b, 10))
    add(f, list(init_glorot(), 10, b))
    add(f, list(init_he(), dim = b))
  }
  for (s in s_ok) {
    add(f, list(s, 10, 20, dim = c(5, 5)))
    add(f, list(s, 5, 5, dim = c(5, 5)))
    add(f, list(s, c(10, 20), c(20, 30)))
    add(f, list(s, c(10, 20, 30), c(20, 30)))
    add(f, list(s, 1, 1))
    add(f, list(s, dim = c(4, 3, 2, 2), layout = "keras"))
  }
  add(f, list(init_glorot(), dim = c(3, 3), layout = NA))
  add(f, list(init_glorot(), dim = c(3, 3), layout = c("torch", "keras", "x")))
  add(f, list(init_normal(), dim = 1))
  add(f, list(init_glorot(), 10, dim = c(20, 10)))
  add(f, list(init_glorot(), "10", 10))
  add(f, list(init_glorot(), 10, 20, dim = c(20, 10), layout = "keras"))
  add(f, list(init_glorot(), 10, 20, dim = c(20, 10)))
  add(f, list(init_glorot(), "a", dim = c(5, 5)))
  add(f, list(init_glorot(), NA, dim = c(5, 5)))
  add(f, list(init_normal(), 5, dim = 5))
}
for (b in bad) add("sample_weights", list(init_normal(), 3, 3, threads = b))
# whole expressions, for schemes that may not construct
thunk <- function(expr) add("eval", list(substitute(expr)), "thunk")
thunk(sample_weights(init_uniform(-1e308, 1e308), dim = 5))
thunk(sample_weights(init_normal(sd = 1e308), dim = 5))
thunk(sample_weights(init_glorot(gain = 1e200), 10, 10))
thunk(sample_weights(init_he(a = 1e200), 10, 10))
thunk(sample_weights(init_truncated_normal(sd = 1e200, lower = 1e200, upper = Inf), dim = 5))
thunk(sample_weights(init_he(), c(10, 20, 30), c(20, 30)))
thunk(sample_weights(init_he(), c(10, NA), c(20, 30)))
# fans
for (b in bad) add("fans", list(b))
for (b in list(NA, "jax", c("torch", "x"), 1, NULL)) add("fans", list(c(3, 3), layout = b))
add("fans", list(c(2^31, 2)))
add("fans", list(c(2^20, 2^20, 2^20, 2^20)))
add("fans", list(5, layout = "keras"))
# gain
for (b in bad) {
  add("gain", list(b))
  add("gain", list("leaky_relu", b))
  add("gain", list("elu", b, method = "gauss_hermite"))
  add("gain", list("tanh", method = "gauss_hermite", nodes = b))
  add("gain", list("tanh", method = b))
}
divergent <- list(function(x) exp(x^2), function(x) 1 / x, function(x) 1 / sqrt(abs(x)),
                  function(x) exp(x^2 / 4), function(x) 1 / (x - 1), function(x) exp(exp(x)),
                  function(x) 1 / abs(x)^0.7, function(x) tan(x))
for (f in divergent) add("gain", list(f), expect = "error")
finite <- list(list(function(x) x^2, 1 / sqrt(3)), list(function(x) abs(x), 1),
               list(function(x) exp(x), exp(-1)), list(function(x) tanh(x), NA),
               list(function(x) pmax(x, 0), 1 / sqrt(0.5)), list(function(x) x, 1),
               list(function(x) stats::plogis(x), NA), list(function(x) x / (1 + abs(x)), NA),
               list(function(x) as.numeric(x > 0), sqrt(2)), list(function(x) sign(x), 1),
               list(function(x) exp(0.2 * x^2), (1 - 0.8)^0.25),
               list(function(x) abs(x)^-0.25, NA), list(function(x) x^5, 1 / sqrt(945)))
for (f in finite) add("gain", list(f[[1]]), expect = f[[2]])
for (a in c("relu", "tanh", "selu", "elu", "softsign", "sigmoid", "linear", "scaled_tanh"))
  add("gain", list(a, method = "gauss_hermite"), expect = NA)
add("gain", list(function(x) 1), expect = "error")
add("gain", list(function(x) rep(NaN, length(x))), expect = "error")
add("gain", list(function(x) "a"), expect = "error")
add("gain", list(function(x) x, nodes = 2.5), expect = "error")

# ---- the oracle --------------------------------------------------------------

is_clear_error <- function(e) {
  msg <- conditionMessage(e)
  call <- conditionCall(e)
  from_c <- !is.null(call) && identical(call[[1]], as.name(".Call"))
  grepl("`[^`]+`", msg) && !from_c
}

check_sample <- function(w, args, v, m) {
  problems <- character()
  n <- length(w)
  if (!all(is.finite(w))) problems <- c(problems, "non-finite draws")
  if (n > 1 && is.finite(v) && all(is.finite(w))) {
    # compare on the scale of the draws: a variance of 1e-400 is 0 as a
    # double, but the draws (1e-200) and their spread are not
    s0 <- max(abs(w), abs(m))
    if (s0 == 0) s0 <- 1
    ws <- as.vector(w) / s0
    sv <- stats::var(ws)
    vs <- (v / s0) / s0
    tol <- max(0.6, 8 * sqrt(2 / (n - 1)))
    res <- (4 * .Machine$double.eps * abs(m / s0))^2
    if (v > 0 && !(abs(sv - vs) <= tol * vs + res)) {
      problems <- c(problems, sprintf("sample variance %g vs weight_variance %g", sv * s0 * s0, v))
    }
    if (v == 0 && sv > 0 && s0 > 1e-150) {
      problems <- c(problems, "weight_variance 0 but draws vary")
    }
    se <- sqrt(max(vs, sv) / n)
    if (!(abs(mean(ws) - m / s0) <= 10 * se + 1e-12 * abs(m / s0))) {
      problems <- c(problems, sprintf("sample mean %g vs weight_mean %g", mean(w), m))
    }
  }
  problems
}

unnamed <- function(a) {
  nm <- names(a)
  if (is.null(nm)) nm <- rep("", length(a))
  a[nm == ""]
}

# what an accepted value must satisfy
check_value <- function(cl, val) {
  a <- cl$args
  switch(cl$type,
    scheme = {
      if (!inherits(val, "initvar_scheme")) return("not a scheme")
      fmt <- tryCatch(format(val), error = function(e) NA)
      if (is.na(fmt)) return("format() fails")
      v <- weight_variance(val, 50, 40)
      m <- weight_mean(val, 50, 40)
      if (!is.finite(v) || v < 0) return(sprintf("weight_variance %g", v))
      if (!is.finite(m)) return(sprintf("weight_mean %g", m))
      # (a sparse scheme zeroes ceiling(sparsity * 50) of 50 rows, as documented)
      all_zero_ok <- val$family == "constant" ||
        (val$family == "sparse" && ceiling(val$sparsity * 50) >= 50)
      if (!all_zero_ok && v == 0) {
        w <- sample_weights(val, 50, 40)
        if (all(w == 0)) return("variance 0 and all-zero weights for a random scheme")
      }
      if (val$family == "variance_scaling" && !(val$scale > 0 && is.finite(val$scale)))
        return(sprintf("scale %g", val$scale))
      set.seed(1)
      w <- sample_weights(val, 50, 40)
      if (!identical(dim(w), c(50L, 40L))) return("wrong shape")
      check_sample(w, a, v, m)
    },
    sample_weights = {
      u <- unnamed(a)
      fi <- if (length(u) >= 2) u[[2]] else NULL
      fo <- if (length(u) >= 3) u[[3]] else fi
      fo_given <- length(u) >= 3
      if (!is.null(a$dim) && !is.null(fi)) {
        f <- fans(a$dim, if (is.null(a$layout)) "torch" else a$layout)
        if (fi != f[["fan_in"]] || (fo_given && fo != f[["fan_out"]])) return("dim and fans disagree, no error")
      }
      if (is.list(val) && !is.array(val)) {
        n <- max(length(fi), length(fo))
        if (length(val) != n) return("wrong number of layers")
        fi <- rep_len(fi, n); fo <- rep_len(fo, n)
        p <- character()
        for (i in seq_len(n)) {
          if (!identical(dim(val[[i]]), as.integer(c(fi[i], fo[i])))) p <- c(p, "wrong layer shape")
          p <- c(p, check_sample(val[[i]], a, weight_variance(a[[1]], fi[i], fo[i]),
                                 weight_mean(a[[1]], fi[i], fo[i])))
        }
        return(p)
      }
      if (length(fi) > 1 || length(fo) > 1) return("vector fans gave one matrix")
      want <- if (!is.null(a$dim)) a$dim else c(fi, fo)
      got <- if (is.null(dim(val))) length(val) else dim(val)
      if (!isTRUE(all(got == want)) || length(got) != length(want)) return("wrong shape")
      nm <- names(a)
      if (is.null(nm)) nm <- rep("", length(a))
      a2 <- a[nm != "threads"]
      check_sample(val, a, do.call(weight_variance, a2), do.call(weight_mean, a2))
    },
    weight_variance = , weight_mean = {
      u <- unnamed(a)
      fi <- if (length(u) >= 2) u[[2]] else NULL
      fo <- if (length(u) >= 3) u[[3]] else fi
      fo_given <- length(u) >= 3
      if (!is.null(a$dim) && !is.null(fi)) {
        f <- fans(a$dim, if (is.null(a$layout)) "torch" else a$layout)
        if (fi != f[["fan_in"]] || (fo_given && fo != f[["fan_out"]])) return("dim and fans disagree, no error")
      }
      n <- max(1, length(fi), length(fo))
      if (!is.numeric(val) || length(val) != n) return("wrong length")
      if (!all(is.finite(val))) return("non-finite")
      if (cl$type == "weight_variance" && any(val < 0)) return("negative variance")
      character()
    },
    thunk = {
      v <- if (is.list(val)) unlist(val) else val
      if (!is.numeric(v) || !all(is.finite(v))) return("non-finite result")
      character()
    },
    fans = {
      if (!is.numeric(val) || length(val) != 5 || !all(is.finite(val)) || any(val < 1) ||
          any(val != round(val))) return("bad fans")
      if (val[["fan_in"]] != val[["in_units"]] * val[["receptive_field"]]) return("fan_in != in * rf")
      character()
    },
    gain = {
      if (!is.numeric(val) || length(val) != 1 || !is.finite(val) || val <= 0)
        return(sprintf("gain %s", format(val)))
      e <- cl$expect
      if (identical(e, "error")) return(sprintf("divergent E[f^2], gain %g returned", val))
      if (is.numeric(e) && !is.na(e) && abs(val - e) > 1e-6 * e)
        return(sprintf("gain %.10g, want %.10g", val, e))
      character()
    })
}

run_one <- function(cl) {
  job <- parallel::mcparallel({
    warns <- character()
    out <- withCallingHandlers(
      tryCatch({
        val <- do.call(cl$fun, cl$args)
        p <- tryCatch(check_value(cl, val),
                      error = function(e) paste("follow-up failed:", conditionMessage(e)))
        if (length(p)) list(kind = "silent", detail = paste(p, collapse = "; ")) else
          list(kind = "ok", detail = "value")
      }, error = function(e) {
        if (is_clear_error(e)) list(kind = "ok", detail = conditionMessage(e)) else
          list(kind = "unclear", detail = paste(deparse(conditionCall(e))[1], conditionMessage(e)))
      }),
      warning = function(w) {
        warns <<- c(warns, conditionMessage(w))
        invokeRestart("muffleWarning")
      })
    if (length(warns) && out$kind == "ok" && out$detail == "value") {
      out <- list(kind = "silent", detail = paste("warning:", warns[1]))
    }
    out
  }, silent = TRUE)
  res <- parallel::mccollect(job, wait = FALSE, timeout = 60)
  if (is.null(res)) {
    tools::pskill(job$pid)
    parallel::mccollect(job, wait = FALSE)
    return(list(kind = "crash", detail = "timeout"))
  }
  r <- res[[1]]
  if (is.null(r) || inherits(r, "try-error") || !is.list(r)) list(kind = "crash", detail = "child died") else r
}

label <- function(cl) {
  args <- lapply(cl$args, function(x) {
    if (inherits(x, "initvar_scheme")) as.name(sprintf("<%s>", x$name)) else x
  })
  txt <- paste(deparse(as.call(c(as.name(cl$fun), args)), width.cutoff = 200L), collapse = " ")
  if (nchar(txt) > 160) paste0(substr(txt, 1, 157), "...") else txt
}

results <- lapply(calls, run_one)
kinds <- vapply(results, `[[`, "", "kind")
for (i in which(kinds != "ok" | verbose)) {
  cat(sprintf("[%s] %s\n    %s\n", kinds[i], label(calls[[i]]), results[[i]]$detail))
}
cat(sprintf("%d calls: %d crashes, %d silent accepts, %d unclear errors, %d ok\n",
            length(calls), sum(kinds == "crash"), sum(kinds == "silent"),
            sum(kinds == "unclear"), sum(kinds == "ok")))
