# Benchmarks for the propagation engine, against plain R in the same run.
#   Rscript bench/propagate.R            (make bench)
# Environment: INITVAR_BENCH_LARGE_NETS (default 4), INITVAR_BENCH_SMALL_NETS
# (default 10000).
library(initvar)

elapsed <- function(expr) system.time(expr)[["elapsed"]]
large_nets <- as.integer(Sys.getenv("INITVAR_BENCH_LARGE_NETS", "4"))
small_nets <- as.integer(Sys.getenv("INITVAR_BENCH_SMALL_NETS", "10000"))

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

# The bare matrix products of one network: 5 forward, 4 backward.
bare_products <- function(widths, batch) {
  d <- length(widths) - 1
  Z <- matrix(rnorm(batch * widths[1]), batch)
  W <- lapply(seq_len(d), function(i) matrix(rnorm(widths[i] * widths[i + 1]), widths[i]))
  G <- matrix(rnorm(batch * widths[d + 1]), batch)
  elapsed({
    for (i in seq_len(d)) Z <- Z %*% W[[i]]
    for (i in d:2) G <- tcrossprod(G, W[[i]])
  })
}

cat("BLAS: ", sessionInfo()$BLAS, "\n", sep = "")
cat(sprintf("initvar threads available: %d\n\n", initvar_threads()))

# ---- large networks: depth 5, width 1000, batch 1000 -----------------------
widths <- rep(1000, 6)
net <- mlp(widths, "tanh", init_glorot("normal"))
set.seed(1)
t_bare <- median(replicate(3, bare_products(widths, 1000)))
t_c1 <- elapsed(simulate_network(net, networks = large_nets, inputs = 1000, threads = 1,
                                 progress = FALSE)) / large_nets
t_c2 <- elapsed(simulate_network(net, networks = large_nets, inputs = 1000, threads = 2,
                                 progress = FALSE)) / large_nets
t_r <- elapsed(r_simulation(widths, 1000, 2)) / 2
cat("Large networks (depth 5, width 1000, batch 1000, tanh), seconds per network:\n")
print(data.frame(
  what = c("bare matrix products (%*%, tcrossprod)", "initvar, 1 thread", "initvar, 2 threads",
           "plain R simulation"),
  seconds = c(t_bare, t_c1, t_c2, t_r),
  ratio = c(1, t_c1 / t_bare, t_c2 / t_bare, t_r / t_bare)), digits = 3, row.names = FALSE)
cat(sprintf("initvar 1 thread / bare products: %.3f (target <= 1.1)\n", t_c1 / t_bare))
cat(sprintf("plain R / initvar 2 threads: %.2f (target >= 1.7)\n\n", t_r / t_c2))

# ---- small networks: depth 10, width 32, batch 64 ----------------------------
widths <- rep(32, 11)
net <- mlp(widths, "tanh", init_glorot("normal"))
t_c <- elapsed(simulate_network(net, networks = small_nets, inputs = 64, threads = 2,
                                progress = FALSE))
n_r <- max(2, small_nets %/% 10)
t_r <- elapsed(r_simulation(widths, 64, n_r)) * small_nets / n_r
cat(sprintf("Small networks (depth 10, width 32, batch 64), %d networks, seconds:\n", small_nets))
print(data.frame(what = c("initvar, 2 threads", sprintf("plain R (%d networks, scaled)", n_r)),
                 seconds = c(t_c, t_r)), digits = 3, row.names = FALSE)
cat(sprintf("plain R / initvar: %.1f (target >= 3)\n\n", t_r / t_c))

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
