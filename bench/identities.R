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
