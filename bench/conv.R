# Benchmark (issue 22): the engine's conv network (depth 10, 64 channels,
# 32 x 32, batch 32, zero padding, ReLU, He) forward plus backward against
#  * its bare products: the same im2col GEMMs called from R with
#    options(matprod = "blas") (R's %*%, crossprod() and tcrossprod() go
#    straight to dgemm): per layer the forward (B P) x K x c_out product,
#    the backward data product (layers 2-10) and the per-example weight
#    gradients (B products P x K x c_out), on preallocated matrices;
#  * the plain-R way: the same network written in R (im2col by indexing,
#    %*%, col2im by indexed adds), forward plus backward, one example batch;
#  * torch's float64 forward plus backward of the same network
#    (Conv2d(64, 64, 3, padding = 1, bias = False) x 10, ReLU), one thread,
#    if python3 with torch is found (Debian's python3-torch).
# The engine's time is half that of simulate_network(net, networks = 2,
# inputs = 32) at one thread (it runs at least 2 networks):
# weight draws, forward, backward, per-example weight gradients and every
# moment it streams. Medians of 5 runs.
#
# The BLAS: the one this R process loaded, printed by initvar_blas(). To
# bench with OpenBLAS without switching the machine's BLAS, preload it in
# this command's environment only (R's ldpaths put R's own directories
# first in LD_LIBRARY_PATH, so only a preload works); torch is started
# with the same LD_PRELOAD, so both run on the same library:
#   LD_PRELOAD=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 \
#     Rscript bench/conv.R [lib]
# (apt-get install -y libopenblas0-pthread python3-torch; note that the
# install switches the libblas.so.3 alternative to OpenBLAS machine-wide:
# set it back with update-alternatives --set if that must not change.)
args <- commandArgs(trailingOnly = TRUE)
library(initvar, lib.loc = if (length(args)) args[1] else NULL)
runs <- as.integer(Sys.getenv("INITVAR_BENCH_RUNS", "5"))
elapsed <- function(expr) system.time(expr)[["elapsed"]]
med <- function(f) median(vapply(seq_len(runs), function(i) elapsed(f()), 0))
cat("BLAS of this R process:\n")
print(initvar_blas())
cat(sprintf("LD_PRELOAD = \"%s\"; cores %s; load %s\n", Sys.getenv("LD_PRELOAD"),
            parallel::detectCores(), paste(readLines("/proc/loadavg"), collapse = "")))

depth <- 10; ch <- 64; H <- 32; B <- 32; k <- 3
net <- cnn(ch, kernel = k, depth = depth, spatial = c(H, H), padding = "zero",
           activation = "relu", init = init_he())
set.seed(1)
eng <- function(threads, networks = 2) {
  function() simulate_network(net, networks = networks, inputs = B, threads = threads,
                              progress = FALSE)
}
invisible(eng(1)())   # warm-up
t_eng1x2 <- med(eng(1))
t_eng2x2 <- med(eng(2))
t_eng1 <- t_eng1x2 / 2   # per network (simulate_network() runs at least 2)

# the bare products, on preallocated matrices
P <- H * H; K <- ch * k * k
old <- options(matprod = "blas")
A <- matrix(rnorm(B * P * K), B * P, K)
W <- matrix(rnorm(K * ch), K, ch)
G <- matrix(rnorm(B * P * ch), B * P, ch)
Ab <- matrix(rnorm(P * K), P, K)
Gb <- matrix(rnorm(P * ch), P, ch)
bare <- function() {
  for (l in seq_len(depth)) {
    S <- A %*% W
    if (l > 1) D <- tcrossprod(G, W)
    for (b in seq_len(B)) gw <- crossprod(Ab, Gb)
  }
  invisible(NULL)
}
t_bare <- med(bare)

# the plain-R way: im2col by an index matrix, col2im by indexed adds
pad_idx <- local({
  hw <- expand.grid(w = seq_len(H), h = seq_len(H))
  idx <- matrix(0L, P, k * k)
  for (a in seq_len(k)) for (t in seq_len(k)) {
    ih <- hw$h + a - 2; iw <- hw$w + t - 2
    ok <- ih >= 1 & ih <= H & iw >= 1 & iw <= H
    idx[, (a - 1) * k + t] <- ifelse(ok, (ih - 1) * H + iw, P + 1L)   # P + 1: a zero
  }
  idx
})
plain_r <- function() {
  x <- array(rnorm(B * ch * P), c(B, P, ch))
  Ws <- lapply(seq_len(depth), function(l) matrix(rnorm(K * ch, sd = sqrt(2 / K)), K, ch))
  xs <- vector("list", depth); pre <- vector("list", depth)
  im2col <- function(x) {
    xp <- array(0, c(B, P + 1, ch)); xp[, seq_len(P), ] <- x
    # rows (b, p), columns (c, tap)
    matrix(xp[, as.vector(pad_idx), ], B * P, K)
  }
  for (l in seq_len(depth)) {
    xs[[l]] <- x    # the columns are rebuilt backward (10 of them: 1.5 GB)
    pre[[l]] <- im2col(x) %*% Ws[[l]]
    x <- array(pmax(pre[[l]], 0), c(B, P, ch))
  }
  g <- matrix(rnorm(B * P * ch), B * P, ch)
  for (l in depth:1) {
    cols <- im2col(xs[[l]])
    for (b in seq_len(B)) {
      r <- b + B * (seq_len(P) - 1)
      gw <- crossprod(cols[r, , drop = FALSE], g[r, , drop = FALSE])
    }
    rm(cols)
    if (l > 1) {
      dc <- tcrossprod(g, Ws[[l]])       # (B P) x K, columns (c, tap)
      dx <- matrix(0, B * (P + 1), ch)
      for (j in seq_len(k * k)) {
        # rows b + B (p - 1) of tap j's input positions (padding: row P + 1)
        ix <- as.vector(outer(seq_len(B), B * (pad_idx[, j] - 1), "+"))
        dx[ix, ] <- dx[ix, ] + dc[, (seq_len(ch) - 1) * k * k + j]
      }
      dx <- dx[seq_len(B * P), ]
      g <- dx * (pre[[l - 1]] > 0)
    }
  }
  invisible(NULL)
}
t_plain <- elapsed(plain_r())
options(old)

# torch, one thread, float64, the same BLAS preload
t_torch <- NA_real_
torch_cfg <- NULL
# Debian's python3-torch is in the system python, not a pyenv shim's
py <- Sys.getenv("INITVAR_BENCH_PYTHON",
                 if (file.exists("/usr/bin/python3")) "/usr/bin/python3" else Sys.which("python3"))
if (nzchar(py)) {
  script <- tempfile(fileext = ".py")
  writeLines(c(
    "import time, statistics, torch",
    "torch.set_num_threads(1)",
    "torch.manual_seed(1)",
    sprintf("depth, ch, H, B, runs = %d, %d, %d, %d, %d", depth, ch, H, B, runs),
    "layers = []",
    "for _ in range(depth):",
    "    c = torch.nn.Conv2d(ch, ch, 3, padding=1, bias=False).double()",
    "    torch.nn.init.kaiming_normal_(c.weight, nonlinearity='relu')",
    "    layers += [c, torch.nn.ReLU()]",
    "net = torch.nn.Sequential(*layers[:-1])",
    "x = torch.randn(B, ch, H, H, dtype=torch.float64)",
    "def one():",
    "    net.zero_grad()",
    "    y = net(x)",
    "    y.backward(torch.randn_like(y))",
    "one()",
    "ts = []",
    "for _ in range(runs):",
    "    t0 = time.perf_counter(); one(); ts.append(time.perf_counter() - t0)",
    "print('SECONDS', statistics.median(ts))",
    "print(torch.__version__)",
    "print('BLAS mapped:', sorted({l.split()[-1] for l in open('/proc/self/maps') if 'blas' in l}))",
    "print(torch.__config__.show())"), script)
  out <- suppressWarnings(tryCatch(system2(py, script, stdout = TRUE, stderr = TRUE),
                                   error = function(e) NULL))
  s <- grep("^SECONDS", out, value = TRUE)
  if (length(s)) {
    t_torch <- as.numeric(sub("SECONDS ", "", s))
    torch_cfg <- out[-grep("^SECONDS", out)]
  } else {
    cat("torch not run:\n"); cat(out, sep = "\n")
  }
}
if (!is.null(torch_cfg)) {
  cat("torch (same LD_PRELOAD):\n"); cat(torch_cfg, sep = "\n")
}

cat(sprintf("\nconv net: depth %d, %d channels, %d x %d, batch %d; medians of %d runs (s)\n",
            depth, ch, H, H, B, runs))
print(data.frame(
  what = c("engine, per network, 1 thread", "bare products (the im2col GEMMs)",
           "engine, 2 networks, 1 thread", "engine, 2 networks, 2 threads",
           "plain R (one run)", "torch float64 fwd + bwd, 1 thread"),
  seconds = c(t_eng1, t_bare, t_eng1x2, t_eng2x2, t_plain, t_torch)), digits = 3,
  row.names = FALSE)
cat(sprintf("engine / bare products: %.2f (goal <= 1.3)\n", t_eng1 / t_bare))
cat(sprintf("2 threads speed-up: %.2f (goal >= 1.7)\n", t_eng1x2 / t_eng2x2))
cat(sprintf("plain R / engine: %.1f\n", t_plain / t_eng1))
cat(sprintf("engine / torch: %.2f (goal <= 1)\n", t_eng1 / t_torch))
