# Identities written by the user: a formula over E(), Var() and Cov() of
# expressions of random variables, checked by simulation.
#
# Each side is a smooth function of a vector of expectations: for every
# expression e inside E(e), Var(e) or Cov(e, f), the means of e' = (e - c_e)
# / s_e and, as needed, of e'^2 and e' f' (c_e and s_e a reference point and
# a power-of-2 scale taken from the first chunk of draws, so nothing cancels
# and no scale under- or overflows). Draws are generated and reduced in
# chunks to the mean vector and the centred cross-product matrix of those
# columns, merged exactly (Chan et al. 1979), so memory does not grow with
# n. The MCSE of (left side - right side) is the delta method with that
# covariance.

moment_ops <- c("E", "Var", "Cov")

# Names verify() keeps for itself: a formula parameter with one of these
# names goes in `params = list(...)`.
verify_own_args <- c("id", "n", "level", "drop", "threads", "draw", "params", "progress")

# The moments a side of the formula needs: list(expr = list of inner
# expressions (keyed by their deparsed text), needs = "mean", "sq" or a
# pair for Cov).
formula_moments <- function(side, what) {
  inner <- list()
  walk <- function(e, inside) {
    if (is.call(e)) {
      fn <- e[[1]]
      name <- if (is.name(fn)) as.character(fn) else ""
      if (name %in% moment_ops) {
        if (!isFALSE(inside)) {
          abort(sprintf("`%s` nests %s() inside %s(): write an expectation of an expression of the variables.",
                       what, name, inside))
        }
        nargs <- length(e) - 1
        want <- if (name == "Cov") 2 else 1
        if (nargs != want) {
          abort(sprintf("`%s` has %s() with %d argument%s; %s() takes %d.", what, name, nargs,
                       if (nargs == 1) "" else "s", name, want))
        }
        for (k in seq_len(nargs)) {
          key <- paste(deparse(e[[k + 1]], width.cutoff = 500L), collapse = " ")
          inner[[key]] <<- e[[k + 1]]
          walk(e[[k + 1]], name)
        }
        return(invisible())
      }
      for (k in seq_along(e)[-1]) walk(e[[k]], inside)
    }
    invisible()
  }
  walk(side, FALSE)
  inner
}

# Variables of an expression outside every E(), Var(), Cov() call.
outside_vars <- function(e) {
  if (is.name(e)) return(as.character(e))
  if (!is.call(e)) return(character(0))
  fn <- e[[1]]
  if (is.name(fn) && as.character(fn) %in% moment_ops) return(character(0))
  unique(unlist(lapply(as.list(e)[-1], outside_vars)))
}

# Turn the formula into what the engine needs.
parse_identity_formula <- function(formula, arg = "id") {
  if (!inherits(formula, "formula") || length(formula) != 3) {
    abort(sprintf("`%s` must be a two-sided formula such as `Var(a * X) ~ a^2 * Var(X)`.", arg))
  }
  lhs <- formula[[2]]
  rhs <- formula[[3]]
  inner <- c(formula_moments(lhs, "the left side"), formula_moments(rhs, "the right side"))
  inner <- inner[!duplicated(names(inner))]
  if (!length(inner)) {
    abort("the formula has no E(), Var() or Cov(): nothing to estimate by simulation.")
  }
  list(lhs = lhs, rhs = rhs, inner = inner,
       vars_inside = unique(unlist(lapply(inner, all.vars))),
       vars_outside = unique(c(outside_vars(lhs), outside_vars(rhs))),
       text = paste(deparse(formula, width.cutoff = 500L), collapse = " "))
}

# Split the named arguments into random variables and constants.
split_variables <- function(args, params) {
  if (length(args) && (is.null(names(args)) || any(!nzchar(names(args))))) {
    abort("arguments in `...` must be named: random variables (functions of n or schemes) and constants.")
  }
  is_var <- vapply(args, function(v) is.function(v) || inherits(v, "initvar_scheme"), TRUE)
  vars <- args[is_var]
  consts <- c(args[!is_var], params)
  for (nm in names(consts)) {
    v <- consts[[nm]]
    if (!is.numeric(v) || length(v) != 1 || !is.finite(v)) {
      abort_arg(nm, "a random variable (a function of n, or an elementwise scheme such as `init_normal()`) or a finite number", v)
    }
  }
  for (nm in names(vars)) {
    v <- vars[[nm]]
    if (inherits(v, "initvar_scheme") && !v$family %in% fan_free) {
      abort_arg(nm, paste("an elementwise distribution (`init_normal()`, `init_uniform()`,",
                          "`init_truncated_normal()`, `init_constant()`) or a function of n; a scheme",
                          "that depends on the layer size has no distribution of its own"), v$label)
    }
  }
  list(vars = vars, consts = consts)
}

# The draws of chunk `c` (its own R stream): a list of numeric vectors, one
# per variable.
draw_chunk <- function(vars, draw, len, threads) {
  out <- list()
  if (!is.null(draw)) {
    m <- draw(len)
    if (is.data.frame(m)) m <- as.matrix(m)
    if (!is.matrix(m) || !is.numeric(m) || is.null(colnames(m)) || nrow(m) != len) {
      abort(sprintf("`draw` must return a numeric matrix with named columns and n rows: for n = %d it returned %s.",
                   len, describe_draw(m)))
    }
    for (nm in colnames(m)) out[[nm]] <- as.double(m[, nm])
  }
  for (nm in names(vars)) {
    v <- vars[[nm]]
    # one thread: a chunk is too small to pay for starting a team
    x <- if (is.function(v)) v(len) else sample_weights(v, dim = len, threads = 1)
    if (!is.numeric(x) || length(x) != len) {
      abort(sprintf("`%s` must return n numbers when called with n: for n = %d it returned %s.",
                   nm, len, describe_draw(x)))
    }
    out[[nm]] <- as.double(x)
  }
  out
}

describe_draw <- function(x) {
  if (is.matrix(x)) return(sprintf("a %s matrix of %d x %d%s", typeof(x), nrow(x), ncol(x),
                                   if (is.null(colnames(x))) " without column names" else ""))
  if (is.null(x)) return("NULL")
  sprintf("a %s vector of length %d", typeof(x), length(x))
}

# Evaluate the inner expressions on one chunk: a list of k vectors.
eval_inner <- function(inner, data, consts, offset) {
  env <- c(data, consts)
  vals <- lapply(names(inner), function(key) {
    v <- eval(inner[[key]], env, baseenv())
    len <- length(data[[1]])
    if (length(v) == 1) v <- rep(v, len)
    if (!is.numeric(v) || length(v) != len) {
      abort(sprintf("`%s` must evaluate to one number per draw.", key))
    }
    bad <- !is.finite(v)
    if (any(bad)) {
      abort(sprintf("`%s` is not finite in %d of %d draws (first at draw %.0f, %s).", key, sum(bad),
                   len, offset + which(bad)[1], format(v[which(bad)[1]])))
    }
    v
  })
  vals
}

# Column plan: for each inner expression i, the mean of e'_i; then the
# squares and cross products the sides use.
moment_columns <- function(sides, keys) {
  cols <- list()
  add <- function(type, i, j = i) {
    nm <- paste(type, i, j)
    if (is.null(cols[[nm]])) cols[[nm]] <<- c(type = type, i = i, j = j)
  }
  for (i in seq_along(keys)) add("m", i)
  walk <- function(e) {
    if (!is.call(e)) return(invisible())
    fn <- e[[1]]
    name <- if (is.name(fn)) as.character(fn) else ""
    key <- function(x) paste(deparse(x, width.cutoff = 500L), collapse = " ")
    if (name == "Var") {
      i <- match(key(e[[2]]), keys); add("p", i, i)
    } else if (name == "Cov") {
      i <- match(key(e[[2]]), keys); j <- match(key(e[[3]]), keys)
      add("p", min(i, j), max(i, j))
    } else {
      for (k in seq_along(e)[-1]) walk(e[[k]])
    }
    invisible()
  }
  for (s in sides) walk(s)
  do.call(rbind, lapply(cols, function(x) data.frame(type = x[["type"]], i = as.integer(x[["i"]]),
                                                    j = as.integer(x[["j"]]),
                                                    stringsAsFactors = FALSE)))
}

# A side as a function of the mean vector y of the columns.
side_function <- function(side, keys, plan, center, scale, consts) {
  key <- function(x) paste(deparse(x, width.cutoff = 500L), collapse = " ")
  col_of <- function(type, i, j = i) which(plan$type == type & plan$i == i & plan$j == j)
  rewrite <- function(e) {
    if (!is.call(e)) return(e)
    fn <- e[[1]]
    name <- if (is.name(fn)) as.character(fn) else ""
    if (name == "E") {
      i <- match(key(e[[2]]), keys)
      return(bquote(.(center[i]) + .(scale[i]) * y[.(col_of("m", i))]))
    }
    if (name == "Var") {
      i <- match(key(e[[2]]), keys)
      return(bquote(.(scale[i]^2) * (y[.(col_of("p", i))] - y[.(col_of("m", i))]^2)))
    }
    if (name == "Cov") {
      i <- match(key(e[[2]]), keys); j <- match(key(e[[3]]), keys)
      a <- min(i, j); b <- max(i, j)
      return(bquote(.(scale[i] * scale[j]) *
                      (y[.(col_of("p", a, b))] - y[.(col_of("m", i))] * y[.(col_of("m", j))])))
    }
    for (k in seq_along(e)[-1]) e[[k]] <- rewrite(e[[k]])
    e
  }
  body <- rewrite(side)
  env <- list2env(consts, parent = baseenv())
  f <- function(y) NULL
  body(f) <- body
  environment(f) <- env
  f
}

# Chan's merge of (n, mean vector, centred cross products).
merge_moments <- function(a, b) {
  if (is.null(a)) return(b)
  n <- a$n + b$n
  delta <- b$mean - a$mean
  list(n = n, mean = a$mean + delta * b$n / n,
       C = a$C + b$C + tcrossprod(delta) * a$n * b$n / n)
}


# Chunk length: fixed, so that memory does not depend on n (the draws of a
# chunk, and a few numbers per chunk reduced on the fly).
formula_chunk <- function(n) 8192

# Calls f with R's RNG state saved and restored: a probe of the user's
# generator (to learn its column names) must not move the caller's stream.
without_rng <- function(f) {
  old <- get0(".Random.seed", envir = globalenv(), inherits = FALSE)
  on.exit(if (is.null(old)) rm(".Random.seed", envir = globalenv()) else
    assign(".Random.seed", old, envir = globalenv()))
  f()
}

# The engine: estimates of both sides, their difference, its MCSE, per
# chunk checks. `vars` and `draw` make the draws, `consts` the constants.
run_formula <- function(pf, vars, draw, consts, n, threads, progress = FALSE, future = FALSE) {
  local_blas_single_thread()   # dsyrk in C_formula_moments: one BLAS thread
  L <- formula_chunk(n)
  nchunks <- ceiling(n / L)
  keys <- names(pf$inner)
  plan <- moment_columns(c(list(pf$lhs, pf$rhs), if (!is.null(pf$general)) list(pf$general)), keys)
  pj <- ifelse(plan$type == "p", plan$j, 0L)
  # one seed from the caller's RNG; chunk c draws from the c-th L'Ecuyer
  # stream of it, whatever the threads or workers
  seed <- sample.int(.Machine$integer.max, 1L)
  old_kind <- RNGkind()
  old_seed <- get0(".Random.seed", envir = globalenv(), inherits = FALSE)
  on.exit({
    RNGkind(old_kind[1], old_kind[2], old_kind[3])
    if (is.null(old_seed)) rm(".Random.seed", envir = globalenv()) else
      assign(".Random.seed", old_seed, envir = globalenv())
  }, add = TRUE)
  RNGkind("L'Ecuyer-CMRG", "Inversion", "Rejection")
  set.seed(seed)
  stream <- get(".Random.seed", envir = globalenv())
  # chunk c's draws, inner values and reduction, from its own stream (the
  # same on this process or on a future worker)
  draw_values <- function(c, st) {
    RNGkind("L'Ecuyer-CMRG", "Inversion", "Rejection")
    assign(".Random.seed", st, envir = globalenv())
    len <- as.integer(min(L, n - (c - 1) * L))
    eval_inner(pf$inner, draw_chunk(vars, draw, len, threads), consts, (c - 1) * L)
  }
  reduce_chunk <- function(c, st, center, scale) {
    V <- draw_values(c, st)
    .Call(C_formula_moments, V, center, scale, plan$i, pj)
  }
  V <- draw_values(1, stream)
  center <- vapply(V, mean, 0)
  sds <- vapply(V, stats::sd, 0)
  mag <- ifelse(is.finite(sds) & sds > 0, sds, abs(center))
  scale <- ifelse(is.finite(mag) & mag > 0, 2^round(log2(mag)), 1)
  cm1 <- .Call(C_formula_moments, V, center, scale, plan$i, pj)
  rm(V)
  sides <- formula_sides(pf, keys, plan, center, scale, consts, cm1$mean)
  acc <- NULL
  gc_every <- max(1L, floor(2^19 / (L * (length(keys) + length(vars) + 2))))
  exact <- TRUE
  vstat <- c(k = 0, mean = 0, m2 = 0, max = 0, sum = 0)   # Welford over chunks
  take <- function(cm) {
    # holds in every sample? the difference is rounding noise in every chunk
    if (exact) {
      lc <- sides$fl(cm$mean); rc <- sides$fr(cm$mean)
      tol <- 1e-10 * (abs(lc) + abs(rc) + sum(abs(sides$gl * cm$mean)) +
                        sum(abs(sides$gr * cm$mean)) + 1e-300)
      exact <<- abs(lc - rc) <= tol
    }
    # tail diagnostic: the variance of the influence values of full chunks
    if (cm$n == L) {
      v <- drop(crossprod(sides$gd, cm$C %*% sides$gd)) / (cm$n - 1)
      k <- vstat[["k"]] + 1
      dlt <- v - vstat[["mean"]]
      vstat[["mean"]] <<- vstat[["mean"]] + dlt / k
      vstat[["m2"]] <<- vstat[["m2"]] + dlt * (v - vstat[["mean"]])
      vstat[["k"]] <<- k
      vstat[["max"]] <<- max(vstat[["max"]], v)
      vstat[["sum"]] <<- vstat[["sum"]] + v
    }
    acc <<- merge_moments(acc, cm)
  }
  take(cm1)
  bar <- NULL
  t0 <- proc.time()[["elapsed"]]
  tick <- function(c) {
    if (progress && is.null(bar) && proc.time()[["elapsed"]] - t0 > 2 && c < nchunks) {
      bar <<- cli::cli_progress_bar("verify()", total = nchunks, .envir = parent.frame(2))
    }
    if (!is.null(bar)) cli::cli_progress_update(id = bar, set = c)
  }
  if (nchunks > 1 && future) {
    # rounds of chunks on the workers of the current future::plan(), merged
    # in chunk order: the same result as on this process
    round <- 64L
    c <- 2L
    while (c <= nchunks) {
      cs <- c:min(c + round - 1L, nchunks)
      streams <- vector("list", length(cs))
      for (k in seq_along(cs)) {
        stream <- parallel::nextRNGStream(stream)
        streams[[k]] <- stream
      }
      res <- future.apply::future_Map(function(cc, st) {
        local_blas_single_thread()   # one BLAS thread per worker
        reduce_chunk(cc, st, center, scale)
      },
                                      cs, streams, future.seed = NULL,
                                      future.packages = "initvar")
      for (cm in res) take(cm)
      tick(max(cs))
      c <- max(cs) + 1L
    }
  } else if (nchunks > 1) {
    for (c in 2:nchunks) {
      stream <- parallel::nextRNGStream(stream)
      take(reduce_chunk(c, stream, center, scale))
      # garbage is collected every few MB of draws, so that the peak memory
      # does not depend on n
      if (c %% gc_every == 0) gc(verbose = FALSE, full = FALSE)
      tick(c)
    }
  }
  if (!is.null(bar)) cli::cli_progress_done(id = bar)
  list(acc = acc, plan = plan, keys = keys, center = center, scale = scale, chunk = L,
       exact = exact, vstat = vstat, chunks = nchunks)
}

# The sides as functions of the mean vector, and their gradients at the
# first chunk's means (for the per-chunk checks).
formula_sides <- function(pf, keys, plan, center, scale, consts, y1) {
  fl <- side_function(pf$lhs, keys, plan, center, scale, consts)
  fr <- side_function(pf$rhs, keys, plan, center, scale, consts)
  gl <- num_grad(fl, y1)
  gr <- num_grad(fr, y1)
  gd <- gl - gr
  list(fl = fl, fr = fr, gl = gl, gr = gr, gd = gd / max(abs(gd), 1e-300))
}

# Numerical gradient of f at y (central differences on the standardized
# scale, where every column is of order 1).
num_grad <- function(f, y) {
  g <- numeric(length(y))
  for (k in seq_along(y)) {
    h <- 1e-5 * max(1, abs(y[k]))
    yp <- y; ym <- y
    yp[k] <- y[k] + h; ym[k] <- y[k] - h
    g[k] <- (f(yp) - f(ym)) / (2 * h)
  }
  g
}

# Estimates, MCSEs, the exactness check and the tail diagnostic.
formula_estimates <- function(run, pf, consts) {
  fl <- side_function(pf$lhs, run$keys, run$plan, run$center, run$scale, consts)
  fr <- side_function(pf$rhs, run$keys, run$plan, run$center, run$scale, consts)
  y <- run$acc$mean
  n <- run$acc$n
  Sigma <- run$acc$C / (n - 1)
  lhs <- fl(y); rhs <- fr(y)
  gl <- num_grad(fl, y); gr <- num_grad(fr, y)
  gd <- gl - gr
  # the gradient is normalized first: on the variables' own scale its
  # quadratic form can under- or overflow (variances of 1e-100 or 1e100)
  se <- function(g) {
    m <- max(abs(g))
    if (!is.finite(m) || m == 0) return(if (is.finite(m)) 0 else NaN)
    g <- g / m
    m * sqrt(max(drop(crossprod(g, Sigma %*% g)), 0) / n)
  }
  diff <- lhs - rhs
  mcse_d <- se(gd)
  ratio <- if (rhs != 0) lhs / rhs else NA_real_
  mcse_r <- if (rhs != 0) se(gl / rhs - lhs * gr / rhs^2) else NA_real_
  exact <- run$exact
  # tail diagnostic: the variance of the influence values chunk by chunk;
  # with a finite fourth moment of the influence its relative spread over
  # chunks of L draws is sqrt((kappa - 1) / L)
  vs <- run$vstat
  kappa <- if (vs[["k"]] >= 16 && vs[["mean"]] > 0) {
    1 + run$chunk * (vs[["m2"]] / (vs[["k"]] - 1)) / vs[["mean"]]^2
  } else NA_real_
  share <- if (vs[["k"]] >= 16 && vs[["sum"]] > 0) vs[["max"]] / vs[["sum"]] else NA_real_
  general <- NULL
  if (!is.null(pf$general)) {
    fg <- side_function(pf$general, run$keys, run$plan, run$center, run$scale, consts)
    gg <- num_grad(fg, y)
    gv <- fg(y)
    gdiff <- lhs - gv
    gse <- se(gl - gg)
    gz <- if (abs(gdiff) <= 1e-10 * (abs(lhs) + abs(gv))) 0 else gdiff / gse
    general <- list(value = gv, diff = gdiff, mcse = gse, z = gz)
  }
  list(lhs = lhs, rhs = rhs, diff = diff, mcse = mcse_d, ratio = ratio, ratio_mcse = mcse_r,
       mcse_lhs = se(gl), mcse_rhs = se(gr), exact = exact, kappa = kappa,
       chunk_share = share, chunks = run$chunks, general = general)
}

# Check a formula identity; called by verify().
verify_formula <- function(formula, n, args, params, draw, level, threads, id = NULL,
                           statement = NULL, assumptions = NULL, dropped = NULL,
                           dropped_text = NULL, progress = FALSE, general = NULL,
                           future = FALSE) {
  pf <- parse_identity_formula(formula)
  if (!is.null(general)) {
    if (!inherits(general, "formula") || length(general) != 2) {
      abort_arg("general", "a one-sided formula such as `~ Var(X) + Var(Y) + 2 * Cov(X, Y)`", general)
    }
    pf$general <- general[[2]]
    extra <- formula_moments(pf$general, "the general formula")
    pf$inner <- c(pf$inner, extra)
    pf$inner <- pf$inner[!duplicated(names(pf$inner))]
    pf$vars_inside <- unique(c(pf$vars_inside, unlist(lapply(extra, all.vars))))
    pf$vars_outside <- unique(c(pf$vars_outside, outside_vars(pf$general)))
  }
  sv <- split_variables(args, params)
  draw_names <- character(0)
  if (!is.null(draw)) {
    if (!is.function(draw)) abort_arg("draw", "a function of n returning a matrix with named columns", draw)
  }
  known <- c(names(sv$vars), names(sv$consts))
  clash <- intersect(c(pf$vars_inside, pf$vars_outside), verify_own_args)
  clash <- setdiff(clash, names(params))
  if (length(clash)) {
    abort(sprintf(paste0("`%s` in the formula is also an argument of verify(); give a parameter ",
                        "of that name as `params = list(%s = ...)`."), clash[1], clash[1]))
  }
  if (is.null(n)) n <- 1e6
  check_whole(n, "n", min = verify_min_draws, max = 1e13)
  # a pilot call names the columns of draw()
  if (!is.null(draw)) {
    probe <- without_rng(function() draw(2L))
    if (is.data.frame(probe)) probe <- as.matrix(probe)
    if (!is.matrix(probe) || is.null(colnames(probe))) {
      abort(sprintf("`draw` must return a numeric matrix with named columns: it returned %s.",
                   describe_draw(probe)))
    }
    draw_names <- colnames(probe)
  }
  outside_random <- intersect(pf$vars_outside, c(names(sv$vars), draw_names))
  if (length(outside_random)) {
    abort(sprintf("the random variable `%s` appears outside E(), Var() or Cov(): each side must be a function of expectations.",
                 outside_random[1]))
  }
  missing_vars <- setdiff(c(pf$vars_inside, pf$vars_outside),
                          c(known, draw_names, "pi"))
  if (length(missing_vars)) {
    abort(sprintf("`%s` is used in the formula but not given: pass it as a random variable (a function of n or a scheme), a constant, or a column of `draw`.",
                 missing_vars[1]))
  }
  if (!length(intersect(pf$vars_inside, c(names(sv$vars), draw_names)))) {
    abort("the formula's E(), Var() and Cov() involve no random variable.")
  }
  used_vars <- sv$vars[intersect(names(sv$vars), pf$vars_inside)]
  run <- run_formula(pf, used_vars, draw, sv$consts, n, threads, progress, isTRUE(future))
  est <- formula_estimates(run, pf, sv$consts)
  new_formula_verification(pf, est, n, level, id = id, statement = statement,
                           assumptions = assumptions, consts = sv$consts,
                           dropped = dropped, dropped_text = dropped_text)
}

new_formula_verification <- function(pf, est, n, level, id = NULL, statement = NULL,
                                     assumptions = NULL, consts = list(), dropped = NULL,
                                     dropped_text = NULL) {
  # the interval is the left side's, with the MCSE of the difference: it
  # covers the right side exactly when the test is consistent
  if (est$exact) {
    z <- 0; pv <- NA_real_; consistent <- TRUE
    lower <- upper <- est$lhs
    verdict <- "holds identically in the sample (an algebraic identity; simulation adds no evidence)"
  } else {
    ag <- agreement(est$diff, est$mcse, 0, df = n - 1, level = level)
    z <- ag$z; pv <- ag$p_value; consistent <- ag$consistent
    lower <- est$rhs + ag$lower; upper <- est$rhs + ag$upper
    verdict <- verdict_text(consistent, z, pv, level, est$rhs, est$lhs)
  }
  warn <- NULL
  if (!est$exact && ((!is.na(est$kappa) && est$kappa > 0.01 * n) ||
                     (!is.na(est$chunk_share) && est$chunk_share > 0.5))) {
    warn <- sprintf(paste0("the draws look heavy-tailed: the variance of the influence values varies ",
                           "across chunks as if their kurtosis were %s (one chunk holds %.0f%% of it); ",
                           "the MCSE needs finite fourth moments of the terms, and the calibration ",
                           "cannot be trusted."), format(signif(est$kappa, 3)), 100 * est$chunk_share)
    warning(warn)
  }
  structure(list(
    id = if (is.null(id)) "formula" else id,
    statement = if (is.null(statement)) pf$text else statement, latex = NA_character_,
    assumptions = if (is.null(assumptions)) "as given by the variables" else assumptions,
    used_in = "a user identity", params = consts, dropped = dropped,
    dropped_text = dropped_text, estimand = "formula", n = n, level = level, df = n - 1,
    theoretical = est$rhs, estimate = est$lhs, mcse = est$mcse,
    lhs = est$lhs, rhs = est$rhs, mcse_lhs = est$mcse_lhs, mcse_rhs = est$mcse_rhs,
    difference = est$diff, ratio = est$ratio, ratio_mcse = est$ratio_mcse,
    lower = lower, upper = upper, z = z, p_value = pv, consistent = consistent,
    verdict = verdict, exact = est$exact, tail_kurtosis = est$kappa, warning = warn,
    general = if (!is.null(est$general)) est$general$value,
    general_text = if (!is.null(est$general)) paste(deparse(pf$general, width.cutoff = 500L), collapse = " "),
    general_z = if (!is.null(est$general)) est$general$z else NA_real_,
    # the same agreement rule as the verdict (an exact match: z = 0)
    general_consistent = if (!is.null(est$general)) {
      est$general$z == 0 || isTRUE(agreement(est$general$diff, est$general$mcse, 0, n - 1, level)$consistent)
    },
    path = NULL, formula = pf$text), class = "initvar_verification")
}

#' A user identity: a formula, its variables, assumptions and counterexamples
#'
#' `new_identity()` makes a named, reusable identity for [verify()]: a
#' formula over `E()`, `Var()` and `Cov()` of expressions of random
#' variables, the variables (functions of `n` returning `n` draws, or
#' elementwise schemes such as [init_normal()]) or a `draw` function for
#' dependent variables, constant parameters, the assumptions in words, and
#' counterexamples: `drops`, named ways of breaking an assumption, each a
#' `draw` function or a list of replacement variables, with optionally the
#' `general` formula that holds instead. `register_identity()` adds it to
#' the session's registry, so that [identities()] lists it and
#' `verify("its id")` finds it.
#'
#' @param id A name for the identity (a single string).
#' @param formula A two-sided formula, `left ~ right`.
#' @param assumptions What the identity assumes, in words.
#' @param variables A named list of random variables: functions of `n`, or
#'   elementwise schemes.
#' @param draw `NULL`, or a function of `n` returning an `n`-row matrix with
#'   named columns (dependent variables).
#' @param params A named list of constants used in the formula.
#' @param drops A named list of counterexamples: each a `draw` function, or
#'   a named list of variables replacing some of `variables`.
#' @param general A named list (names as in `drops`) of one-sided formulas:
#'   what holds when that assumption is dropped.
#' @param statement The identity in words or symbols; by default the
#'   formula.
#' @param used_in Where the identity is used.
#' @param n The default number of draws.
#' @param latex The statement in LaTeX, for documents.
#' @param kernel `NULL`, or the C kernel of a built-in identity: a list with
#'   its `estimand`, `c_kernel` (the name of a kernel of src/identities.c),
#'   `cparams()`, `theory()` and optionally
#'   `general()`, `drop()` and `prepare()`. The built-in identities are made
#'   this way; a kernel is an optional fast path, not needed for your own.
#' @return An `initvar_identity` object.
#' @seealso [verify()], [identities()].
#' @examples
#' id <- new_identity("var_difference", Var(X - Y) ~ Var(X) + Var(Y),
#'   assumptions = "X and Y independent",
#'   variables = list(X = function(n) rexp(n), Y = function(n) rnorm(n)),
#'   drops = list(independence = function(n) {
#'     x <- rexp(n); cbind(X = x, Y = x + rnorm(n))
#'   }),
#'   general = list(independence = ~ Var(X) + Var(Y) - 2 * Cov(X, Y)))
#' id
#' set.seed(1)
#' verify(id, n = 1e5)
#' verify(id, n = 1e5, drop = "independence")
#' @export
new_identity <- function(id, formula, assumptions = "", variables = list(), draw = NULL,
                         params = list(), drops = list(), general = list(), statement = NULL,
                         used_in = "", n = 1e6, latex = NULL, kernel = NULL) {
  check_string(id, "id")
  if (!nzchar(id)) abort_arg("id", "a non-empty string", id)
  if (!is.null(kernel)) return(new_kernel_identity(id, formula, assumptions, params, drops,
                                                   statement, used_in, n, latex, kernel))
  pf <- parse_identity_formula(formula, "formula")
  check_string(assumptions, "assumptions")
  check_string(used_in, "used_in")
  if (!is.null(statement)) check_string(statement, "statement")
  named_list <- function(x, arg) {
    if (!is.list(x) || (length(x) && (is.null(names(x)) || any(!nzchar(names(x)))))) {
      abort_arg(arg, "a named list", x)
    }
  }
  named_list(variables, "variables")
  named_list(params, "params")
  named_list(drops, "drops")
  named_list(general, "general")
  for (nm in names(variables)) {
    v <- variables[[nm]]
    if (!is.function(v) && !inherits(v, "initvar_scheme")) {
      abort_arg(sprintf("variables$%s", nm), "a function of n or an elementwise scheme", v)
    }
  }
  if (!is.null(draw) && !is.function(draw)) abort_arg("draw", "NULL or a function of n", draw)
  for (nm in names(drops)) {
    d <- drops[[nm]]
    if (!is.function(d) && !is.list(d)) {
      abort_arg(sprintf("drops$%s", nm), "a draw function of n or a named list of variables", d)
    }
  }
  bad <- setdiff(names(general), names(drops))
  if (length(bad)) abort_arg("general", sprintf("named after `drops` (%s)",
                                                 paste(names(drops), collapse = ", ")), bad[1])
  check_whole(n, "n", min = verify_min_draws, max = 1e13)
  structure(list(id = id, formula = formula, statement = if (is.null(statement)) pf$text else statement,
                 latex = if (is.null(latex)) NA_character_ else latex,
                 assumptions = assumptions, used_in = used_in, variables = variables, draw = draw,
                 params = params, drops = drops, general = general, n = n),
            class = "initvar_identity")
}

# An identity checked by a C kernel of the package (the built-ins): its
# parameters are the kernel's, with defaults; `drops` names and describes
# what the kernel's drop() changes; the formula, where one states it, is for
# reading (the kernel knows the exact value of the right side).
new_kernel_identity <- function(id, formula, assumptions, params, drops, statement, used_in,
                                n, latex, kernel) {
  if (!is.list(kernel) || !isTRUE(kernel$estimand %in% c("mean", "var", "cov", "ratio", "network"))) {
    abort_arg("kernel", "a list with an `estimand` of \"mean\", \"var\", \"cov\", \"ratio\" or \"network\"", kernel)
  }
  if (kernel$estimand != "network" &&
      !(isTRUE(kernel$c_kernel %in% names(identity_kernel_codes)) &&
        is.function(kernel$cparams) && is.function(kernel$theory))) {
    abort_arg("kernel", "a list with the C kernel's name `c_kernel`, `cparams()` and `theory()`", kernel)
  }
  if (is.null(statement)) {
    if (is.null(formula)) abort_arg("statement", "a string when there is no formula", statement)
    statement <- paste(deparse(formula, width.cutoff = 500L), collapse = " ")
  }
  if (!is.character(drops)) abort_arg("drops", "a named character vector describing each drop", drops)
  structure(c(list(id = id, formula = formula, statement = statement,
                   latex = if (is.null(latex)) NA_character_ else latex,
                   assumptions = assumptions, used_in = used_in, params = params, drops = drops,
                   n = n), kernel),
            class = "initvar_identity")
}

#' @export
print.initvar_identity <- function(x, ...) {
  cat("<initvar identity> ", x$id, ": ", x$statement, "\n", sep = "")
  if (nzchar(x$assumptions)) cat("  assumptions: ", x$assumptions, "\n", sep = "")
  vars <- c(names(x$variables), if (!is.null(x$draw)) "columns of `draw`")
  if (length(vars)) cat("  variables:   ", paste(vars, collapse = ", "), "\n", sep = "")
  if (length(x$params)) cat("  parameters:  ", fmt_params(x$params), "\n", sep = "")
  if (length(x$drops)) cat("  drops:       ", paste(names(x$drops), collapse = ", "), "\n", sep = "")
  invisible(x)
}

identity_registry <- new.env(parent = emptyenv())

#' @rdname new_identity
#' @param identity An identity from `new_identity()`.
#' @param overwrite Replace a registered identity of the same id.
#' @export
register_identity <- function(identity, overwrite = FALSE) {
  if (!inherits(identity, "initvar_identity")) {
    abort_arg("identity", "an identity from `new_identity()`", identity)
  }
  if (identity$id %in% names(identity_defs)) {
    abort_arg("identity", sprintf("an identity whose id is not a built-in's (\"%s\" is built in)",
                                  identity$id), identity$id)
  }
  if (!isTRUE(overwrite) && exists(identity$id, envir = identity_registry, inherits = FALSE)) {
    abort_arg("identity", sprintf("a new id (\"%s\" is registered: use `overwrite = TRUE`)",
                                  identity$id), identity$id)
  }
  assign(identity$id, identity, envir = identity_registry)
  invisible(identity)
}

registered_identities <- function() {
  ids <- sort(ls(identity_registry))
  stats::setNames(lapply(ids, get, envir = identity_registry), ids)
}

# verify() for an identity object: its variables, or a drop's.
verify_identity_object <- function(identity, n, args, params, draw, level, drop, threads, progress,
                                   future = FALSE) {
  vars <- identity$variables
  d <- if (is.null(draw)) identity$draw else draw
  consts <- c(identity$params, params)
  general <- NULL
  if (!is.null(drop)) {
    if (!length(identity$drops)) {
      abort_arg("drop", sprintf("NULL: identity \"%s\" has no assumption to drop", identity$id), drop)
    }
    drop <- check_choice(drop, names(identity$drops), "drop")
    dd <- identity$drops[[drop]]
    if (is.function(dd)) {
      d <- dd
      # the draw replaces the variables it names; others stay
      cols <- colnames(without_rng(function() dd(2L)))
      vars <- vars[setdiff(names(vars), cols)]
    } else {
      vars[names(dd)] <- dd
    }
    general <- identity$general[[drop]]
  }
  if (is.null(n)) n <- identity$n
  verify_formula(identity$formula, n, c(vars, args), consts, d, level, threads,
                 id = identity$id, statement = identity$statement,
                 assumptions = identity$assumptions, dropped = drop,
                 dropped_text = if (!is.null(drop)) sprintf("the counterexample's own draws (`drops$%s`)", drop),
                 progress = progress, general = general, future = future)
}

print_formula_verification <- function(x, digits = 4) {
  f <- function(v) format(signif(v, digits))
  cat("Identity `", x$id, "`: ", x$statement, "\n", sep = "")
  if (!identical(x$statement, x$formula)) cat("  formula:     ", x$formula, "\n", sep = "")
  cat("  assumptions: ", x$assumptions, "\n", sep = "")
  if (!is.null(x$dropped)) cat("  DROPPED:     ", x$dropped, ": ", x$dropped_text, "\n", sep = "")
  if (length(x$params)) cat("  parameters:  ", fmt_params(x$params), "\n", sep = "")
  cat(sprintf(paste0("  simulation:  both sides from the same %s draws (plug-in moments); MCSE of the ",
                     "difference by the delta method\n\n"),
              format(x$n, big.mark = ",", scientific = FALSE)))
  cat(sprintf("  left side    %s   (MCSE %s)\n", f(x$lhs), format(signif(x$mcse_lhs, 2))))
  cat(sprintf("  right side   %s   (MCSE %s)\n", f(x$rhs), format(signif(x$mcse_rhs, 2))))
  cat(sprintf("  difference   %s   (MCSE %s)\n", f(x$difference), format(signif(x$mcse, 2))))
  if (is.finite(x$ratio)) {
    cat(sprintf("  ratio        %s   (MCSE %s)\n", f(x$ratio), format(signif(x$ratio_mcse, 2))))
  }
  if (!x$exact) {
    cat(sprintf("  z = %.2f, p = %.3g (t, %g df)\n", x$z, x$p_value, x$df))
    if (!is.na(x$tail_kurtosis)) {
      cat(sprintf("  tails: kurtosis of the influence values, from their spread across chunks: %s\n",
                  format(signif(x$tail_kurtosis, 3))))
    }
  }
  cat("\n  ", x$verdict, "\n", sep = "")
  if (!is.null(x$warning)) cat(strwrap(paste("Warning:", x$warning), indent = 2, exdent = 4), sep = "\n")
  if (!is.null(x$general)) {
    cat(sprintf("  The general formula, %s, gives %s: %s (z = %.2f).\n", x$general_text, f(x$general),
                if (is.na(x$general_z)) "not available" else if (isTRUE(x$general_consistent))
                  "consistent with the left side" else "not consistent with the left side",
                x$general_z))
  }
  invisible(x)
}

# Both sides with their intervals (and the general formula's value): the
# picture of a user identity's check.
plot_formula_verification <- function(x, main = NULL, ...) {
  q <- stats::qt(1 - (1 - x$level) / 2, x$df)
  vals <- c(left = x$lhs, right = x$rhs, general = if (!is.null(x$general)) x$general)
  ses <- c(x$mcse_lhs, x$mcse_rhs, if (!is.null(x$general)) NA)
  lo <- vals - q * ses
  hi <- vals + q * ses
  labels <- c(paste("left:", deparse_side(x$formula, 1)), paste("right:", deparse_side(x$formula, 2)),
              if (!is.null(x$general)) paste("general:", x$general_text))
  if (is.null(main)) main <- paste0(x$id, if (!is.null(x$dropped)) paste0(", dropped: ", x$dropped))
  rng <- range(c(lo, hi, vals), na.rm = TRUE)
  rng <- rng + c(-0.05, 0.05) * max(diff(rng), abs(rng) * 1e-6, 1e-300)
  op <- graphics::par(mar = c(5, 1, 3.5, 1), mgp = c(2, 0.7, 0))
  on.exit(graphics::par(op))
  k <- length(vals)
  graphics::plot(vals, rev(seq_len(k)), xlim = rng, ylim = c(0.5, k + 0.8), yaxt = "n", pch = 19,
                 col = c("black", "#c0392b", "#1b6ca8")[seq_len(k)], xlab = "value",
                 ylab = "", main = main, ...)
  graphics::segments(lo, rev(seq_len(k)), hi, rev(seq_len(k)), lwd = 2,
                     col = c("black", "#c0392b", "#1b6ca8")[seq_len(k)])
  graphics::text(rng[1], rev(seq_len(k)) + 0.32, labels, cex = 0.8, adj = 0)
  graphics::mtext(strwrap(x$verdict, 110), side = 1, line = 3 + seq_along(strwrap(x$verdict, 110)) * 0.8 - 0.8,
                  cex = 0.7)
  invisible(data.frame(side = names(vals), value = vals, lower = lo, upper = hi))
}

deparse_side <- function(text, i) {
  f <- stats::as.formula(text, env = baseenv())
  paste(deparse(f[[i + 1]], width.cutoff = 500L), collapse = " ")
}
