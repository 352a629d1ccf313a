# Benchmark: filling a 4096 x 4096 matrix with Glorot weights, initvar's C
# sampler against the plain-R way, in the same run. Single-threaded unless
# INITVAR_BENCH_THREADS is set.
#   Rscript bench/sample.R
library(initvar)
threads <- as.integer(Sys.getenv("INITVAR_BENCH_THREADS", "1"))
n <- 4096
reps <- as.integer(Sys.getenv("INITVAR_BENCH_REPS", "7"))
s <- sqrt(2 / (n + n))           # Glorot normal sd
b <- sqrt(6 / (n + n))           # Glorot uniform bound

time_it <- function(expr_fn) {
  t <- numeric(reps)
  for (i in seq_len(reps)) {
    gc(FALSE)
    t[i] <- system.time(expr_fn())[["elapsed"]]
  }
  median(t)
}

set.seed(1)
res <- data.frame(
  task = c("glorot normal", "glorot uniform", "truncated normal (keras)"),
  initvar = c(
    time_it(function() sample_weights(init_glorot("normal"), n, n, threads = threads)),
    time_it(function() sample_weights(init_glorot("uniform"), n, n, threads = threads)),
    time_it(function() sample_weights(init_glorot("normal", convention = "keras"), n, n,
                                      threads = threads))),
  base_R = c(
    time_it(function() matrix(rnorm(n * n, sd = s), n, n)),
    time_it(function() matrix(runif(n * n, -b, b), n, n)),
    time_it(function() {
      sd <- s / 0.87962566103423978
      x <- rnorm(n * n, sd = sd)
      bad <- abs(x) > 2 * sd
      while (any(bad)) {
        x[bad] <- rnorm(sum(bad), sd = sd)
        bad <- abs(x) > 2 * sd
      }
      matrix(x, n, n)
    }))
)
res$speedup <- res$base_R / res$initvar
cat(sprintf("4096 x 4096, %d thread(s), median of %d runs (seconds)\n", threads, reps))
print(res, digits = 3, row.names = FALSE)
