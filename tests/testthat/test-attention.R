# attention_logits(): the exact moments against hand computations and a
# plain-R simulation, the C simulation against both, threads, bad input.
# Every comparison is a t test from agreement(); the level of each is
# Bonferroni-corrected so that a correct implementation fails this file by
# chance with probability below 1 / 1000 in all.

n_comparisons <- 12 + 4 + 40 + 8 + 1
lvl <- 1 - 0.001 / n_comparisons

pred_of <- function(d, dk, s, init, input, T = 8) {
  initvar:::attention_prediction(d, dk, s, T, initvar:::weight_moments(init, d, dk),
                                 initvar:::input_moments(input))
}

test_that("the exact moments reduce to hand computations for one coordinate", {
  # d = d_k = 1, U(-1, 1) weights and inputs: Var 1/3, E[w^4] = 1/5
  p <- pred_of(1, 1, 1, init_uniform(-1, 1), init_uniform(-1, 1))
  expect_equal(p$var_logit, (1 / 3)^4)                 # E[w^2]^2 E[x^2]^2
  expect_equal(p$m4_logit, (1 / 5)^4)                  # E[w^4]^2 E[x^4]^2
  expect_equal(p$var_logit_diag, (1 / 3)^2 * (1 / 5))  # E[w^2]^2 E[x^4]
  # normal everything, d -> infinity: kurtosis 3 + 6 / d_k
  p <- pred_of(1e5, 4, 0.5, init_lecun(), init_normal())
  expect_equal(p$kurtosis, 3 + 6 / 4, tolerance = 1e-4)
  expect_equal(p$var_logit, 1)
  # diagonal: 1 + (kappa_x - 1) / d
  p <- pred_of(10, 4, 0.5, init_lecun(), init_uniform(-1, 1))
  expect_equal(p$var_logit_diag / p$var_logit, 1 + (1.8 - 1) / 10)
  # scale enters as s^2 and s^4; Glorot's variance 2 / (d + d_k)
  p1 <- pred_of(32, 8, 1, init_glorot("normal"), init_normal(sd = 2))
  p2 <- pred_of(32, 8, 0.1, init_glorot("normal"), init_normal(sd = 2))
  expect_equal(p2$var_logit, p1$var_logit / 100)
  expect_equal(p2$m4_logit, p1$m4_logit / 1e4)
  expect_equal(p1$var_logit, 8 * (32 * 2 / 40 * 4)^2)
  # the truncated normal's fourth moment: N(0, 1) on [-2, 2] against integrate()
  z <- integrate(dnorm, -2, 2)$value
  m2 <- integrate(function(x) x^2 * dnorm(x), -2, 2)$value / z
  m4 <- integrate(function(x) x^4 * dnorm(x), -2, 2)$value / z
  m <- initvar:::tn_central(-2, 2)
  expect_equal(unname(m[c("var", "m4")]), c(m2, m4), tolerance = 1e-10)
})

# Plain-R draws of the logits: every replicate draws its own W_Q, W_K and
# two tokens, so the logits are independent.
r_draw <- function(n, spec) {
  switch(spec$family,
    normal = rnorm(n, 0, spec$sd),
    uniform = runif(n, -spec$a, spec$a),
    trunc = {                      # N(0, sd^2) truncated at +- 2 sd, by rejection
      out <- numeric(0)
      while (length(out) < n) {
        z <- rnorm(2 * n)
        out <- c(out, z[abs(z) <= 2])
      }
      spec$sd * out[seq_len(n)]
    })
}
r_logits <- function(n, d, dk, s, w, x) {
  off <- diag <- numeric(n)
  X <- matrix(r_draw(n * d, x), n)
  Y <- matrix(r_draw(n * d, x), n)
  for (a in seq_len(dk)) {
    Wq <- matrix(r_draw(n * d, w), n)
    Wk <- matrix(r_draw(n * d, w), n)
    qa <- rowSums(Wq * X)
    off <- off + qa * rowSums(Wk * Y)
    diag <- diag + qa * rowSums(Wk * X)
  }
  list(off = s * off, diag = s * diag)
}

r_grid <- list(
  list(d = 1, dk = 1, s = 1, w = list(family = "uniform", a = 1), x = list(family = "uniform", a = 1),
       init = init_uniform(-1, 1), input = init_uniform(-1, 1)),
  list(d = 8, dk = 3, s = 1 / sqrt(3), w = list(family = "normal", sd = sqrt(1 / 8)),
       x = list(family = "normal", sd = 1), init = init_lecun(), input = init_normal()),
  list(d = 4, dk = 3, s = 1 / 3, w = list(family = "uniform", a = sqrt(3 * 2 / 7)),
       x = list(family = "trunc", sd = 1.5), init = init_glorot(),
       input = init_truncated_normal(sd = 1.5)),
  list(d = 2, dk = 4, s = 0.5, w = list(family = "trunc", sd = sqrt(2 / 2) / 0.87962566103423978),
       x = list(family = "uniform", a = 2), init = init_he("truncated_normal"),
       input = init_uniform(-2, 2)),
  list(d = 6, dk = 1, s = 1, w = list(family = "normal", sd = 0.5),
       x = list(family = "uniform", a = 1), init = init_normal(sd = 0.5),
       input = init_uniform(-1, 1)),
  list(d = 5, dk = 5, s = 0.2, w = list(family = "normal", sd = sqrt(2 / 5)),
       x = list(family = "normal", sd = 0.5), init = init_he(), input = init_normal(sd = 0.5)))

test_that("the exact second moments agree with a plain-R simulation (6 settings x 2)", {
  skip_unless_full()
  set.seed(20261201)
  n <- 5e5
  for (g in r_grid) {
    p <- pred_of(g$d, g$dk, g$s, g$init, g$input)
    l <- r_logits(n, g$d, g$dk, g$s, g$w, g$x)
    # the draws' tails allow a calibrated t test at this n (see ?attention_logits)
    tails <- c(initvar:::tail_index(l$off^2), initvar:::tail_index(l$diag^2))
    expect_true(all(tails / 0.01 <= n), label = sprintf("d = %g, d_k = %g: tails %s", g$d, g$dk,
                                                       paste(round(tails), collapse = ", ")))
    est <- c(mean(l$off^2), mean(l$diag^2))
    se <- c(sd(l$off^2), sd(l$diag^2)) / sqrt(n)
    ag <- initvar:::agreement(est, se, c(p$var_logit, p$var_logit_diag), level = lvl)
    expect_true(all(ag$consistent),
                label = sprintf("d = %g, d_k = %g: z = %s", g$d, g$dk,
                                paste(sprintf("%.2f", ag$z), collapse = ", ")))
  }
})

test_that("the exact fourth moment agrees with a plain-R simulation (4 settings)", {
  skip_unless_full()
  # bounded weights and inputs, where 1e6 draws are enough for a calibrated
  # test of E[l^4] (normal ones need far more; the C grid below covers them)
  set.seed(20261202)
  n <- 1e6
  u <- function(a) list(family = "uniform", a = a)
  settings <- list(c(d = 1, dk = 1, a = 1), c(d = 3, dk = 2, a = 0.5), c(d = 8, dk = 2, a = 2),
                   c(d = 4, dk = 4, a = 1))
  tested <- 0
  for (st in settings) {
    d <- st[["d"]]; dk <- st[["dk"]]; a <- st[["a"]]
    p <- pred_of(d, dk, 1 / sqrt(dk), init_uniform(-a, a), init_uniform(-1, 1))
    l <- r_logits(n, d, dk, 1 / sqrt(dk), u(a), u(1))
    ti <- initvar:::tail_index(l$off^4)
    if (ti / 0.01 > n) next   # too heavy-tailed for a calibrated test at this n
    tested <- tested + 1
    ag <- initvar:::agreement(mean(l$off^4), sd(l$off^4) / sqrt(n), p$m4_logit, level = lvl)
    expect_true(ag$consistent, label = sprintf("d = %g, d_k = %g: z = %.2f", d, dk, ag$z))
  }
  expect_gte(tested, 2)
})

c_grid <- list(
  list(d = 32, dk = c(4, 32), init = init_lecun(), input = init_normal(), scale = "standard"),
  list(d = 64, dk = c(8, 64), init = init_glorot(), input = init_uniform(-1, 1), scale = "mup"),
  list(d = 24, dk = 12, init = init_he("truncated_normal"), input = init_truncated_normal(sd = 2),
       scale = 0.7),
  list(d = 40, dk = c(10, 40), init = init_uniform(-0.3, 0.3), input = init_normal(sd = 1.5),
       scale = "standard"),
  list(d = 16, dk = 16, init = init_normal(sd = 2), input = init_uniform(-3, 3), scale = 0.05))

test_that("the C simulation agrees with the exact moments (8 settings x 5 quantities)", {
  set.seed(42)
  zs <- c()
  for (g in c_grid) {
    a <- attention_logits(g$d, g$dk, g$init, scale = g$scale, seq_len = 6, inputs = 2,
                          input = g$input, networks = 10000, threads = 2)
    t <- as.data.frame(a)
    t <- t[t$exact, ]
    # enough networks for a calibrated verdict on the second moments (needed:
    # at most ~1,500 here); fourth moments are compared where the tails allow
    second <- t$quantity %in% c("var_logit", "var_logit_diag", "mean_logit")
    expect_false(anyNA(t$consistent[second]))
    expect_identical(!is.na(t$consistent), t$networks_needed <= t$networks)
    t <- t[!is.na(t$consistent), ]
    ag <- initvar:::agreement(t$estimate, t$mcse, t$predicted, df = t$networks - 1, level = lvl)
    zs <- c(zs, ag$z)
    expect_true(all(ag$consistent),
                label = sprintf("d = %g: z = %s", g$d, paste(sprintf("%.2f", ag$z), collapse = ", ")))
    # the printed verdicts are the same rule at level 0.99
    expect_identical(t$consistent, abs(t$z) <= qt(0.995, t$networks - 1))
  }
  expect_gte(length(zs), 24)
})

test_that("verdicts are calibrated: about 1% of true predictions rejected at level 0.99", {
  skip_unless_full()
  # 400 runs at a network count near the smallest that gives verdicts here;
  # the band holds the rejection count with probability 1 - 1/2000 under
  # Binomial(n, 0.01)
  set.seed(2026)
  rej <- acc <- 0
  for (k in 1:400) {
    t <- as.data.frame(attention_logits(16, 16, init_glorot(), seq_len = 4, inputs = 1,
                                        input = init_uniform(-1, 1), networks = 2000, threads = 2))
    v <- t[t$quantity == "var_logit", ]
    if (!is.na(v$consistent)) {
      acc <- acc + 1
      rej <- rej + !v$consistent
    }
  }
  expect_gt(acc, 350)
  expect_lte(rej, qbinom(1 - 0.00025, acc, 0.01))
  expect_gte(rej, qbinom(0.00025, acc, 0.01))
})

# Plain-R networks: the same summaries as the C routine, from R's RNG.
r_network_summaries <- function(J, d, dk, T, nseq, s, wsd, xsd) {
  out <- matrix(0, J, 2)
  for (j in seq_len(J)) {
    Wq <- matrix(rnorm(d * dk, 0, wsd), d); Wk <- matrix(rnorm(d * dk, 0, wsd), d)
    h <- m <- 0
    for (b in seq_len(nseq)) {
      X <- matrix(rnorm(T * d, 0, xsd), T)
      L <- s * (X %*% Wq) %*% t(X %*% Wk)
      P <- exp(L - apply(L, 1, max)); P <- P / rowSums(P)
      h <- h + sum(-rowSums(ifelse(P > 0, P * log(P), 0)))
      m <- m + sum(apply(P, 1, max))
    }
    out[j, ] <- c(h, m) / (nseq * T)
  }
  out
}

test_that("the C entropy and saturation agree with plain-R networks (4 settings x 2)", {
  set.seed(7)
  settings <- list(c(d = 8, dk = 2, T = 5, s = 1), c(d = 16, dk = 4, T = 8, s = 2),
                   c(d = 4, dk = 4, T = 3, s = 0.25), c(d = 10, dk = 1, T = 12, s = 3))
  for (st in settings) {
    J <- 1500
    R <- r_network_summaries(J, st[["d"]], st[["dk"]], st[["T"]], 2, st[["s"]], 1 / sqrt(st[["d"]]), 1)
    a <- attention_logits(st[["d"]], st[["dk"]], init_lecun(), scale = st[["s"]], seq_len = st[["T"]],
                          inputs = 2, networks = J, threads = 1)
    t <- as.data.frame(a)
    for (k in 1:2) {
      q <- c("entropy", "max_prob")[k]
      row <- t[t$quantity == q, ]
      z <- (row$estimate - mean(R[, k])) / sqrt(row$mcse^2 + var(R[, k]) / J)
      expect_lt(abs(z), qnorm(1 - (1 - lvl) / 2), label = sprintf("%s, d = %g: z = %.2f", q, st[["d"]], z))
    }
  }
})

test_that("the entropy prediction is exact as the logit scale goes to 0", {
  set.seed(9)
  a <- attention_logits(16, 8, init_lecun(), scale = 1e-3, seq_len = 10, inputs = 2,
                        networks = 2000, threads = 2)
  t <- as.data.frame(a)
  row <- t[t$quantity == "entropy", ]
  # deficit log T - H is about Var/2 = 5e-7; the neglected term ~ Var^2 = 1e-12
  ag <- initvar:::agreement(row$estimate, row$mcse, row$predicted, df = 1999, level = lvl)
  expect_true(ag$consistent, label = sprintf("z = %.2f", ag$z))
  expect_lt(row$predicted, log(10))
})

test_that("1 and 2 threads give bit-identical results; a seed reproduces them", {
  set.seed(3); a1 <- attention_logits(12, c(3, 6), networks = 3000, seq_len = 4, inputs = 1, threads = 1)
  set.seed(3); a2 <- attention_logits(12, c(3, 6), networks = 3000, seq_len = 4, inputs = 1, threads = 2)
  expect_identical(as.data.frame(a1), as.data.frame(a2))
  set.seed(3); S1 <- .Call(initvar:::C_attention, c(7, 3, 5, 2500, 2), 0.4, 2L, c(0, 0.3, 0, 0), 1L,
                           c(-1, 1, 0, 0), 1L)
  set.seed(3); S2 <- .Call(initvar:::C_attention, c(7, 3, 5, 2500, 2), 0.4, 2L, c(0, 0.3, 0, 0), 1L,
                           c(-1, 1, 0, 0), 2L)
  expect_identical(S1, S2)
  expect_equal(dim(S1), c(2500, 6))
})

test_that("print, as.data.frame and plot work", {
  set.seed(1)
  a <- attention_logits(8, c(2, 8), scale = c("standard", "mup"), seq_len = 4, inputs = 1,
                        networks = 20, threads = 1)
  expect_output(print(a), "attention logits")
  df <- as.data.frame(a)
  expect_equal(nrow(df), 4 * 7)
  expect_setequal(unique(df$rule), c("standard", "mup"))
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  for (ty in c("variance", "entropy", "saturation")) expect_s3_class(plot(a, ty), "data.frame")
})

test_that("bad input is an error naming attention_logits() and the argument", {
  expect_error(attention_logits(0, 4), "`d_model` must be")
  expect_error(attention_logits(8, c(4, -1)), "`d_k\\[2\\]` must be")
  expect_error(attention_logits(8, 4, init_orthogonal()), "`init` must be an elementwise scheme")
  expect_error(attention_logits(8, 4, init_uniform(0, 1)), "`init` must be a scheme whose weights have mean 0")
  expect_error(attention_logits(8, 4, input = init_uniform(0, 1)), "`input` must be a distribution with mean 0")
  expect_error(attention_logits(8, 4, input = init_he()), "`input` must be a distribution that does not depend")
  expect_error(attention_logits(8, 4, scale = "foo"), "`scale` must be one of")
  expect_error(attention_logits(8, c(4, 2), scale = c(1, 2, 3)), "`scale` must be a number, 2 numbers")
  expect_error(attention_logits(8, 4, scale = -1), "`scale` must be")
  expect_error(attention_logits(8, 4, seq_len = 1), "`seq_len` must be")
  expect_error(attention_logits(8, 4, networks = 5), "`networks` must be")
  expect_error(attention_logits(8, 4, threads = 0), "`threads` must be")
  e <- tryCatch(attention_logits(8, 4, networks = 5), error = identity)
  expect_match(deparse(conditionCall(e))[1], "^attention_logits")
  expect_error(plot(structure(list(table = data.frame()), class = "initvar_attention"), "nope"),
               "`type` must be one of")
  # the C entry point refuses bad arguments without crashing
  f <- initvar:::C_attention
  expect_error(.Call(f, c(7, 3, 5, 0, 2), 0.4, 2L, c(0, 1, 0, 0), 1L, c(-1, 1, 0, 0), 1L), "dims\\[4\\]")
  expect_error(.Call(f, c(7, 3, 5), 0.4, 2L, c(0, 1, 0, 0), 1L, c(-1, 1, 0, 0), 1L), "5 elements")
  expect_error(.Call(f, c(7, 3, 5, 10, 2), NA_real_, 2L, c(0, 1, 0, 0), 1L, c(-1, 1, 0, 0), 1L), "scale")
  expect_error(.Call(f, c(7, 3, 5, 10, 2), 0.4, 9L, c(0, 1, 0, 0), 1L, c(-1, 1, 0, 0), 1L), "wfamily")
  expect_error(.Call(f, c(7, 3, 5, 10, 2), 0.4, 2L, c(0, 1), 1L, c(-1, 1, 0, 0), 1L), "length 4")
  expect_error(.Call(f, c(7, 3, 5, 10, 2), 0.4, 2L, c(0, 1, 0, 0), 1L, c(1, -1, 0, 0), 1L), "a <= b")
  expect_error(.Call(f, c(7, 3, 5, 10, 2), 0.4, 3L, c(0, 1, 2, 1), 1L, c(-1, 1, 0, 0), 1L), "lower < upper")
})
