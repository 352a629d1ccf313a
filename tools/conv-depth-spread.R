# Xiao et al. (2018)'s claim, measured: at the edge of chaos a tanh CNN
# keeps the spread of its Jacobian's singular values through 1,000 layers
# with delta-orthogonal kernels and not with Gaussian ones.
#
# tanh, (sigma_w^2, sigma_b^2) on critical_line("tanh", 1e-4), 16 channels,
# 8 x 8, kernel 3, circular padding, input at the fixed point q*; the log
# singular values by jacobian_log_spectrum() (LQ re-orthonormalization
# every `every` layers), the spread (sd of the 1,024 logs within a network)
# and the mean log singular value, each with its MCSE over networks.
#
# Usage (OpenBLAS preloaded, one BLAS thread; about 10 minutes on 2 cores):
#   LD_PRELOAD=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 \
#   OPENBLAS_NUM_THREADS=1 Rscript tools/conv-depth-spread.R [networks = 4] \
#     [depth = 1000] [channels = 16] [every = 5]
library(initvar)
args <- as.numeric(commandArgs(TRUE))
networks <- if (length(args) >= 1) args[1] else 4
depth <- if (length(args) >= 2) args[2] else 1000
ch <- if (length(args) >= 3) args[3] else 16
every <- if (length(args) >= 4) args[4] else 5
print(initvar_blas())
sb2 <- 1e-4
cl <- critical_line("tanh", sb2)
sw2 <- cl$sigma_w2[1]
qs <- cl$q_star[1]
fan_in <- 9 * ch
cat(sprintf("tanh on the critical line: sigma_w^2 = %.6f, sigma_b^2 = %g, q* = %.5f\n", sw2, sb2, qs))
# the input z^0 such that s^0 has variance q*: sigma_w^2 var_x + sigma_b^2 = q*
var_x <- (qs - sb2) / sw2
inits <- list(delta_orthogonal = init_delta_orthogonal(sqrt(sw2)),
              gaussian = init_normal(sd = sqrt(sw2 / fan_in)))
depths <- unique(round(c(1, 10, 100, depth / 2, depth)))
depths <- depths[depths <= depth]
res <- list()
for (nm in names(inits)) {
  net <- cnn(ch, kernel = 3, depth = depth, spatial = c(8, 8), padding = "circular",
             activation = "tanh", init = inits[[nm]], bias = init_normal(0, sqrt(sb2)))
  set.seed(2018)
  t0 <- proc.time()[["elapsed"]]
  lg <- jacobian_log_spectrum(net, networks = networks, var_x = var_x, depths = depths,
                              every = every, threads = 2)
  secs <- proc.time()[["elapsed"]] - t0
  df <- as.data.frame(lg)
  res[[nm]] <- data.frame(kernel = nm, depth = df$depth, mean_log = df$mean_log,
                          mean_log_mcse = df$mean_log_mcse, spread = df$spread,
                          spread_mcse = df$spread_mcse, min_log = df$min_log,
                          max_log = df$max_log)
  cat(sprintf("%s: %d networks in %.0f s\n", nm, networks, secs))
}
out <- do.call(rbind, res)
print(format(out, digits = 3), row.names = FALSE)
last <- out[out$depth == max(depths), ]
r <- last$spread[last$kernel == "gaussian"] / last$spread[last$kernel == "delta_orthogonal"]
cat(sprintf("\nat depth %d the Gaussian kernels' spread is %.1f times the delta-orthogonal ones'\n",
            max(depths), r))
