# Benchmark: verify("product_independent", n = 1e8) against the plain-R way
# of doing the same work (draw, multiply, variance and its MCSE), same run.
#   Rscript bench/identities.R        (make bench)
library(initvar)
n <- as.numeric(Sys.getenv("INITVAR_BENCH_N", "1e8"))
threads <- as.integer(Sys.getenv("INITVAR_BENCH_THREADS", "2"))
elapsed <- function(expr) system.time(expr)[["elapsed"]]

set.seed(1)
t1 <- elapsed(v1 <- verify("product_independent", n = n, threads = 1))
t2 <- elapsed(v2 <- verify("product_independent", n = n, threads = threads))
tr <- elapsed({
  x <- rnorm(n, 1, 2)
  y <- rnorm(n, -0.5, 1)
  p <- x * y
  est <- var(p)
  mcse <- sqrt((mean((p - mean(p))^4) - est^2) / n)
  rm(x, y, p)
})
cat(sprintf("Var(XY), n = %g draws, seconds:\n", n))
print(data.frame(what = c("initvar, 1 thread", sprintf("initvar, %d threads", threads), "plain R"),
                 seconds = c(t1, t2, tr), speedup_vs_R = tr / c(t1, t2, tr)),
      digits = 3, row.names = FALSE)
cat(sprintf("estimates: initvar %.5f (MCSE %.2g), plain R %.5f (MCSE %.2g), theory %.5f\n",
            v2$estimate, v2$mcse, est, mcse, v2$theoretical))

# Peak memory of verify() for n = 1e6 and n = 1e8, each in a fresh process
peak <- function(nn) {
  script <- sprintf(paste0("library(initvar); set.seed(1); invisible(verify('product_independent', n = %g)); ",
                           "cat(grep('VmHWM', readLines('/proc/self/status'), value = TRUE))"), nn)
  out <- system2(file.path(R.home("bin"), "Rscript"), c("-e", shQuote(script)), stdout = TRUE)
  as.numeric(gsub("[^0-9]", "", out[length(out)])) / 1024
}
if (file.exists("/proc/self/status")) {
  cat(sprintf("peak memory (VmHWM): n = 1e6 %.1f MB, n = %g %.1f MB\n", peak(1e6), n, peak(n)))
}

# User identities (formulas): with the package's elementwise distributions
# the throughput should be within 3x of the built-in kernel above; with R
# generator functions it is bounded by the generators themselves. Each is
# measured against the plain-R way in the same run.
nf <- as.numeric(Sys.getenv("INITVAR_BENCH_N_FORMULA", format(min(n, 1e7))))
f_prod <- Var(X * Y) ~ Var(X) * Var(Y) + Var(X) * E(Y)^2 + Var(Y) * E(X)^2
set.seed(2)
tb <- elapsed(verify("product_independent", n = nf, threads = 1))
ts <- elapsed(verify(f_prod, X = init_normal(1, 2), Y = init_normal(-0.5, 1), n = nf, threads = 1))
tg <- elapsed(verify(f_prod, X = function(n) rnorm(n, 1, 2), Y = function(n) rnorm(n, -0.5, 1), n = nf))
tgen <- elapsed({x <- rnorm(nf, 1, 2); y <- rnorm(nf, -0.5, 1); rm(x, y)})
tlin <- elapsed(verify(Var(a * X + b) ~ a^2 * Var(X), X = function(n) rexp(n), a = 2, b = 3, n = nf))
tlr <- elapsed({x <- rexp(nf); v <- var(2 * x + 3); rm(x)})
cat(sprintf("\nUser identities, n = %g draws (M draws/s in brackets):\n", nf))
print(data.frame(
  what = c("built-in kernel, Var(XY)", "formula, init_normal() variables", "formula, rnorm() generators",
           "the generators alone (rnorm x 2)", "formula Var(aX + b), rexp()", "plain R var(2 x + 3), rexp()"),
  seconds = c(tb, ts, tg, tgen, tlin, tlr),
  M_draws_per_s = nf / 1e6 / c(tb, ts, tg, tgen, tlin, tlr),
  vs_builtin = c(tb, ts, tg, tgen, tlin, tlr) / tb), digits = 3, row.names = FALSE)
peak_f <- function(nn) {
  script <- sprintf(paste0("library(initvar); set.seed(1); invisible(verify(Var(X + Y) ~ Var(X) + Var(Y), ",
                           "X = function(n) rnorm(n), Y = function(n) runif(n), n = %g)); ",
                           "cat(grep('VmHWM', readLines('/proc/self/status'), value = TRUE))"), nn)
  out <- system2(file.path(R.home("bin"), "Rscript"), c("-e", shQuote(script)), stdout = TRUE)
  as.numeric(gsub("[^0-9]", "", out[length(out)])) / 1024
}
if (file.exists("/proc/self/status")) {
  cat(sprintf("peak memory of a formula (VmHWM): n = 1e5 %.1f MB, n = %g %.1f MB\n",
              peak_f(1e5), nf, peak_f(nf)))
}

# verify() throughput for every built-in draw-based identity (default
# parameters), in M samples/s at 1 and 2 threads, against the generator's
# own speed (normal deviates into a warm buffer, 1 thread) and, for Var(XY),
# the plain-R way above. A sample of an identity with m terms (sums, neuron)
# takes about 2m normal deviates; the generator is not the bottleneck when a
# sample costs more than its deviates alone.
ids <- identities()
draw_ids <- ids$id[!grepl("^glorot_", ids$id)]
nt <- as.numeric(Sys.getenv("INITVAR_BENCH_N_THROUGHPUT", "1e7"))
gen <- {
  f1 <- elapsed(.Call(initvar:::C_test_fill_repeat, 2^24, 2L, c(0, 1, 0, 0), 1L, 1L))
  f6 <- elapsed(.Call(initvar:::C_test_fill_repeat, 2^24, 2L, c(0, 1, 0, 0), 1L, 6L))
  2^24 / ((f6 - f1) / 5) / 1e6
}
rows <- lapply(draw_ids, function(id) {
  set.seed(3)
  t1 <- elapsed(verify(id, n = nt, threads = 1, progress = FALSE))
  t2 <- elapsed(verify(id, n = nt, threads = threads, progress = FALSE))
  data.frame(id = id, s_1thread = t1, M_per_s_1 = nt / 1e6 / t1,
             M_per_s_2 = nt / 1e6 / t2, speedup_2 = t1 / t2)
})
cat(sprintf(paste0("\nBuilt-in draw-based identities, n = %g samples (M samples/s; the generator ",
                   "alone: %.0f M normal deviates/s on 1 thread; plain R Var(XY): %.1f M samples/s):\n"),
            nt, gen, n / 1e6 / tr))
print(do.call(rbind, rows), digits = 3, row.names = FALSE)
