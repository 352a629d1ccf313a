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

# Formulas are walked without recursion (an explicit stack), so that a
# formula of hundreds of terms does not exhaust the C stack; beyond this
# many calls, or calls nested this deep (R evaluates a side as written,
# and stops at options("expressions") = 5000 nested evaluations), a formula
# is refused with a clear error. A sum of 2,000 terms nests 2,000 deep.
formula_max_calls <- 10000
formula_max_depth <- 2000

# A side or expression for a message: its first 60 characters.
short_text <- function(x) {
  t <- deparse_key(x)
  if (nchar(t) > 60) paste0(substr(t, 1, 57), "...") else t
}

deparse_key <- function(x) paste(deparse(x, width.cutoff = 500L), collapse = " ")

# The arguments of a call, without empty ones (as in `x[, 1]`).
call_args <- function(e) {
  a <- as.list(e)[-1]
  keep <- vapply(seq_along(a), function(k) !identical(a[[k]], quote(expr = )), TRUE)
  a[keep]
}

# One side of a formula: the moment calls E(), Var(), Cov() it makes (a list
# of list(op, keys)), their inner expressions (keyed by deparsed text), and
# the names it uses outside every moment call.
scan_side <- function(side, what) {
  inner <- list()
  ops <- list()
  outside <- character(0)
  stack <- vector("list", 64)
  depth <- integer(64)
  stack[[1]] <- side
  depth[1] <- 1L
  top <- 1
  seen <- 0
  while (top > 0) {
    e <- stack[[top]]
    d <- depth[top]
    stack[top] <- list(NULL)
    top <- top - 1
    if (d > formula_max_depth) {
      abort(sprintf(paste0("%s nests calls more than %s deep (a sum of that many terms): a formula ",
                           "that large is not supported; split it, or sum the terms in a function ",
                           "of your own."),
                    what, format(formula_max_depth, big.mark = ",")))
    }
    if (is.name(e)) {
      outside <- c(outside, as.character(e))
      next
    }
    if (!is.call(e)) next
    seen <- seen + 1
    if (seen > formula_max_calls) {
      abort(sprintf("%s has more than %s calls: a formula that large is not supported.",
                    what, format(formula_max_calls, big.mark = ",")))
    }
    fn <- e[[1]]
    name <- if (is.name(fn)) as.character(fn) else ""
    if (name == "function") {
      outside <- c(outside, free_vars(e))
      next
    }
    if (name %in% moment_ops) {
      args <- call_args(e)
      nargs <- length(args)
      want <- if (name == "Cov") 2 else 1
      if (nargs != want || length(e) - 1 != want) {
        abort(sprintf("%s has %s() with %d argument%s; %s() takes %d.", what, name, nargs,
                      if (nargs == 1) "" else "s", name, want))
      }
      keys <- character(nargs)
      for (k in seq_len(nargs)) {
        nested <- intersect(call_names(args[[k]]), moment_ops)
        if (length(nested)) {
          abort(sprintf("%s nests %s() inside %s(): write an expectation of an expression of the variables.",
                        what, nested[1], name))
        }
        keys[k] <- deparse_key(args[[k]])
        inner[[keys[k]]] <- args[[k]]
      }
      ops[[length(ops) + 1]] <- list(op = name, keys = keys)
      next
    }
    args <- call_args(e)
    if (!is.name(fn)) args <- c(list(fn), args)
    if (top + length(args) > length(stack)) {
      length(stack) <- length(depth) <- 2 * (top + length(args))
    }
    for (a in rev(args)) {
      top <- top + 1
      stack[top] <- list(a)
      depth[top] <- d + 1L
    }
  }
  list(inner = inner, ops = ops, outside = unique(outside))
}

# The names of the functions an expression calls (without recursion), not
# looking into the bodies of functions it defines (`sapply(X, function(x)
# max(x, 0))` is elementwise: the dynamic check judges such expressions).
call_names <- function(e) {
  out <- character(0)
  stack <- list(e)
  while (length(stack)) {
    x <- stack[[length(stack)]]
    stack[[length(stack)]] <- NULL
    if (!is.call(x)) next
    if (identical(x[[1]], as.name("function"))) next
    if (is.name(x[[1]])) out <- c(out, as.character(x[[1]])) else stack <- c(stack, list(x[[1]]))
    stack <- c(stack, call_args(x))
  }
  unique(out)
}

# The free variables of an expression (without recursion): as all.vars(),
# but the arguments of a function it defines (`function(x) max(x, 0)`) are
# not variables of the formula.
free_vars <- function(e) {
  out <- character(0)
  stack <- list(list(e, character(0)))
  while (length(stack)) {
    item <- stack[[length(stack)]]
    stack[[length(stack)]] <- NULL
    x <- item[[1]]
    bound <- item[[2]]
    if (is.name(x)) {
      nm <- as.character(x)
      if (nzchar(nm) && !nm %in% bound) out <- c(out, nm)
      next
    }
    if (!is.call(x)) next
    if (identical(x[[1]], as.name("function"))) {
      stack <- c(stack, list(list(x[[3]], c(bound, names(x[[2]])))))
      next
    }
    parts <- if (is.name(x[[1]])) call_args(x) else c(list(x[[1]]), call_args(x))
    stack <- c(stack, lapply(parts, function(p) list(p, bound)))
  }
  unique(out)
}

# Turn the formula into what the engine needs.
parse_identity_formula <- function(formula, arg = "id") {
  if (!inherits(formula, "formula") || length(formula) != 3) {
    abort(sprintf("`%s` must be a two-sided formula such as `Var(a * X) ~ a^2 * Var(X)`.", arg))
  }
  lhs <- formula[[2]]
  rhs <- formula[[3]]
  sl <- scan_side(lhs, "the left side of the formula")
  sr <- scan_side(rhs, "the right side of the formula")
  inner <- c(sl$inner, sr$inner)
  inner <- inner[!duplicated(names(inner))]
  if (!length(inner)) {
    abort(sprintf("`%s` has no E(), Var() or Cov(): nothing to estimate by simulation.", arg))
  }
  env <- environment(formula)
  if (!is.environment(env)) env <- globalenv()
  list(lhs = lhs, rhs = rhs, inner = inner, ops = c(sl$ops, sr$ops), env = env,
       vars_inside = unique(unlist(lapply(inner, free_vars))),
       vars_outside = unique(c(sl$outside, sr$outside)),
       text = deparse_key(formula))
}

# Adds a one-sided `general` formula (what holds when an assumption is
# dropped) to a parsed formula.
add_general_formula <- function(pf, general, arg = "general") {
  if (!inherits(general, "formula") || length(general) != 2) {
    abort(sprintf("`%s` must be a one-sided formula such as `~ Var(X) + Var(Y) + 2 * Cov(X, Y)`, not %s.",
                  arg, if (inherits(general, "formula")) sprintf("the two-sided `%s`", deparse_key(general))
                       else describe(general)))
  }
  pf$general <- general[[2]]
  sg <- scan_side(pf$general, "the general formula")
  pf$inner <- c(pf$inner, sg$inner)
  pf$inner <- pf$inner[!duplicated(names(pf$inner))]
  pf$ops_general <- sg$ops
  pf$vars_inside <- unique(c(pf$vars_inside, unlist(lapply(sg$inner, free_vars))))
  pf$vars_outside <- unique(c(pf$vars_outside, sg$outside))
  pf
}

# Split the named arguments into random variables and constants.
split_variables <- function(args, params) {
  if (length(args) && (is.null(names(args)) || any(!nzchar(names(args))))) {
    abort("arguments in `...` must be named: random variables (functions of n or schemes) and constants.")
  }
  twice <- names(args)[duplicated(names(args))]
  if (length(twice)) {
    abort(sprintf("`%s` is given twice in `...`: give each variable or constant once.", twice[1]))
  }
  both <- intersect(names(args), names(params))
  if (length(both)) {
    abort(sprintf("`%s` is given both in `...` and in `params`: give it once.", both[1]))
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
    if (inherits(v, "initvar_scheme")) check_scheme(v, nm)   # a forged one is refused
    if (inherits(v, "initvar_scheme") && !v$family %in% fan_free) {
      abort(sprintf(paste("`%s` must be an elementwise distribution (`init_normal()`, `init_uniform()`,",
                          "`init_truncated_normal()`, `init_constant()`) or a function of n, not",
                          "%s: a scheme that depends on the layer size has no distribution of its own."),
                    nm, describe(v$label)))
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

# Functions that are not elementwise: a formula's expressions give one
# value per draw from that draw alone (E() does the averaging over draws).
# Each with what to write instead.
non_elementwise <- c(
  max = "pmax() (the elementwise maximum)", min = "pmin() (the elementwise minimum)",
  sum = "E() of the terms: E() already averages over the draws, so drop sum()",
  mean = "E(): it is the mean over the draws", prod = "the product of the terms, written out",
  range = "pmin() and pmax()", var = "Var()", sd = "sqrt(Var())", cov = "Cov()",
  cor = "Cov(x, y) / sqrt(Var(x) * Var(y))", median = "an expectation (the median is not one)",
  quantile = "an expectation such as E(X <= q)", mad = "an expectation", IQR = "an expectation",
  fivenum = "an expectation", weighted.mean = "E() of the weighted terms",
  length = "the number of terms, written as a constant", NROW = "a constant", nrow = "a constant",
  seq_along = "a constant", cumsum = "the sum of the terms, written out",
  cumprod = "the product of the terms, written out", cummax = "pmax()", cummin = "pmin()",
  diff = "the difference of two variables", rev = "the variable itself",
  sort = "the variable itself (E() does not depend on the order of the draws)",
  order = "an elementwise expression", rank = "an expectation such as E(X <= x)",
  scale = "(x - E(x)) / sqrt(Var(x)) outside E()", ave = "E()", tabulate = "E(X == k)",
  table = "E(X == k)", unique = "the variable itself", which = "E(condition)",
  which.max = "pmax()", which.min = "pmin()", any = "E(condition) > 0 outside E()",
  all = "E(condition) == 1 outside E()", outer = "an elementwise product",
  crossprod = "E() of the products", tcrossprod = "E() of the products",
  `%*%` = "E() of the products", head = "the variable itself", tail = "the variable itself",
  sample = "a random variable (a function of n) in `...`",
  rnorm = "a random variable (a function of n) in `...`",
  runif = "a random variable (a function of n) in `...`",
  rexp = "a random variable (a function of n) in `...`",
  rbinom = "a random variable (a function of n) in `...`",
  rpois = "a random variable (a function of n) in `...`",
  jitter = "a random variable (a function of n) in `...`")

random_generators <- c("sample", "rnorm", "runif", "rexp", "rbinom", "rpois", "jitter")

# The base or stats function of that name, as the formula's environment
# sees it: a user's own function of the same name is not flagged.
is_standard_function <- function(name, env) {
  f <- get0(name, envir = env, mode = "function")
  if (is.null(f)) return(FALSE)
  for (ns in c("base", "stats", "utils")) {
    g <- get0(name, envir = asNamespace(ns), mode = "function", inherits = FALSE)
    if (!is.null(g) && identical(f, g)) return(TRUE)
  }
  FALSE
}

# Refuse an inner expression that calls a known reduction or
# order-dependent function: the error names it and what to write instead.
check_elementwise_static <- function(key, expr, env, data_names) {
  for (fn in setdiff(intersect(call_names(expr), names(non_elementwise)), data_names)) {
    if (!is_standard_function(fn, env)) next
    if (fn %in% random_generators) {
      abort(sprintf(paste0("`%s` calls %s(), which draws random numbers of its own inside the expression ",
                           "(evaluated on chunks of draws, outside verify()'s streams): give them as %s."),
                    key, fn, non_elementwise[[fn]]))
    }
    abort(sprintf(paste0("`%s` calls %s(), which is not elementwise: an expression inside E(), Var() or ",
                         "Cov() must give one value per draw, from that draw alone (verify() evaluates ",
                         "it on chunks of draws). Use %s."),
                  key, fn, non_elementwise[[fn]]))
  }
  invisible()
}

# Evaluate one inner expression on a chunk, with the variables and
# constants masking the formula's environment.
eval_expression <- function(key, expr, data, consts, env) {
  mask <- list2env(c(data, consts), parent = env)
  tryCatch(eval(expr, mask),
           error = function(e) {
             abort(sprintf("evaluating `%s` on a chunk of draws failed: %s", key, conditionMessage(e)))
           })
}

# The dynamic check, on the first chunk: the expression is evaluated again
# on a subset of the draws in reverse order, and must give the same values
# for the same draws. A function whose value for a draw depends on the
# other draws (a centring, a cumulative sum, the position of the draw, a
# random number of its own) fails it.
check_elementwise_dynamic <- function(key, expr, v, data, consts, env) {
  len <- length(data[[1]])
  idx <- rev(seq.int(1L, len, by = 3L))
  sub <- lapply(data, `[`, idx)
  w <- without_rng(function() suppressWarnings(eval_expression(key, expr, sub, consts, env)))
  if (is.logical(w)) w <- as.double(w)
  ref <- v[idx]
  same <- is.numeric(w) && length(w) == length(idx) &&
    all((is.na(w) & is.na(ref)) | (!is.na(w) & !is.na(ref) &
          (w == ref | abs(w - ref) <= 1e-10 * (abs(w) + abs(ref)))))
  if (!same) {
    abort(sprintf(paste0("`%s` is not elementwise: its value for a draw depends on the other draws ",
                         "of the chunk (on %d of the draws, in reverse order, it gave other values ",
                         "for the same draws). An expression inside E(), Var() or Cov() must give ",
                         "one value per draw from that draw alone: no sums, means, sorting, ",
                         "cumulative or positional functions over the draws, and no random numbers ",
                         "of its own (give those as a variable in `...`)."),
                  key, length(idx)))
  }
  invisible()
}

# Evaluate the inner expressions on one chunk: a list of k vectors. On the
# first chunk (`check`) each is checked to be elementwise.
eval_inner <- function(inner, data, consts, offset, env = globalenv(), check = FALSE) {
  len <- length(data[[1]])
  lapply(names(inner), function(key) {
    expr <- inner[[key]]
    key <- short_text(expr)   # for messages
    if (check) check_elementwise_static(key, expr, env, c(names(data), names(consts)))
    v <- eval_expression(key, expr, data, consts, env)
    if (is.logical(v)) v <- as.double(v)
    random <- intersect(free_vars(expr), names(data))
    if (!is.numeric(v) || is.matrix(v) && ncol(v) != 1) {
      abort(sprintf("`%s` must evaluate to one number per draw, not %s.", key, describe_draw(v)))
    }
    if (length(v) != len) {
      if (length(v) == 1 && !length(random)) {
        v <- rep(v, len)   # a constant
      } else if (length(v) == 1) {
        abort(sprintf(paste0("`%s` reduces the %d draws of a chunk to one number: an expression ",
                             "inside E(), Var() or Cov() must be elementwise, one value per draw ",
                             "(verify() evaluates it on chunks of draws, and E() averages them)."),
                      key, len))
      } else {
        abort(sprintf(paste0("`%s` must give one value per draw (elementwise): on a chunk of %d ",
                             "draws it gave %d values."), key, len, length(v)))
      }
    } else if (check && length(random)) {
      check_elementwise_dynamic(key, expr, v, data, consts, env)
    }
    v <- as.double(v)
    bad <- !is.finite(v)
    if (any(bad)) {
      abort(sprintf("`%s` is not finite in %d of %d draws (first at draw %.0f, %s).", key, sum(bad),
                   len, offset + which(bad)[1], format(v[which(bad)[1]])))
    }
    v
  })
}

# Column plan: for each inner expression i, the mean of e'_i; then the
# squares and cross products the sides use (`ops`, from scan_side()).
moment_columns <- function(ops, keys) {
  cols <- list()
  add <- function(type, i, j = i) {
    nm <- paste(type, i, j)
    if (is.null(cols[[nm]])) cols[[nm]] <<- c(type = type, i = i, j = j)
  }
  for (i in seq_along(keys)) add("m", i)
  for (o in ops) {
    if (o$op == "Var") {
      i <- match(o$keys[1], keys); add("p", i, i)
    } else if (o$op == "Cov") {
      i <- match(o$keys[1], keys); j <- match(o$keys[2], keys)
      add("p", min(i, j), max(i, j))
    }
  }
  do.call(rbind, lapply(cols, function(x) data.frame(type = x[["type"]], i = as.integer(x[["i"]]),
                                                    j = as.integer(x[["j"]]),
                                                    stringsAsFactors = FALSE)))
}

# A side as a function of the mean vector y of the columns: the side is
# evaluated as written, in a child of the formula's environment (so the
# user's functions are found) holding the constants and E(), Var(), Cov()
# that read the columns. Nothing is rewritten, so nothing recurses over the
# formula.
side_function <- function(side, keys, plan, center, scale, consts, env = globalenv(),
                          inner = NULL) {
  k <- length(keys)
  # the column of each mean and product: m[i], p[i, j] (0 if not planned)
  mean_col <- integer(k)
  pcol <- matrix(0L, k, k)
  for (r in seq_len(nrow(plan))) {
    if (plan$type[r] == "m") mean_col[plan$i[r]] <- r else pcol[plan$i[r], plan$j[r]] <- r
  }
  y <- NULL
  # the expression inside E() is the very object of `inner` (identical()
  # is cheap); the deparsed key is the fallback
  # A side calls E(), Var(), Cov() in the same order at every evaluation
  # (the delta method's numerical gradient evaluates it 2k times): the
  # index found at the t-th call is remembered and checked with one
  # identical() next time, so a side of m moments costs O(m), not O(m k).
  seen <- integer(0)
  pos <- 0L
  key_of <- function(x) {
    pos <<- pos + 1L
    c0 <- if (pos <= length(seen)) seen[pos] else NA_integer_
    if (!is.na(c0) && c0 <= length(inner) && identical(inner[[c0]], x)) return(c0)
    i <- NA_integer_
    for (ii in seq_along(inner)) if (identical(inner[[ii]], x)) { i <- ii; break }
    if (is.na(i)) i <- match(deparse_key(x), keys)
    seen[pos] <<- i
    i
  }
  fenv <- list2env(consts, parent = env)
  fenv$E <- function(e) {
    i <- key_of(substitute(e))
    center[i] + scale[i] * y[mean_col[i]]
  }
  fenv$Var <- function(e) {
    i <- key_of(substitute(e))
    scale[i]^2 * (y[pcol[i, i]] - y[mean_col[i]]^2)
  }
  fenv$Cov <- function(e, f) {
    i <- key_of(substitute(e)); j <- key_of(substitute(f))
    scale[i] * scale[j] * (y[pcol[min(i, j), max(i, j)]] - y[mean_col[i]] * y[mean_col[j]])
  }
  function(yy) {
    y <<- yy
    pos <<- 0L
    eval(side, fenv)
  }
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
  plan <- moment_columns(c(pf$ops, pf$ops_general), keys)
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
  env <- pf$env
  # chunk c's draws, inner values and reduction, from its own stream (the
  # same on this process or on a future worker)
  draw_values <- function(c, st) {
    RNGkind("L'Ecuyer-CMRG", "Inversion", "Rejection")
    assign(".Random.seed", st, envir = globalenv())
    len <- as.integer(min(L, n - (c - 1) * L))
    eval_inner(pf$inner, draw_chunk(vars, draw, len, threads), consts, (c - 1) * L, env,
               check = c == 1)
  }
  reduce_chunk <- function(c, st, center, scale, gd, shift) {
    V <- draw_values(c, st)
    cm <- .Call(C_formula_moments, V, center, scale, plan$i, pj)
    cm$tail <- influence_sums(V, center, scale, plan, gd, shift)
    cm
  }
  # what the finished chunks hold: replaced whole after each chunk, so that
  # an interrupt leaves it as it was after the last finished chunk
  state <- NULL
  center <- scale <- NULL
  vzero <- c(k = 0, mean = 0, m2 = 0, max = 0, sum = 0)   # Welford over chunks
  tshift <- 0     # the first chunk's mean influence value: power sums about it
  take <- function(cm) {
    st <- if (is.null(state)) {
      list(acc = NULL, exact = TRUE, vstat = vzero, chunks = 0, tail = numeric(5))
    } else state
    st$tail <- st$tail + cm$tail
    # holds in every sample? the difference is rounding noise in every chunk
    if (st$exact) {
      lc <- sides$fl(cm$mean); rc <- sides$fr(cm$mean)
      tol <- 1e-10 * (abs(lc) + abs(rc) + sum(abs(sides$gl * cm$mean)) +
                        sum(abs(sides$gr * cm$mean)) + 1e-300)
      st$exact <- isTRUE(abs(lc - rc) <= tol)
    }
    # tail diagnostic: the variance of the influence values of full chunks
    if (cm$n == L) {
      vs <- st$vstat
      v <- drop(crossprod(sides$gd, cm$C %*% sides$gd)) / (cm$n - 1)
      k <- vs[["k"]] + 1
      dlt <- v - vs[["mean"]]
      vs[["mean"]] <- vs[["mean"]] + dlt / k
      vs[["m2"]] <- vs[["m2"]] + dlt * (v - vs[["mean"]])
      vs[["k"]] <- k
      vs[["max"]] <- max(vs[["max"]], v)
      vs[["sum"]] <- vs[["sum"]] + v
      st$vstat <- vs
    }
    st$acc <- merge_moments(st$acc, cm)
    st$chunks <- st$chunks + 1
    state <<- st
  }
  result <- function(interrupted = FALSE) {
    list(acc = state$acc, plan = plan, keys = keys, center = center, scale = scale, chunk = L,
         exact = state$exact, vstat = state$vstat, chunks = state$chunks,
         tail = influence_kurtosis(state$tail), interrupted = interrupted)
  }
  sides <- NULL
  bar <- NULL
  frame <- environment()   # the progress bar lives as long as this call
  chunks <- function() {
    V <- draw_values(1, stream)
    center <<- vapply(V, mean, 0)
    sds <- vapply(V, stats::sd, 0)
    mag <- ifelse(is.finite(sds) & sds > 0, sds, abs(center))
    scale <<- ifelse(is.finite(mag) & mag > 0, 2^round(log2(mag)), 1)
    cm1 <- .Call(C_formula_moments, V, center, scale, plan$i, pj)
    sides <<- formula_sides(pf, keys, plan, center, scale, consts, cm1$mean)
    tshift <<- influence_sums(V, center, scale, plan, sides$gd, 0)
    tshift <<- tshift[2] / tshift[1]
    cm1$tail <- influence_sums(V, center, scale, plan, sides$gd, tshift)
    rm(V)
    gc_every <- max(1L, floor(2^19 / (L * (length(keys) + length(vars) + 2))))
    take(cm1)
    t0 <- proc.time()[["elapsed"]]
    tick <- function(c) {
      if (progress && is.null(bar) && proc.time()[["elapsed"]] - t0 > 2 && c < nchunks) {
        bar <<- cli::cli_progress_bar("verify()", total = nchunks, .envir = frame)
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
          stream <<- parallel::nextRNGStream(stream)
          streams[[k]] <- stream
        }
        gd <- sides$gd
        shift <- tshift
        res <- future.apply::future_Map(function(cc, st) {
          local_blas_single_thread()   # one BLAS thread per worker
          reduce_chunk(cc, st, center, scale, gd, shift)
        },
        cs, streams, future.seed = NULL,
        future.packages = "initvar")
        for (cm in res) take(cm)
        tick(max(cs))
        c <- max(cs) + 1L
      }
    } else if (nchunks > 1) {
      for (c in 2:nchunks) {
        stream <<- parallel::nextRNGStream(stream)
        take(reduce_chunk(c, stream, center, scale, sides$gd, tshift))
        # garbage is collected every few MB of draws, so that the peak memory
        # does not depend on n
        if (c %% gc_every == 0) gc(verbose = FALSE, full = FALSE)
        tick(c)
      }
    }
  }
  # Ctrl-C: the chunks finished are kept (they merge exactly), as for the
  # built-in identities; verify_formula() re-signals the interrupt with them
  interrupted <- tryCatch({
    chunks()
    FALSE
  }, interrupt = function(e) TRUE)
  if (!is.null(bar)) cli::cli_progress_done(id = bar)
  result(interrupted)
}

# The influence values of a chunk's draws, psi_t = sum_r gd_r Y_rt (Y_r
# the moment columns of C_formula_moments, u_i or u_i u_j on the centred,
# scaled axis; gd the gradient of the difference of the sides), reduced to
# the count and the power sums of psi - shift, up to the fourth.
influence_sums <- function(V, center, scale, plan, gd, shift) {
  u <- function(i) (V[[i]] - center[i]) / scale[i]
  psi <- 0
  for (r in seq_len(nrow(plan))) {
    if (gd[r] == 0) next
    y <- if (plan$type[r] == "p") u(plan$i[r]) * u(plan$j[r]) else u(plan$i[r])
    psi <- psi + gd[r] * y
  }
  psi <- rep_len(psi, length(V[[1]])) - shift
  p2 <- psi * psi
  c(length(psi), sum(psi), sum(p2), sum(p2 * psi), sum(p2 * p2))
}

# The sample kurtosis of the influence values over all draws, from their
# power sums about a shift near their mean (NA when they do not vary).
influence_kurtosis <- function(s) {
  if (is.null(s) || s[1] < 2) return(NA_real_)
  n <- s[1]
  m <- s[2] / n
  m2 <- s[3] / n - m^2
  m4 <- s[5] / n - 4 * m * s[4] / n + 6 * m^2 * s[3] / n - 3 * m^4
  if (!is.finite(m2) || m2 <= 0 || !is.finite(m4)) return(NA_real_)
  max(m4, 0) / m2^2
}

# The heavy-tail rule for the influence values' sample kurtosis k over n
# draws: the MCSE's square is their sample variance, whose relative
# standard error is sqrt((kappa - 1) / n); the rule k > 0.02 n flags a
# relative error above about 14% (an MCSE off by about 7%). Measured at n
# = 10,000 over 400 seeds each (tools/verify-heavy-tails.R), Var(X) of
# X ~ lognormal(0, 1) (whose t test rejects 4.75% at level 0.99): sample
# kurtosis 213-9878, warned in 400 of 400; exponential (population
# kurtosis 216, just above the rule at this n): 22%; normal (15) and
# uniform (2.1): never (largest 28.6 and 2.2).
heavy_influence <- function(k, n) !is.na(k) && k > 0.02 * n

# Ctrl-C before the first chunk of draws finished: an interrupt condition
# (as raise_interrupt() signals) saying so, with no partial result.
raise_interrupt_nothing_done <- function() {
  the$last_partial <- NULL
  cond <- structure(
    class = c("initvar_interrupt", "interrupt", "condition"),
    list(message = sprintf(paste0("interrupted before the first chunk of %s draws was finished: ",
                                  "there is no partial result (`e$partial` and `last_partial()` ",
                                  "are NULL)"),
                           format(formula_chunk(0), big.mark = ",")),
         call = NULL, partial = NULL))
  signalCondition(cond)
  invokeRestart("abort")
}

# The sides as functions of the mean vector, and their gradients at the
# first chunk's means (for the per-chunk checks). Each side must be one
# finite number.
formula_sides <- function(pf, keys, plan, center, scale, consts, y1) {
  fl <- side_function(pf$lhs, keys, plan, center, scale, consts, pf$env, pf$inner)
  fr <- side_function(pf$rhs, keys, plan, center, scale, consts, pf$env, pf$inner)
  check_side_value(fl(y1), pf$lhs, "left")
  check_side_value(fr(y1), pf$rhs, "right")
  gl <- num_grad(fl, y1)
  gr <- num_grad(fr, y1)
  gd <- gl - gr
  list(fl = fl, fr = fr, gl = gl, gr = gr, gd = gd / max(abs(gd), 1e-300))
}

# A side's value must be one finite number: NA, Inf, NaN, a vector or a
# string are errors naming the side, not a failure deep in the engine.
check_side_value <- function(v, side, which) {
  what <- if (which == "general") "the general formula" else sprintf("the %s side of the formula", which)
  text <- short_text(side)
  if (!is.numeric(v) && !is.logical(v) || length(v) != 1) {
    abort(sprintf("%s, `%s`, must be one number, not %s.", what, text, describe(v)))
  }
  if (!is.finite(v)) {
    why <- if (is.infinite(v) || is.nan(v)) {
      " (a moment or value beyond double precision, about 1.8e308, or an undefined operation)"
    } else ""
    abort(sprintf("%s, `%s`, must be a finite number, not %s%s.", what, text, describe(v), why))
  }
  invisible(v)
}

# The sides before any draw: E(), Var() and Cov() replaced by 1, so that a
# side that is not one number (`~ c(1, 2)`, `~ "a"`) fails before
# simulating, with an error that names it.
check_side_shape <- function(side, env, consts, which) {
  fenv <- list2env(consts, parent = env)
  fenv$E <- function(e) 1
  fenv$Var <- function(e) 1
  fenv$Cov <- function(e, f) 1
  what <- if (which == "general") "the general formula" else sprintf("the %s side of the formula", which)
  v <- tryCatch(suppressWarnings(eval(side, fenv)),
                error = function(e) {
                  abort(sprintf("%s, `%s`, cannot be evaluated: %s", what, short_text(side),
                                conditionMessage(e)))
                })
  if (!is.numeric(v) && !is.logical(v) || length(v) != 1) {
    abort(sprintf("%s, `%s`, must be one number, not %s.", what, short_text(side), describe(v)))
  }
  # a side without moments is known now: NA or Inf is refused before any draw
  if (!length(intersect(call_names(side), moment_ops))) check_side_value(v, side, which)
  invisible()
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
  fl <- side_function(pf$lhs, run$keys, run$plan, run$center, run$scale, consts, pf$env, pf$inner)
  fr <- side_function(pf$rhs, run$keys, run$plan, run$center, run$scale, consts, pf$env, pf$inner)
  y <- run$acc$mean
  n <- run$acc$n
  Sigma <- run$acc$C / (n - 1)
  lhs <- check_side_value(fl(y), pf$lhs, "left")
  rhs <- check_side_value(fr(y), pf$rhs, "right")
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
    fg <- side_function(pf$general, run$keys, run$plan, run$center, run$scale, consts, pf$env, pf$inner)
    gg <- num_grad(fg, y)
    gv <- check_side_value(fg(y), pf$general, "general")
    gdiff <- lhs - gv
    gse <- se(gl - gg)
    gz <- if (abs(gdiff) <= 1e-10 * (abs(lhs) + abs(gv))) 0 else gdiff / gse
    general <- list(value = gv, diff = gdiff, mcse = gse, z = gz)
  }
  list(lhs = lhs, rhs = rhs, diff = diff, mcse = mcse_d, ratio = ratio, ratio_mcse = mcse_r,
       mcse_lhs = se(gl), mcse_rhs = se(gr), exact = exact, kappa = kappa,
       chunk_share = share, chunks = run$chunks, influence_kurtosis = run$tail,
       general = general)
}

# The column names of a `draw` function, from a pilot call that does not
# move the caller's RNG stream.
draw_columns <- function(draw, arg = "draw") {
  probe <- without_rng(function() draw(2L))
  if (is.data.frame(probe)) probe <- as.matrix(probe)
  if (!is.matrix(probe) || !is.numeric(probe) || is.null(colnames(probe)) ||
      any(!nzchar(colnames(probe)))) {
    abort(sprintf("`%s` must return a numeric matrix with named columns: it returned %s.",
                  arg, describe_draw(probe)))
  }
  twice <- colnames(probe)[duplicated(colnames(probe))]
  if (length(twice)) {
    abort(sprintf("`%s` must return a matrix with distinct column names: `%s` is a column twice.",
                  arg, twice[1]))
  }
  colnames(probe)
}

# The names a formula uses against the variables, constants and draw
# columns given: what verify() would refuse. `where` names where each kind
# is given (verify()'s arguments or new_identity()'s).
check_formula_names <- function(pf, var_names, const_names, draw_names,
                                where = c(vars = "a random variable in `...`",
                                          consts = "a constant", draw = "a column of `draw`",
                                          give = paste("pass it as a random variable (a function of n or",
                                                       "a scheme), a constant, or a column of `draw`"))) {
  # every function the formula calls is found from its environment now, not
  # when the first chunk is evaluated
  for (fn in setdiff(unique(c(call_names(pf$lhs), call_names(pf$rhs))), moment_ops)) {
    if (!exists(fn, envir = pf$env, mode = "function")) {
      abort(sprintf(paste0("The formula calls `%s()`, but no function of that name is found ",
                           "from the formula's environment: define it first."), fn))
    }
  }
  clash <- function(a, b, wa, wb) {
    both <- intersect(a, b)
    if (length(both)) {
      abort(sprintf("`%s` is both %s and %s: each name must be given once.", both[1], wa, wb))
    }
  }
  clash(var_names, draw_names, where[["vars"]], where[["draw"]])
  clash(const_names, draw_names, where[["consts"]], where[["draw"]])
  clash(var_names, const_names, where[["vars"]], where[["consts"]])
  random <- c(var_names, draw_names)
  outside_random <- intersect(pf$vars_outside, random)
  if (length(outside_random)) {
    abort(sprintf("the random variable `%s` appears outside E(), Var() or Cov(): each side must be a function of expectations.",
                 outside_random[1]))
  }
  missing_vars <- setdiff(c(pf$vars_inside, pf$vars_outside), c(random, const_names, "pi"))
  if (length(missing_vars)) {
    abort(sprintf("`%s` is used in the formula but not given: %s.", missing_vars[1], where[["give"]]))
  }
  if (!length(intersect(pf$vars_inside, random))) {
    abort("the formula's E(), Var() and Cov() involve no random variable.")
  }
  invisible()
}

# Check a formula identity; called by verify().
verify_formula <- function(formula, n, args, params, draw, level, threads, id = NULL,
                           statement = NULL, assumptions = NULL, dropped = NULL,
                           dropped_text = NULL, progress = FALSE, general = NULL,
                           future = FALSE, exempt = character(0)) {
  pf <- parse_identity_formula(formula)
  if (!is.null(general)) pf <- add_general_formula(pf, general)
  sv <- split_variables(args, params)
  draw_names <- character(0)
  if (!is.null(draw)) {
    if (!is.function(draw)) abort_arg("draw", "a function of n returning a matrix with named columns", draw)
  }
  clash <- intersect(c(pf$vars_inside, pf$vars_outside), verify_own_args)
  # (names given otherwise than in `...`: parameters, an identity's own
  # variables, and the columns of `draw` below, do not clash)
  clash <- setdiff(clash, c(names(params), exempt))
  if (!is.null(draw) && length(clash)) clash <- setdiff(clash, draw_columns(draw))
  if (length(clash)) {
    abort(sprintf(paste0("`%s` in the formula is also an argument of verify(); give a parameter ",
                        "of that name as `params = list(%s = ...)`."), clash[1], clash[1]))
  }
  if (is.null(n)) n <- 1e6
  check_whole(n, "n", min = verify_min_draws, max = 1e13)
  # a pilot call names the columns of draw()
  if (!is.null(draw)) draw_names <- draw_columns(draw)
  check_formula_names(pf, names(sv$vars), names(sv$consts), draw_names)
  check_side_shape(pf$lhs, pf$env, sv$consts, "left")
  check_side_shape(pf$rhs, pf$env, sv$consts, "right")
  if (!is.null(pf$general)) check_side_shape(pf$general, pf$env, sv$consts, "general")
  used_vars <- sv$vars[intersect(names(sv$vars), pf$vars_inside)]
  run <- run_formula(pf, used_vars, draw, sv$consts, n, threads, progress, isTRUE(future))
  if (run$interrupted && is.null(run$acc)) raise_interrupt_nothing_done()
  done <- if (run$interrupted) run$acc$n else n
  est <- formula_estimates(run, pf, sv$consts)
  out <- new_formula_verification(pf, est, done, level, id = id, statement = statement,
                                  assumptions = assumptions, consts = sv$consts,
                                  dropped = dropped, dropped_text = dropped_text)
  # Ctrl-C: the draws of the finished chunks, re-signalled as the built-in
  # identities do (`e$partial`, last_partial())
  if (run$interrupted) raise_interrupt(out)
  out
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
  } else if (!est$exact && heavy_influence(est$influence_kurtosis, n)) {
    # at any n (the chunk route needs 16 chunks, n >= 131,072): the sample
    # kurtosis of the influence values themselves
    warn <- sprintf(paste0("the draws look heavy-tailed: the influence values' sample kurtosis is %s ",
                           "over %s draws (above %s, 0.02 n), so the variance the MCSE rests on is ",
                           "estimated with a relative standard error above 14%%, and the calibration ",
                           "cannot be trusted; use more draws, or a lighter-tailed estimand."),
                    format(signif(est$influence_kurtosis, 3)), format(n, big.mark = ","),
                    format(0.02 * n, big.mark = ","))
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
    verdict = verdict, exact = est$exact, tail_kurtosis = est$kappa,
    influence_kurtosis = if (est$exact) NA_real_ else est$influence_kurtosis, warning = warn,
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
#' `new_identity()` refuses an identity that [verify()] could never check:
#' a name the formula uses that is neither a variable, a parameter nor a
#' column of `draw` (for the identity and for each counterexample with its
#' general formula), a random variable outside `E()`, `Var()` and `Cov()`, a
#' name given twice (as a variable and a parameter, or a variable and a
#' column of `draw`), a parameter that is not a finite number, a side that
#' is not one number. `draw` functions are called once with `n = 2` to learn
#' their columns (the caller's random numbers are not moved).
#' `register_identity()` checks its argument as `new_identity()` would
#' make it: an object that merely has the class is refused.
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
  check_string(assumptions, "assumptions")
  check_string(used_in, "used_in")
  if (!is.null(statement)) check_string(statement, "statement")
  if (!is.null(kernel)) return(new_kernel_identity(id, formula, assumptions, params, drops,
                                                   statement, used_in, n, latex, kernel))
  pf <- parse_identity_formula(formula, "formula")
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
  if (!is.null(latex) && !(is.character(latex) && length(latex) == 1 && !is.na(latex))) {
    abort_arg("latex", "NULL or a single string", latex)
  }
  check_identity_usable(pf, variables, draw, params, drops, general)
  structure(list(id = id, formula = formula, statement = if (is.null(statement)) pf$text else statement,
                 latex = if (is.null(latex)) NA_character_ else latex,
                 assumptions = assumptions, used_in = used_in, variables = variables, draw = draw,
                 params = params, drops = drops, general = general, n = n),
            class = "initvar_identity")
}

# What verify() would refuse, refused when the identity is made: the
# constants, the variables, the draw columns, and for the identity and
# each of its counterexamples (with its general formula) the names the
# formula uses.
check_identity_usable <- function(pf, variables, draw, params, drops, general) {
  for (nm in names(params)) {
    v <- params[[nm]]
    if (!is.numeric(v) || length(v) != 1 || !is.finite(v)) {
      abort_arg(sprintf("params$%s", nm), "a finite number", v)
    }
  }
  check_variables <- function(vs, arg) {
    twice <- names(vs)[duplicated(names(vs))]
    if (length(twice)) abort(sprintf("`%s` names `%s` twice.", arg, twice[1]))
    for (nm in names(vs)) {
      v <- vs[[nm]]
      if (!is.function(v) && !inherits(v, "initvar_scheme")) {
        abort_arg(sprintf("%s$%s", arg, nm), "a function of n or an elementwise scheme", v)
      }
      if (inherits(v, "initvar_scheme")) check_scheme(v, sprintf("%s$%s", arg, nm))
      if (inherits(v, "initvar_scheme") && !v$family %in% fan_free) {
        abort(sprintf(paste("`%s$%s` must be an elementwise distribution (`init_normal()`,",
                            "`init_uniform()`, `init_truncated_normal()`, `init_constant()`) or a",
                            "function of n, not %s: a scheme that depends on the layer size has no",
                            "distribution of its own."), arg, nm, describe(v$label)))
      }
    }
  }
  check_variables(variables, "variables")
  twice <- names(params)[duplicated(names(params))]
  if (length(twice)) abort(sprintf("`params` names `%s` twice.", twice[1]))
  where <- function(d) c(vars = "a variable in `variables`", consts = "a constant in `params`",
                         draw = sprintf("a column of `%s`", d),
                         give = sprintf("give it in `variables`, in `params`, or as a column of `%s`", d))
  draw_names <- if (!is.null(draw)) draw_columns(draw, "draw") else character(0)
  check_formula_names(pf, names(variables), names(params), draw_names, where("draw"))
  check_side_shape(pf$lhs, pf$env, params, "left")
  check_side_shape(pf$rhs, pf$env, params, "right")
  for (nm in names(drops)) {
    dd <- drops[[nm]]
    arg <- sprintf("drops$%s", nm)
    vars <- variables
    dnames <- draw_names
    if (is.function(dd)) {
      dnames <- draw_columns(dd, arg)
      vars <- vars[setdiff(names(vars), dnames)]
    } else {
      if (length(dd) && (is.null(names(dd)) || any(!nzchar(names(dd))))) {
        abort_arg(arg, "a draw function of n or a named list of variables", dd)
      }
      check_variables(dd, arg)
      vars[names(dd)] <- dd
    }
    pfd <- pf
    if (!is.null(general[[nm]])) {
      pfd <- add_general_formula(pf, general[[nm]], sprintf("general$%s", nm))
      check_side_shape(pfd$general, pf$env, params, "general")
    }
    check_formula_names(pfd, names(vars), names(params), dnames, where(if (is.function(dd)) arg else "draw"))
  }
  invisible()
}

# An identity from new_identity() rebuilt from its fields, so that it is
# checked as new_identity() checks it: an object that merely has the class
# is refused. Returns the rebuilt identity.
validate_identity <- function(identity, arg = "identity") {
  if (!inherits(identity, "initvar_identity") || !is.list(identity)) {
    abort_arg(arg, "an identity from `new_identity()`", identity)
  }
  std <- c("id", "formula", "statement", "latex", "assumptions", "used_in", "params", "drops", "n")
  user <- c(std, "variables", "draw", "general")
  kernel <- !is.null(identity[["estimand"]])
  have <- names(identity)
  missing <- setdiff(if (kernel) std else user, have)
  extra <- if (kernel) character(0) else setdiff(have, user)
  if (is.null(have) || length(missing) || length(extra)) {
    abort(sprintf("`%s` must be an identity made by `new_identity()`, not an object of class <initvar_identity> %s.",
                  arg, if (is.null(have) || length(missing)) {
                    sprintf("without `%s`", paste(if (is.null(have)) user else missing, collapse = "`, `"))
                  } else sprintf("with the unknown field `%s`", extra[1])))
  }
  latex <- identity$latex
  if (identical(latex, NA_character_)) latex <- NULL
  tryCatch(
    if (kernel) {
      new_identity(identity$id, identity$formula, identity$assumptions, params = identity$params,
                   drops = identity$drops, statement = identity$statement,
                   used_in = identity$used_in, n = identity$n, latex = latex,
                   kernel = identity[setdiff(have, std)])
    } else {
      new_identity(identity$id, identity$formula, identity$assumptions, identity$variables,
                   identity$draw, identity$params, identity$drops, identity$general,
                   identity$statement, identity$used_in, identity$n, latex)
    },
    initvar_error = function(e) {
      abort(sprintf("`%s` is not a valid identity: %s", arg, conditionMessage(e)))
    })
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
  cat_para("<initvar identity> ", x$id, ": ", x$statement, indent = 0, exdent = 4)
  if (nzchar(x$assumptions)) cat_field("assumptions:", x$assumptions)
  vars <- c(names(x$variables), if (!is.null(x$draw)) "columns of `draw`")
  if (length(vars)) cat_field("variables:", paste(vars, collapse = ", "))
  if (length(x$params)) cat_field("parameters:", fmt_params(x$params))
  if (length(x$drops)) cat_field("drops:", paste(names(x$drops), collapse = ", "))
  invisible(x)
}

identity_registry <- new.env(parent = emptyenv())

#' @rdname new_identity
#' @param identity An identity from `new_identity()`.
#' @param overwrite `TRUE` to replace a registered identity of the same id,
#'   `FALSE` (the default) to refuse.
#' @export
register_identity <- function(identity, overwrite = FALSE) {
  check_flag(overwrite, "overwrite")
  identity <- validate_identity(identity)
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
  consts <- identity$params
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
  # `...` and `params` override the identity's variables and parameters of
  # the same names
  given <- c(names(args), names(params))
  vars <- vars[setdiff(names(vars), given)]
  consts <- consts[setdiff(names(consts), given)]
  consts[names(params)] <- params
  if (is.null(n)) n <- identity$n
  verify_formula(identity$formula, n, c(vars, args), consts, d, level, threads,
                 exempt = names(vars),
                 id = identity$id, statement = identity$statement,
                 assumptions = identity$assumptions, dropped = drop,
                 dropped_text = if (!is.null(drop)) sprintf("the counterexample's own draws (`drops$%s`)", drop),
                 progress = progress, general = general, future = future)
}

print_formula_verification <- function(x, digits = 4) {
  f <- function(v) format(signif(v, digits))
  cat_para("Identity `", x$id, "`: ", x$statement, indent = 0, exdent = 4)
  if (!identical(x$statement, x$formula)) cat_field("formula:", x$formula)
  cat_field("assumptions:", x$assumptions)
  if (!is.null(x$dropped)) cat_field("DROPPED:", x$dropped, ": ", x$dropped_text)
  if (length(x$params)) cat_field("parameters:", fmt_params(x$params))
  cat_field("simulation:", sprintf(paste0("both sides from the same %s draws (plug-in moments); MCSE of the ",
                                          "difference by the delta method"),
                                   format(x$n, big.mark = ",", scientific = FALSE)))
  cat("\n")
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
  cat("\n")
  cat_para(x$verdict)
  if (!is.null(x$warning)) cat_para("Warning: ", x$warning)
  if (!is.null(x$general)) {
    cat_para(sprintf("The general formula, %s, gives %s: %s (z = %.2f).", x$general_text, f(x$general),
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
