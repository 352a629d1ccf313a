# Reference moments of N(0, 1) truncated to [a, b], in multiple precision.
#
#   Rscript tools/make-tn-reference.R
#
# writes tests/testthat/ref-truncnorm.csv: columns a, b, mean, var, sd with
# 17 significant digits. Needs Rmpfr (e.g. apt-get install r-cran-rmpfr); it is
# NOT a dependency of initvar, and neither the tests nor CI run this script:
# they only read the committed table.
#
# Method (independent of initvar's double-precision code): the closed form
#   Z    = Phi(b) - Phi(a)
#   mean = (phi(a) - phi(b)) / Z
#   var  = 1 + (a phi(a) - b phi(b)) / Z - mean^2
# evaluated with enough bits that its cancellation is harmless: at least 50
# correct digits remain (the working precision is 60 digits plus the digits
# the closed form can lose for a width d and a location m = max(1, |a|, |b|):
# 3 log10(1 / d) + 4 log10(m) plus a margin). Positive intervals use upper-tail
# masses, phi(x) R(x) with R the Mills ratio: R(x) = erfc(x / sqrt(2)) /
# (2 phi(x)) while exp(-x^2 / 2) is inside MPFR's exponent range, else
# Laplace's continued fraction to many terms, for x > 1e4 where it
# converges in a few dozen terms. Negative intervals are mirrored.
suppressPackageStartupMessages(library(Rmpfr))

ref_moments <- function(a, b, extra = 0) {
  if (a == -Inf && b == Inf) return(list(mean = 0, var = 1, sd = 1))
  flip <- (a + b) < 0
  if (flip) { t <- a; a <- -b; b <- -t }
  d <- b - a
  m <- max(1, abs(a[is.finite(a)]), abs(b[is.finite(b)]))
  lost <- 3 * max(0, -log10(d)) + 4 * log10(m)
  prec <- ceiling((60 + lost + 20) * log2(10)) + extra
  A <- mpfr(a, prec)
  B <- mpfr(b, prec)
  sqrt2 <- sqrt(mpfr(2, prec))
  twopi <- 2 * Const("pi", prec)
  phi <- function(x) exp(-x^2 / 2) / sqrt(twopi)
  mills <- function(x) {
    if (x < 1e4) return(erfc(x / sqrt2) / (2 * phi(x)))
    t <- mpfr(0, prec)
    for (k in 400:1) t <- k / (x + t)
    1 / (x + t)
  }
  if (a >= 0) {
    # everything in units of phi(a): r = phi(b) / phi(a)
    Ra <- mills(A)
    if (is.finite(b)) {
      r <- exp(-(B - A) * (B + A) / 2)
      D <- Ra - r * mills(B)
      mu <- (1 - r) / D
      ex2 <- 1 + (A - B * r) / D
    } else {
      D <- Ra
      mu <- 1 / D
      ex2 <- 1 + A / D
    }
  } else {
    pa <- if (is.finite(a)) phi(A) else mpfr(0, prec)
    pb <- if (is.finite(b)) phi(B) else mpfr(0, prec)
    Pb <- if (is.finite(b)) 1 - erfc(B / sqrt2) / 2 else mpfr(1, prec)
    Pa <- if (is.finite(a)) erfc(-A / sqrt2) / 2 else mpfr(0, prec)
    Z <- Pb - Pa
    mu <- (pa - pb) / Z
    apa <- if (is.finite(a)) A * pa else mpfr(0, prec)
    bpb <- if (is.finite(b)) B * pb else mpfr(0, prec)
    ex2 <- 1 + (apa - bpb) / Z
  }
  v <- ex2 - mu^2
  if (flip) mu <- -mu
  list(mean = mu, var = v, sd = sqrt(v))
}

set.seed(20261201)
n_rand <- 3000
lu <- function(n, lo, hi) 10^runif(n, lo, hi)
pm <- function(n) sample(c(-1, 1), n, replace = TRUE)
rand <- list()
# 1. bulk: locations ~ N(0, 3^2), widths from 1e-20 to 30
n1 <- 900; a1 <- rnorm(n1, 0, 3); rand[[1]] <- cbind(a1, a1 + lu(n1, -20, 1.5))
# 2. locations of every magnitude, moderate-to-tiny widths
n2 <- 600; a2 <- pm(n2) * lu(n2, -4, 3); rand[[2]] <- cbind(a2, a2 + lu(n2, -16, 2))
# 3. half-infinite
n3 <- 400; a3 <- pm(n3) * lu(n3, -3, 3)
rand[[3]] <- cbind(ifelse(seq_len(n3) %% 2 == 0, a3, -Inf),
                   ifelse(seq_len(n3) %% 2 == 0, Inf, a3))
# 4. straddling 0
n4 <- 500; rand[[4]] <- cbind(-lu(n4, -12, 1.2), lu(n4, -12, 1.2))
# 5. far tails on both sides
n5 <- 450; a5 <- lu(n5, 0.5, 6); w5 <- lu(n5, -14, 3)
s5 <- pm(n5)
rand[[5]] <- cbind(ifelse(s5 > 0, a5, -(a5 + w5)), ifelse(s5 > 0, a5 + w5, -a5))
# 6. the 3000 closed-form-region intervals of the original accuracy probe:
#    a ~ U(-4, 4), width ~ U(0.1, 3)
n6 <- n_rand - n1 - n2 - n3 - n4 - n5
a6 <- runif(n6, -4, 4); rand[[6]] <- cbind(a6, a6 + runif(n6, 0.1, 3))
rand <- do.call(rbind, rand)
# widths below the spacing of the doubles near a give b == a: drop those,
# then top up with more narrow intervals near 0 to n_rand rows
rand <- rand[rand[, 2] > rand[, 1], , drop = FALSE]
n7 <- n_rand - nrow(rand)
a7 <- rnorm(n7, 0, 1e-3)
rand <- rbind(rand, cbind(a7, a7 + abs(a7) * lu(n7, -14, 0)))
stopifnot(all(rand[, 2] > rand[, 1]), nrow(rand) == n_rand)

hard <- rbind(
  c(2.99, 3.1), c(1e-20, 2e-20), c(-Inf, -30), c(8, 8 + 1e-12), c(40, Inf),
  c(1e200, Inf), c(-Inf, -1e200), c(1e200, 2e200), c(1e154, Inf), c(1e10, Inf),
  c(-2, 2), c(-Inf, Inf), c(0, Inf), c(-Inf, 0), c(0, 1e-300), c(-1e-300, 1e-300),
  c(-1e-20, 1e-20), c(-1e-20, 3e-20), c(3, Inf), c(2.999999, Inf), c(3.000001, Inf),
  c(0, 0.0999999), c(0, 0.1000001), c(1000, Inf), c(1000, 1000.001), c(-38, -37.9),
  c(37.5, 38.5), c(30, 30 + 1e-10), c(-5, 5), c(-1, 3), c(0.5, 2.5), c(-3, -0.2),
  c(2.9, 3.1), c(-0.01, 0.04), c(1, 1.05), c(-1, 0), c(25, 26), c(8, 9),
  c(0.1, 0.15), c(-0.5, 4), c(1e5, 1e5 + 1e-5), c(1e6, 1e6 + 1), c(5, 5 + 1e-15),
  c(-1e-5, 1e-5), c(1e-5, 2e-5), c(-30, 30), c(-40, -39), c(6, 60), c(-60, -6),
  c(0.999, 1.001), c(1e-200, 1e-199), c(-7, 1e-10), c(-1e-10, 7),
  c(9, 9 + 2^-40), c(20, 20.05), c(-20.05, -20), c(1e300, 1e308))
tab <- rbind(hard, rand)
colnames(tab) <- c("a", "b")

refs <- lapply(seq_len(nrow(tab)), function(i) ref_moments(tab[i, 1], tab[i, 2]))
# self-check: every row again with 400 more
# bits agree to 45 digits
chk <- seq_len(nrow(tab))
for (i in chk) {
  hi <- ref_moments(tab[i, 1], tab[i, 2], extra = 400)
  for (k in c("mean", "sd")) {
    err <- abs(hi[[k]] - refs[[i]][[k]])
    scale <- if (k == "mean") abs(hi[["mean"]]) + hi[["sd"]] else abs(hi[[k]])
    if (!(as.numeric(err / scale) < 1e-45)) stop("row ", i, " ", k, " unstable")
  }
}
# 17 significant digits, written by MPFR so that values below the double
# range (the variance of [1e200, Inf] is 1e-400) keep their exponent; R reads
# them as 0, and the sd column carries them.
txt <- function(x) {
  if (is.numeric(x)) return(sprintf("%.17g", x))
  s <- formatMpfr(x, digits = 17, scientific = TRUE)
  if (x == 0) "0" else s
}
col <- function(k) vapply(refs, function(m) txt(m[[k]]), "")
fmt <- function(x) ifelse(is.infinite(x), ifelse(x > 0, "Inf", "-Inf"),
                          sprintf("%.17g", x))
out <- data.frame(a = fmt(tab[, 1]), b = fmt(tab[, 2]), mean = col("mean"),
                  var = col("var"), sd = col("sd"),
                  hand_picked = seq_len(nrow(tab)) <= nrow(hard))
dest <- file.path("tests", "testthat", "ref-truncnorm.csv")
writeLines(c("# N(0,1) truncated to [a, b]: mean, var, sd from tools/make-tn-reference.R (Rmpfr, >= 50 digits)",
             paste(names(out), collapse = ",")), dest)
write.table(out, dest, sep = ",", row.names = FALSE, col.names = FALSE, quote = FALSE,
            append = TRUE)
cat(sprintf("wrote %d rows (%d hand-picked) to %s\n", nrow(out), nrow(hard), dest))
