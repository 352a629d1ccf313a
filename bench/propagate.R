# Benchmarks for the propagation engine, against the bare matrix products
# and plain R, measured in the same run.
#   Rscript bench/propagate.R            (make bench)
# Environment: INITVAR_BENCH_LARGE_NETS (default 4), INITVAR_BENCH_SMALL_NETS
# (default 10000), INITVAR_BENCH_REPS (default 3).
#
# The BLAS runs single-threaded: the script re-runs itself with
# OPENBLAS_NUM_THREADS=1 (and the same for MKL/BLIS/OpenMP) unless they are
# set, so that "1 thread" means one core for initvar and the products alike.
blas_env <- c(OPENBLAS_NUM_THREADS = "1", MKL_NUM_THREADS = "1", BLIS_NUM_THREADS = "1",
              GOTO_NUM_THREADS = "1")
if (!nzchar(Sys.getenv("INITVAR_BENCH_CHILD"))) {
  args <- commandArgs(FALSE)
  file <- sub("^--file=", "", grep("^--file=", args, value = TRUE))
  env <- c(paste0(names(blas_env), "=", blas_env), "INITVAR_BENCH_CHILD=1")
  status <- system2(file.path(R.home("bin"), "Rscript"), shQuote(file), env = env)
  quit(status = status, save = "no")
}
library(initvar)

elapsed <- function(expr) system.time(expr)[["elapsed"]]
large_nets <- as.integer(Sys.getenv("INITVAR_BENCH_LARGE_NETS", "4"))
small_nets <- as.integer(Sys.getenv("INITVAR_BENCH_SMALL_NETS", "10000"))
reps <- as.integer(Sys.getenv("INITVAR_BENCH_REPS", "3"))
best <- function(f) min(vapply(seq_len(reps), function(i) f(), 0))

# ---- the machine -------------------------------------------------------------
cat("BLAS:   ", sessionInfo()$BLAS, "\n", sep = "")
cat("LAPACK: ", La_library(), "\n", sep = "")
cat("BLAS threads: ", paste(names(blas_env), Sys.getenv(names(blas_env)), sep = "=",
                            collapse = " "), "\n", sep = "")
if (nzchar(Sys.which("lscpu"))) {
  topo <- system2("lscpu", stdout = TRUE)
  keep <- "^(Model name|Socket|Core|Thread|CPU\\(s\\)|L1d|L2|L3|NUMA node\\(s\\))"
  cat("CPU topology (lscpu):\n", paste0("  ", grep(keep, topo, value = TRUE), "\n"), sep = "")
}
cat(sprintf("initvar threads available: %d\n\n", initvar_threads()))

# ---- references ----------------------------------------------------------------
# The straightforward R implementation of one network's simulation: draw
# weights and inputs, forward with the activation, backward with its
# derivative, and the same per-network moment updates (sums of powers of s,
# z, dC/ds, and of the per-example weight gradients by their factorization).
r_network <- function(widths, batch, sdw) {
  d <- length(widths) - 1
  Z <- matrix(rnorm(batch * widths[1]), batch)
  W <- lapply(seq_len(d), function(i) matrix(rnorm(widths[i] * widths[i + 1], sd = sdw[i]), widths[i]))
  Zs <- vector("list", d + 1); Zs[[1]] <- Z
  D <- vector("list", d)
  mom <- matrix(0, 4 * d, 4)
  for (i in seq_len(d)) {
    S <- Zs[[i]] %*% W[[i]]
    Zn <- tanh(S)
    D[[i]] <- 1 - Zn^2
    mom[i, ] <- c(sum(S), sum(S^2), sum(S^3), sum(S^4))
    mom[d + i, ] <- c(sum(Zn), sum(Zn^2), sum(Zn^3), sum(Zn^4))
    Zs[[i + 1]] <- Zn
  }
  G <- matrix(rnorm(batch * widths[d + 1]), batch)
  for (i in d:1) {
    mom[2 * d + i, ] <- c(sum(G), sum(G^2), sum(G^3), sum(G^4))
    zp <- sapply(1:4, function(p) rowSums(Zs[[i]]^p))
    gp <- sapply(1:4, function(p) rowSums(G^p))
    mom[3 * d + i, ] <- colSums(zp * gp)
    if (i > 1) G <- tcrossprod(G, W[[i]]) * D[[i - 1]]
  }
  mom
}

r_simulation <- function(widths, batch, networks) {
  d <- length(widths) - 1
  sdw <- sqrt(2 / (widths[-(d + 1)] + widths[-1]))
  acc <- 0
  for (j in seq_len(networks)) acc <- acc + r_network(widths, batch, sdw)
  acc
}

# The reference set of one network, defined once: the forward product of
# every layer and the backward product of every layer but the first, as
# dgemm calls of the same shapes (%*% and tcrossprod call dgemm), on
# preallocated operands. Returns seconds for `networks` networks.
bare_products <- function(widths, batch, networks = 1) {
  d <- length(widths) - 1
  Z <- lapply(seq_len(d), function(i) matrix(rnorm(batch * widths[i]), batch))
  W <- lapply(seq_len(d), function(i) matrix(rnorm(widths[i] * widths[i + 1]), widths[i]))
  G <- lapply(seq_len(d), function(i) matrix(rnorm(batch * widths[i + 1]), batch))
  elapsed(for (j in seq_len(networks)) {
    for (i in seq_len(d)) Z[[i]] %*% W[[i]]
    for (i in d:2) tcrossprod(G[[i]], W[[i]])
  })
}
flops <- function(widths, batch) {
  d <- length(widths) - 1
  2 * batch * (sum(widths[-(d + 1)] * widths[-1]) + sum((widths[-(d + 1)] * widths[-1])[-1]))
}

# ---- large networks: depth 5, width 1000, batch 1000 -----------------------
widths <- rep(1000, 6)
net <- mlp(widths, "tanh", init_glorot("normal"))
set.seed(1)
t_bare <- best(function() bare_products(widths, 1000))
sim <- function(th) elapsed(simulate_network(net, networks = large_nets, inputs = 1000,
                                             threads = th, progress = FALSE)) / large_nets
t_c1 <- best(function() sim(1))
t_c2 <- best(function() sim(2))
t_r <- elapsed(r_simulation(widths, 1000, 1))
cat(sprintf("Large networks (depth 5, width 1000, batch 1000, tanh), per network; products: %.1f GFLOP at %.1f GFLOP/s\n",
            flops(widths, 1000) / 1e9, flops(widths, 1000) / 1e9 / t_bare))
print(data.frame(
  what = c("bare products (9 dgemm)", "initvar, 1 thread", "initvar, 2 threads",
           "plain R simulation"),
  seconds = c(t_bare, t_c1, t_c2, t_r),
  `x bare` = c(1, t_c1 / t_bare, t_c2 / t_bare, t_r / t_bare), check.names = FALSE),
  digits = 3, row.names = FALSE)
cat(sprintf("initvar 1 thread / bare products: %.3f (target <= 1.15)\n", t_c1 / t_bare))
cat(sprintf("initvar 1 thread / 2 threads: %.2f (target >= 1.7 on 2 physical cores)\n",
            t_c1 / t_c2))
cat(sprintf("plain R / initvar 2 threads: %.2f\n\n", t_r / t_c2))

# ---- small networks: depth 10, width 32, batch 64 ----------------------------
widths <- rep(32, 11)
net <- mlp(widths, "tanh", init_glorot("normal"))
t_c <- best(function() elapsed(simulate_network(net, networks = small_nets, inputs = 64,
                                                threads = 2, progress = FALSE)))
n_r <- max(2, small_nets %/% 20)
t_r <- elapsed(r_simulation(widths, 64, n_r)) * small_nets / n_r
t_bare <- bare_products(widths, 64, 2000) / 2000
# the FLOP limit: the products at the large products' rate, on one core
gflops_large <- flops(rep(1000, 6), 1000) / 1e9 /
  min(vapply(1:2, function(i) bare_products(rep(1000, 6), 1000), 0))
t_flop <- flops(widths, 64) / 1e9 / gflops_large
# the elementwise work's own cost: a tight loop of the same tanh calls
# (20,000 per network: 10 layers of 64 x 32), in C, through the engine's
# activation on a linear network's worth of values
x <- rnorm(64 * 32 * 10)
t_tanh <- best(function() elapsed(for (i in 1:200) tanh(x))) / 200
per_net <- t_c / small_nets
cat(sprintf("Small networks (depth 10, width 32, batch 64), %d networks:\n", small_nets))
print(data.frame(
  what = c("initvar, 2 threads", sprintf("plain R (%d networks, scaled)", n_r),
           "bare products (19 dgemm per network), 1 thread", "FLOP limit (large products' rate)",
           "20,000 tanh() per network (R's vectorized tanh)"),
  `ms per network` = 1000 * c(per_net, t_r / small_nets, t_bare, t_flop, t_tanh),
  check.names = FALSE), digits = 3, row.names = FALSE)
cat(sprintf("plain R / initvar: %.1f (target >= 25)\n", t_r / t_c))
cat(sprintf("initvar per network, x FLOP limit: %.1f; x the tanh loop: %.1f (per thread: x2)\n\n",
            per_net / t_flop, per_net / t_tanh))

# ---- memory: peak RSS for 10 and 1000 networks, each in a fresh process ------
peak <- function(networks) {
  script <- sprintf(paste0(
    "library(initvar); set.seed(1); invisible(simulate_network(mlp(rep(256, 6), 'tanh'), ",
    "networks = %d, inputs = 256, progress = FALSE)); ",
    "cat(grep('VmHWM', readLines('/proc/self/status'), value = TRUE))"), networks)
  out <- system2(file.path(R.home("bin"), "Rscript"), c("-e", shQuote(script)), stdout = TRUE)
  as.numeric(gsub("[^0-9]", "", out[length(out)]))
}
if (file.exists("/proc/self/status")) {
  m10 <- peak(10)
  m1000 <- peak(1000)
  cat(sprintf("Peak memory (VmHWM), width 256, depth 5, batch 256: 10 networks %.1f MB, 1000 networks %.1f MB, ratio %.3f (target <= 1.10)\n",
              m10 / 1024, m1000 / 1024, m1000 / m10))
}
