# Identities written by the user: formulas over E(), Var() and Cov().

# The chunks' draws, as verify() makes them: one seed from the caller's RNG,
# chunk c from the c-th L'Ecuyer-CMRG stream of it.
reference_draws <- function(n, gen, seed) {
  set.seed(seed)
  s <- sample.int(.Machine$integer.max, 1L)
  old <- RNGkind()
  on.exit(RNGkind(old[1], old[2], old[3]))
  RNGkind("L'Ecuyer-CMRG", "Inversion", "Rejection")
  set.seed(s)
  st <- .Random.seed
  L <- initvar:::formula_chunk(n)
  out <- NULL
  for (c in seq_len(ceiling(n / L))) {
    if (c > 1) st <- parallel::nextRNGStream(st)
    assign(".Random.seed", st, envir = globalenv())
    len <- min(L, n - (c - 1) * L)
    out <- rbind(out, gen(len))
  }
  out
}

test_that("the issue's examples run as documented", {
  set.seed(4001)
  v <- verify(Var(a * X + b) ~ a^2 * Var(X), X = function(n) rexp(n), a = 2, b = 3, n = 1e5)
  expect_true(v$exact)
  expect_match(v$verdict, "holds identically in the sample")
  expect_true(is.na(v$p_value))
  set.seed(4002)
  v <- verify(Var(X * Y) ~ Var(X) * Var(Y) + Var(X) * E(Y)^2 + Var(Y) * E(X)^2,
              X = init_normal(1, 2), Y = init_uniform(-1, 2), n = 1e5)
  expect_false(v$exact)
  expect_equal(v$rhs, 4.75, tolerance = 10 * v$mcse_rhs / 4.75)
  set.seed(4003)
  v <- verify(Cov(X + Y, X - Y) ~ Var(X) - Var(Y), X = function(n) runif(n),
              Y = function(n) rexp(n), n = 1e5)
  expect_true(v$exact)
  set.seed(4004)
  v <- verify(Var(X + Y) ~ Var(X) + Var(Y),
              draw = function(n) { x <- rnorm(n); cbind(X = x, Y = 0.5 * x + rnorm(n)) }, n = 1e5)
  expect_false(v$consistent)
  expect_match(v$verdict, "^not consistent at level 0.99")
  id <- new_identity("var_difference", Var(X - Y) ~ Var(X) + Var(Y),
                     assumptions = "X and Y independent",
                     variables = list(X = function(n) rexp(n), Y = function(n) rnorm(n)),
                     drops = list(independence = function(n) {
                       x <- rexp(n); cbind(X = x, Y = x + rnorm(n))
                     }),
                     general = list(independence = ~ Var(X) + Var(Y) - 2 * Cov(X, Y)))
  expect_s3_class(id, "initvar_identity")
  set.seed(4005)
  expect_true(verify(id, n = 1e5)$consistent)
  set.seed(4006)
  d <- verify(id, n = 1e5, drop = "independence")
  expect_false(d$consistent)
  expect_lt(abs(d$general_z), 1e-6)   # Var(X - Y) = Var(X) + Var(Y) - 2 Cov: algebraic
  expect_s3_class(as.data.frame(d), "data.frame")
  expect_output(print(d), "general formula")
})

test_that("estimates and MCSE equal a plain-R reference on the same draws", {
  n <- 20000
  gen <- function(len) cbind(X = rgamma(len, 2, 3), Y = rbeta(len, 2, 5))
  ref <- reference_draws(n, gen, 4010)
  x <- ref[, "X"]; y <- ref[, "Y"]
  set.seed(4010)
  v <- verify(Var(X * Y) ~ Var(X) * Var(Y) + Var(X) * E(Y)^2 + Var(Y) * E(X)^2,
              draw = function(len) cbind(X = rgamma(len, 2, 3), Y = rbeta(len, 2, 5)), n = n)
  pv <- function(u) mean((u - mean(u))^2)   # plug-in variance
  lhs <- pv(x * y)
  rhs <- pv(x) * pv(y) + pv(x) * mean(y)^2 + pv(y) * mean(x)^2
  expect_equal(v$lhs, lhs, tolerance = 1e-12)
  expect_equal(v$rhs, rhs, tolerance = 1e-12)
  # influence values of the difference, by hand
  mx <- mean(x); my <- mean(y); vx <- pv(x); vy <- pv(y); mxy <- mean(x * y)
  infl_var <- function(u) (u - mean(u))^2 - pv(u)
  psi <- infl_var(x * y) -
    (infl_var(x) * vy + vx * infl_var(y) + infl_var(x) * my^2 + vx * 2 * my * (y - my) +
       infl_var(y) * mx^2 + vy * 2 * mx * (x - mx))
  expect_equal(v$mcse, stats::sd(psi) / sqrt(n), tolerance = 1e-9)
  # a covariance identity and an expectation
  set.seed(4010)
  w <- verify(Cov(X, X + Y) ~ Var(X), draw = gen, n = n)
  expect_equal(w$lhs, mean((x - mx) * (x + y - mean(x + y))), tolerance = 1e-12)
  psi2 <- (x - mx) * (x + y - mean(x + y)) - w$lhs - infl_var(x)
  expect_equal(w$mcse, stats::sd(psi2) / sqrt(n), tolerance = 1e-9)
})

test_that("results do not depend on threads, and the caller's RNG is restored", {
  f <- Var(X + Y) ~ Var(X) + Var(Y)
  set.seed(4020); a <- verify(f, X = init_normal(0, 2), Y = function(n) runif(n), n = 1e5, threads = 1)
  set.seed(4020); b <- verify(f, X = init_normal(0, 2), Y = function(n) runif(n), n = 1e5, threads = 2)
  expect_identical(a$lhs, b$lhs)
  expect_identical(a$mcse, b$mcse)
  RNGkind("Mersenne-Twister")
  set.seed(4021)
  verify(f, X = function(n) rnorm(n), Y = function(n) rnorm(n), n = 1e4)
  after <- runif(1)
  set.seed(4021); sample.int(.Machine$integer.max, 1L)
  expect_identical(after, runif(1))
  expect_identical(RNGkind()[1], "Mersenne-Twister")
})

test_that("calibration: true identities are rejected at most 1% of the time at level 0.99", {
  skip_unless_full()
  R <- 150
  bound <- stats::qbinom(1 - 1e-3 / 24, R, 0.01)   # Bonferroni over the 24 cells
  cases <- list(
    normal = list(Var(X + Y) ~ Var(X) + Var(Y), list(X = function(n) rnorm(n, 1, 2), Y = function(n) rnorm(n))),
    uniform = list(Var(X * Y) ~ Var(X) * Var(Y) + Var(X) * E(Y)^2 + Var(Y) * E(X)^2,
                   list(X = function(n) runif(n, -1, 2), Y = function(n) runif(n))),
    gamma = list(Var(X - Y) ~ Var(X) + Var(Y), list(X = function(n) rgamma(n, 2), Y = function(n) rgamma(n, 0.5))),
    exponential = list(Cov(X, X + Y) ~ Var(X), list(X = function(n) rexp(n), Y = function(n) rexp(n, 2))),
    beta = list(Var(X * Y) ~ Var(X) * Var(Y) + Var(X) * E(Y)^2 + Var(Y) * E(X)^2,
                list(X = function(n) rbeta(n, 2, 5), Y = function(n) rbeta(n, 0.5, 0.5))),
    student_t = list(Var(X + Y) ~ Var(X) + Var(Y), list(X = function(n) rt(n, 12), Y = function(n) rnorm(n))),
    schemes = list(Var(X * Y) ~ Var(X) * Var(Y) + Var(X) * E(Y)^2 + Var(Y) * E(X)^2,
                   list(X = init_normal(1, 2), Y = init_truncated_normal(0.5, 1, -1, 3))),
    expectation = list(E(X * Y) ~ E(X) * E(Y), list(X = function(n) rexp(n), Y = function(n) rgamma(n, 3))),
    ratio = list(Var(X) / Var(Y) ~ 4, list(X = function(n) rnorm(n, 0, 2), Y = function(n) rnorm(n))),
    law_total_variance = list(
      Var(Y) ~ E(S^2) + Var(M), list(),
      function(n) { m <- rnorm(n); s <- runif(n, 0.5, 1.5); cbind(M = m, S = s, Y = m + s * rnorm(n)) }),
    shifted = list(Var(X + Y) ~ Var(X) + Var(Y), list(X = function(n) 1e6 + rnorm(n), Y = function(n) -1e6 + runif(n))),
    tiny = list(Var(X + Y) ~ Var(X) + Var(Y), list(X = function(n) 1e-90 * rexp(n), Y = function(n) 1e-90 * rnorm(n))))
  for (nm in names(cases)) {
    cs <- cases[[nm]]
    for (n in c(1e4, 4e4)) {
      rej <- vapply(seq_len(R), function(s) {
        set.seed(12000 + s)
        args <- c(list(cs[[1]], n = n), cs[[2]])
        if (length(cs) > 2) args$draw <- cs[[3]]
        # (the rates of every run: the heavy-tail warning, which the
        # gamma(0.5) and exponential cells can raise at n = 1e4, is not
        # the question here)
        !suppressWarnings(do.call(verify, args))$consistent
      }, TRUE)
      expect_lte(sum(rej), bound, label = sprintf("%s at n = %g: %d of %d rejected", nm, n, sum(rej), R))
    }
  }
})

test_that("power: false identities are rejected and the general formula holds", {
  set.seed(4030)
  v <- verify(Var(X * Y) ~ Var(X) * Var(Y), X = function(n) rnorm(n, 1), Y = function(n) rnorm(n, 2), n = 1e5)
  expect_false(v$consistent)
  set.seed(4031)
  dep <- function(n) { x <- rexp(n); cbind(X = x, Y = x^2 + rnorm(n)) }
  expect_false(verify(E(X * Y) ~ E(X) * E(Y), draw = dep, n = 1e5)$consistent)
  set.seed(4032)
  expect_true(verify(E(X * Y) ~ E(X) * E(Y) + Cov(X, Y), draw = dep, n = 1e5)$exact)
})

test_that("scale-free: variances of 1e-100 or 1e100 behave like variances of 1", {
  z <- vapply(c(1e-100, 1, 1e100), function(k) {
    set.seed(4040)
    verify(Var(X + Y) ~ Var(X) + Var(Y), X = function(n) k * rexp(n), Y = function(n) k * runif(n),
           n = 1e5)$z
  }, 0)
  expect_equal(z[1], z[2], tolerance = 1e-6)
  expect_equal(z[3], z[2], tolerance = 1e-6)
})

test_that("memory does not grow with n", {
  skip_unless_full()
  skip_on_cran()
  # AddressSanitizer keeps freed memory in quarantine: resident memory then
  # grows with what was allocated, not with what is live
  if (nzchar(Sys.getenv("INITVAR_SANITIZER"))) skip("not under the sanitizers")
  f <- Var(X + Y) ~ Var(X) + Var(Y)
  used <- function(n) {
    gc(reset = TRUE)
    start <- sum(gc()[, 2])
    set.seed(4050)
    verify(f, X = function(n) rnorm(n), Y = function(n) runif(n), n = n)
    sum(gc()[, 6]) - start   # max used (Mb) over the run, above the start
  }
  used(1e5)   # a first run compiles and caches what later runs reuse
  small <- used(1e5)
  big <- used(1e7)
  expect_lte(big, 1.1 * small)
  # peak resident memory of a fresh process
  rss <- function(n) {
    code <- sprintf(paste0("library(initvar); set.seed(1); invisible(verify(Var(X + Y) ~ Var(X) + Var(Y), ",
                           "X = function(n) rnorm(n), Y = function(n) runif(n), n = %s)); ",
                           "cat(grep('VmHWM', readLines('/proc/self/status'), value = TRUE))"), format(n))
    out <- system2(file.path(R.home("bin"), "Rscript"), c("-e", shQuote(code)), stdout = TRUE)
    as.numeric(gsub("[^0-9]", "", out[length(out)]))
  }
  if (file.exists("/proc/self/status")) {
    expect_lt(rss(1e7), 1.25 * rss(1e5))
  }
})

test_that("a heavy-tailed generator gets a warning about calibration", {
  set.seed(4060)
  expect_warning(v <- verify(Var(X) ~ 5 / 3, X = function(n) rt(n, 2.5), n = 1e6), "heavy-tailed")
  expect_false(is.null(v$warning))
  set.seed(4061)
  expect_warning(verify(Var(X) ~ 1, X = function(n) rnorm(n), n = 1e6), NA)
})

test_that("at n = 10,000 heavy tails are flagged from the influence values' kurtosis", {
  # the chunk route needs 16 chunks; at n = 1e4 the rule is the sample
  # kurtosis of the influence values above 0.02 n. Over 400 seeds
  # (tools/verify-heavy-tails.R): lognormal(0, 1) warned in 400 (sample
  # kurtosis 213-9878), normal and uniform in none (at most 28.6 and 2.2)
  heavy <- function(v) !is.null(v$warning) && grepl("heavy-tailed", v$warning)
  run <- function(gen, s2, seed) {
    set.seed(seed)
    suppressWarnings(verify(Var(X) ~ s2, X = gen, n = 1e4, params = list(s2 = s2)))
  }
  set.seed(4062)
  expect_warning(v <- verify(Var(X) ~ s2, X = function(n) rlnorm(n), n = 1e4,
                             params = list(s2 = (exp(1) - 1) * exp(1))), "sample kurtosis")
  expect_gt(v$influence_kurtosis, 200)
  expect_warning(v <- verify(Var(X) ~ 1, X = function(n) rnorm(n), n = 1e4), NA)
  expect_lt(v$influence_kurtosis, 50)
  # the influence values of Var(X), about the first chunk's (8,192 draws)
  # mean m: (X - m)^2 up to a constant and a scale. Fixed draws: every chunk
  # of len draws is xf[1:len]
  set.seed(4063)
  xf <- rexp(8192)^2
  v <- suppressWarnings(verify(Var(X) ~ 1, X = function(n) xf[seq_len(n)], n = 1e4))
  x <- c(xf, xf[1:(1e4 - 8192)])
  p <- (x - mean(xf))^2
  p <- p - mean(p)
  expect_equal(v$influence_kurtosis, mean(p^4) / mean(p^2)^2, tolerance = 1e-8)
  skip_unless_full()
  # lighter than the tool's 400 seeds: with a warning rate of at least
  # 0.99, 40 lognormal seeds warn at least 36 times (P(fewer) < 1e-5);
  # normal and uniform never (their kurtosis is 15 and 2.1, the rule 200)
  w <- vapply(1:40, function(s) heavy(run(function(n) rlnorm(n), (exp(1) - 1) * exp(1), 5000 + s)), TRUE)
  expect_gte(sum(w), 36)
  w0 <- c(vapply(1:15, function(s) heavy(run(function(n) rnorm(n), 1, 6000 + s)), TRUE),
          vapply(1:15, function(s) heavy(run(function(n) runif(n), 1 / 12, 7000 + s)), TRUE))
  expect_false(any(w0))
})

test_that("bad formulas get clear errors", {
  X <- function(n) rnorm(n)
  expect_error(verify(Var(X) ~ Var(Z), X = X, n = 1e4), "`Z` is used in the formula but not given")
  expect_error(verify(X ~ 2, X = X, n = 1e4), "no E\\(\\), Var\\(\\) or Cov\\(\\)")
  expect_error(verify(Var(X) ~ X, X = X, n = 1e4), "outside E\\(\\), Var\\(\\) or Cov\\(\\)")
  expect_error(verify(Var(E(X)) ~ 1, X = X, n = 1e4), "nests")
  expect_error(verify(Cov(X) ~ 1, X = X, n = 1e4), "Cov\\(\\) with 1 argument")
  expect_error(verify(Var(X) ~ 1, X = function(n) rnorm(n - 1), n = 1e4), "`X` must return n numbers")
  expect_error(verify(Var(X) ~ 1, X = function(n) letters, n = 1e4), "`X` must return n numbers")
  expect_error(verify(Var(X) ~ 1, X = function(n) { x <- rnorm(n); x[c(5, 9)] <- NA; x }, n = 1e4),
               "not finite in 2 of .* draws \\(first at draw 5")
  expect_error(suppressWarnings(verify(Var(log(X)) ~ 1, X = function(n) rnorm(n), n = 1e4)),
               "`log\\(X\\)` is not finite")
  expect_error(verify(Var(X * n) ~ 1, X = X, n = 1e4), "params = list\\(n = ")
  expect_error(verify(Var(X) ~ 1, X = X, n = 100), "`n` must be")
  expect_error(verify(Var(X) ~ 1, X = "rnorm", n = 1e4), "`X`")
  expect_error(verify(Var(X) ~ 1, X = init_glorot(), n = 1e4), "elementwise")
  expect_error(verify(Var(X) ~ 1, draw = function(n) matrix(rnorm(n)), n = 1e4), "named columns")
  expect_error(verify(Var(X) ~ 1, X = X, drop = "x", n = 1e4), "`drop`")
  expect_error(verify(~ Var(X), X = X, n = 1e4), "two-sided formula")
  expect_error(new_identity("a", Var(X) ~ 1, variables = list(X = 3)), "variables\\$X")
  expect_error(new_identity("a", Var(X) ~ 1, drops = list(d = 3)), "drops\\$d")
  expect_error(new_identity("a", Var(X) ~ 1, general = list(d = ~ 1)), "`general`")
  expect_error(register_identity("a"), "`identity`")
  # a parameter named like verify()'s own argument goes in params
  set.seed(4070)
  v <- verify(Var(X * n) ~ n^2 * Var(X), X = X, n = 1e4, params = list(n = 3))
  expect_true(v$exact)
})

test_that("registered identities are listed and verified like the built-ins", {
  id <- new_identity("my_sum", Var(X + Y) ~ Var(X) + Var(Y), assumptions = "independent",
                     variables = list(X = function(n) rexp(n), Y = function(n) runif(n)), n = 1e4)
  register_identity(id, overwrite = TRUE)
  on.exit(rm("my_sum", envir = initvar:::identity_registry))
  ids <- identities()
  expect_true("my_sum" %in% ids$id)
  expect_identical(ids$source[ids$id == "my_sum"], "registered")
  set.seed(4080)
  expect_true(verify("my_sum")$consistent)
  expect_error(register_identity(id), "overwrite")
  expect_error(register_identity(new_identity("neuron", Var(X) ~ 1, variables = list(X = rnorm))),
               "built in")
  set.seed(4081)
  tab <- verify_all(n = 1e4, ids = list("linear_var", id))
  expect_equal(tab$id, c("linear_var", "my_sum"))
  expect_s3_class(tab, "initvar_verifications")
})

test_that("the built-ins give the same results as before within their MCSE", {
  set.seed(4090)
  b <- verify("product_independent", n = 1e5)
  set.seed(4090)
  f <- verify(Var(X * Y) ~ Var(X) * Var(Y) + Var(X) * E(Y)^2 + Var(Y) * E(X)^2,
              X = init_normal(1, 2), Y = init_normal(-0.5, 1), n = 1e5)
  expect_lt(abs(b$estimate - f$lhs), 5 * sqrt(b$mcse^2 + f$mcse_lhs^2))
})

test_that("a formula verification prints, plots and becomes a data frame", {
  set.seed(4100)
  v <- verify(Var(X + Y) ~ Var(X) + Var(Y), X = function(n) rnorm(n), Y = function(n) rexp(n), n = 1e4)
  expect_output(print(v), "left side")
  expect_output(print(v), "difference")
  f <- tempfile(fileext = ".pdf")
  grDevices::pdf(f)
  d <- plot(v)
  grDevices::dev.off()
  unlink(f)
  expect_equal(d$value, c(v$lhs, v$rhs))
  df <- as.data.frame(v)
  expect_equal(df$estimate - df$theoretical, df$difference)
  # the interval covers the right side exactly when the test is consistent
  expect_identical(df$lower <= df$theoretical & df$theoretical <= df$upper, df$consistent)
})

test_that("the built-in registry is data, made with the public constructor", {
  defs <- initvar:::identity_defs
  expect_true(all(vapply(defs, inherits, TRUE, "initvar_identity")))
  expect_identical(names(defs), identities()$id[identities()$source == "built-in"])
  # every parameter of every built-in has a declared type
  pars <- unique(unlist(lapply(defs, function(d) names(d$params))))
  expect_true(all(pars %in% names(initvar:::builtin_param_types)))
  # an identity object and its id give the same verification
  set.seed(4110); a <- verify("product_independent", n = 1e4)
  set.seed(4110); b <- verify(defs$product_independent, n = 1e4)
  expect_identical(a$estimate, b$estimate)
  expect_output(print(defs$neuron), "drops:")
  expect_error(new_identity("k", NULL, kernel = list(estimand = "var")), "`kernel`")
})

test_that("a future plan gives the same result as one process", {
  skip_if_not_installed("future.apply")
  skip_on_cran()
  f <- Var(X * Y) ~ Var(X) * Var(Y) + Var(X) * E(Y)^2 + Var(Y) * E(X)^2
  set.seed(4200)
  a <- verify(f, X = init_normal(1, 2), Y = function(n) runif(n), n = 1e5)
  old <- future::plan(future::multisession, workers = 2)
  on.exit(future::plan(old), add = TRUE)
  set.seed(4200)
  b <- verify(f, X = init_normal(1, 2), Y = function(n) runif(n), n = 1e5, future = TRUE)
  expect_identical(a$lhs, b$lhs)
  expect_identical(a$mcse, b$mcse)
  expect_identical(a$z, b$z)
  expect_error(verify(f, X = init_normal(), Y = init_normal(), n = 1e4, future = NA), "`future`")
})

test_that("verify()'s new arguments refuse bad input, naming them", {
  X <- function(n) rnorm(n)
  expect_error(verify("neuron", draw = function(n) cbind(X = rnorm(n))), "`draw`")
  expect_error(verify("neuron", params = list(a = 1)), "`params`")
  expect_error(verify(Var(X) ~ 1, X = X, params = list(1), n = 1e4), "`params`")
  expect_error(verify(Var(X) ~ 1, draw = "x", n = 1e4), "`draw`")
  expect_error(verify(Var(X) ~ 1, X = X, n = 1e4, progress = NA), "`progress`")
  expect_error(verify_all(n = 1e4, ids = 3), "`ids`")
  expect_error(verify(3), "`id`")
  expect_error(verify("no_such_identity"), "`id`")
  expect_error(new_identity("", Var(X) ~ 1), "`id`")
  expect_error(new_identity("a", Var(X) ~ 1, assumptions = 2), "`assumptions`")
  expect_error(new_identity("a", Var(X) ~ 1, n = 10), "`n`")
  expect_error(new_identity("a", Var(X) ~ 1, draw = 2), "`draw`")
})

test_that("a misspelled identity gets a suggestion", {
  expect_error(verify("nueron"), "Did you mean \"neuron\"")
  expect_error(verify("product_independant"), "Did you mean \"product_independent\"")
})
