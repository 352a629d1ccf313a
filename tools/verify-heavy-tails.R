# verify()'s heavy-tail warning at n = 10,000 (the smallest n it accepts),
# where the chunk-based diagnostic (16 chunks of 8,192 draws) cannot run:
# over 400 seeds each, the rate at which the variance identity Var(X) = sigma^2
# is rejected at level 0.99, the rate at which verify() warns that the draws
# look heavy-tailed (the influence values' sample kurtosis above 0.02 n), and
# the rejections that came without a warning. Run once, not in CI (about 5
# minutes on one core):
#   Rscript tools/verify-heavy-tails.R [lib]
args <- commandArgs(TRUE)
if (length(args)) library(initvar, lib.loc = args[1]) else library(initvar)
n <- 1e4
seeds <- 400
cases <- list(
  "lognormal(0, 1)" = list(function(n) rlnorm(n), (exp(1) - 1) * exp(1)),
  exponential = list(function(n) rexp(n), 1),
  normal = list(function(n) rnorm(n), 1),
  uniform = list(function(n) runif(n), 1 / 12))
band <- qbinom(c(0.005, 0.995), seeds, 0.01)
rows <- lapply(names(cases), function(nm) {
  g <- cases[[nm]]
  r <- t(vapply(seq_len(seeds), function(s) {
    set.seed(s)
    warned <- FALSE
    v <- withCallingHandlers(
      verify(Var(X) ~ s2, X = g[[1]], n = n, params = list(s2 = g[[2]])),
      warning = function(w) {
        if (grepl("heavy-tailed", conditionMessage(w))) warned <<- TRUE
        invokeRestart("muffleWarning")
      })
    c(reject = !v$consistent, warn = warned, kurtosis = v$influence_kurtosis)
  }, numeric(3)))
  data.frame(case = nm, rejected = sum(r[, "reject"]), warned = sum(r[, "warn"]),
             rejected_unwarned = sum(r[, "reject"] & !r[, "warn"]),
             kurtosis_min = min(r[, "kurtosis"]), kurtosis_median = stats::median(r[, "kurtosis"]),
             kurtosis_max = max(r[, "kurtosis"]))
})
out <- do.call(rbind, rows)
cat(sprintf("n = %d, %d seeds; two-sided 99%% binomial band of the rejections at level 0.99: %d-%d\n",
            n, seeds, band[1], band[2]))
print(out, digits = 4, row.names = FALSE)
