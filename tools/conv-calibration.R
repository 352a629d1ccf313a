# The calibration table of issue 22's "Done when": per-position variance
# predictions of predict_variance() for cnn() networks against the engine's
# simulation, every position of every layer of every configuration in one
# Holm family at family-wise level 0.01 ("at 0.99").
#
#   2-D ReLU CNNs, He normal, no biases (the mean field is exact at any
#   channel count), kernel 3, depth 20, at 16 and 64 channels:
#     zero and circular padding at 16 x 16; valid padding at 48 x 48
#     (8 x 8 at the end); zero and circular padding at 16 x 16 with
#     stride 2 at layers 5, 10 and 15 only (2 x 2 at the end).
#   Each: per layer Var(s), Var(dC/ds), Var(dC/dW) (the engine's per-layer
#   rows) and per position Var(s), Var(dC/ds) (position_map()), p-values
#   from the package's calibrated rule (simulate_network()'s, on the log
#   scale with df = networks - 1; NA where the rule says more networks are
#   needed: counted and reported, not tested).
#   Diagnostic, outside the family: a tanh CNN with Glorot at 16 channels
#   against the mean field. regime = "finite_width" does not cover cnn()
#   (R/net-conv.R refuses it), so the issue's tanh row cannot be tested
#   yet; the 1/C gap to the mean field is printed instead.
#
# Run once, not in CI (CI runs the reduced case in tests/testthat/test-conv.R:
# 8 channels, 8 x 8, depth 6):
#   nice Rscript tools/conv-calibration.R [lib]
# Environment: CONV_CAL_NETWORKS (16 channels; default 400),
#   CONV_CAL_NETWORKS64 (64 channels; default 100), CONV_CAL_INPUTS
#   (inputs per network; default 4), CONV_CAL_THREADS (default 2),
#   CONV_CAL_CHANNELS (default "16,64"). Use a fast BLAS for the
#   64-channel rows, in this script's environment only:
#   LD_PRELOAD=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
#   after apt-get install -y libopenblas0-pthread (R's ldpaths puts its
#   own directories first in LD_LIBRARY_PATH, so only a preload works; and
#   the install switches the machine's libblas.so.3 alternative to
#   OpenBLAS: set it back with update-alternatives --set if other work
#   must not change BLAS).
#
# RESULT (recorded by hand from the run below; see the end of the output):
#   Run 2026-12-03, OpenBLAS 0.3.21 preloaded, 2 threads on a shared
#   2-core machine, 917 s in all; 2000 networks at 16 channels, 700 at 64,
#   4 inputs each, seed 2212. One Holm family of 113,012 tests (per-layer
#   rows and every position of every layer, s and dC/ds):
#   smallest p 1.06e-4 (64 channels, circular, layer 2 Var(s), z = 3.90),
#   smallest Holm-adjusted p 1: PASSES at 0.99. Per configuration the
#   worst |z| is 3.0-3.9 (the positions of a map share their networks, so
#   113,012 tests are far fewer independent ones). Untested: 9,092 rows
#   at 16 channels (2413 zero, 2842 circular, 3627 valid, 113 and 97 with
#   stride 2), where the rule's networks_needed (the per-network variance
#   at depth is log-normal with a large spread at 16 channels; layer 20 of
#   the zero-padded net asks for 10^5-10^7 networks) exceeds 2000; none
#   at 64 channels. Seconds per configuration: 16 ch 61 / 77 / 205 / 10 /
#   11, 64 ch 85 / 92 / 291 / 23 / 25 (zero, circular, valid, zero and
#   circular with stride 2).
#   Tanh diagnostic (not in the family): Var(s) at layer 20 is 0.9833 of
#   the mean field (0.01618, MCSE 5e-5, against 0.01645: the 1/C gap,
#   about 5 MCSE), layers 1-5 within 0.1%.
args <- commandArgs(trailingOnly = TRUE)
lib <- if (length(args)) args[1] else NULL
library(initvar, lib.loc = lib)
env_num <- function(name, default) {
  v <- Sys.getenv(name)
  if (nzchar(v)) as.numeric(v) else default
}
J16 <- env_num("CONV_CAL_NETWORKS", 400)
J64 <- env_num("CONV_CAL_NETWORKS64", 100)
inputs <- env_num("CONV_CAL_INPUTS", 4)
threads <- env_num("CONV_CAL_THREADS", 2)
chans <- as.numeric(strsplit(Sys.getenv("CONV_CAL_CHANNELS", "16,64"), ",")[[1]])
print(initvar_blas())
t_all <- proc.time()[["elapsed"]]
cat(sprintf("networks: %g at 16 channels, %g at 64; inputs %g; threads %g\n",
            J16, J64, inputs, threads))

depth <- 20
stride3 <- lapply(seq_len(depth), function(i) if (i %in% c(5, 10, 15)) 2 else 1)
configs <- list(
  zero = list(padding = "zero", spatial = c(16, 16), stride = 1),
  circular = list(padding = "circular", spatial = c(16, 16), stride = 1),
  valid = list(padding = "valid", spatial = c(48, 48), stride = 1),
  zero_stride2 = list(padding = "zero", spatial = c(16, 16), stride = stride3),
  circular_stride2 = list(padding = "circular", spatial = c(16, 16), stride = stride3))

set.seed(2212)
rows <- list()
for (ch in chans) for (nm in names(configs)) {
  cf <- configs[[nm]]
  J <- if (ch == 16) J16 else J64
  net <- cnn(ch, kernel = 3, depth = depth, spatial = cf$spatial, padding = cf$padding,
             stride = cf$stride, activation = "relu", init = init_he())
  t0 <- proc.time()[["elapsed"]]
  sim <- simulate_network(net, networks = J, inputs = inputs, threads = threads,
                          progress = FALSE)
  secs <- proc.time()[["elapsed"]] - t0
  s <- as.data.frame(sim)
  s <- s[s$quantity %in% c("s", "grad_s", "grad_w"), ]
  p_layer <- s$p_value
  p_pos <- numeric(0)
  worst <- c(z = 0, layer = NA, q = NA)
  for (i in seq_len(depth)) for (q in c("var_s", "var_grad_s")) {
    m <- position_map(sim, i, q)
    iv <- initvar:::sim_intervals(as.vector(m$estimate), as.vector(m$mcse),
                                  as.vector(m$prediction), sim$networks, 0.95)
    p_pos <- c(p_pos, iv$p_value)
    if (any(!is.na(iv$z)) && max(abs(iv$z), na.rm = TRUE) > abs(as.numeric(worst[["z"]]))) {
      worst <- c(z = iv$z[which.max(abs(iv$z))], layer = i, q = q)
    }
  }
  rows[[length(rows) + 1]] <- data.frame(
    channels = ch, config = nm, networks = J, seconds = round(secs, 1),
    tests = sum(!is.na(c(p_layer, p_pos))), untested = sum(is.na(c(p_layer, p_pos))),
    min_p = suppressWarnings(min(c(p_layer, p_pos), na.rm = TRUE)),
    worst_z = round(as.numeric(worst[["z"]]), 2), worst_at = paste(worst[["layer"]], worst[["q"]]),
    stringsAsFactors = FALSE)
  attr(rows[[length(rows)]], "p") <- c(p_layer, p_pos)
  print(rows[[length(rows)]], row.names = FALSE)
  flush.console()
}
p <- unlist(lapply(rows, attr, "p"))
tab <- do.call(rbind, rows)
print(tab, row.names = FALSE)
ph <- stats::p.adjust(p[!is.na(p)], "holm")
cat(sprintf(paste0("Holm family: %d tests (%d untested: the rule asks for more networks), ",
                   "smallest p %.3g, smallest Holm-adjusted p %.3g: %s at 0.99\n"),
            length(ph), sum(is.na(p)), min(p, na.rm = TRUE), min(ph),
            if (!length(ph)) "NOTHING TESTED" else if (all(ph > 0.01)) "PASSES" else "FAILS"))
cat("untested by configuration (the rule's networks_needed exceeds the networks run):\n")
print(tab[, c("channels", "config", "tests", "untested")], row.names = FALSE)

# diagnostic: tanh, Glorot, 16 channels, against the mean field (no
# finite-width regime for cnn())
net <- cnn(16, kernel = 3, depth = depth, spatial = c(16, 16), padding = "zero",
           activation = "tanh", init = init_glorot())
sim <- simulate_network(net, networks = J16, inputs = inputs, threads = threads,
                        progress = FALSE)
s <- as.data.frame(sim)
s <- s[s$quantity %in% c("s", "grad_s") & s$layer %in% c(1, 5, 10, 20), ]
cat("tanh / Glorot, 16 channels, zero padding 16 x 16, against the mean field:\n")
print(data.frame(layer = s$layer, quantity = s$quantity, estimate = signif(s$estimate, 4),
                 mcse = signif(s$mcse, 2), mean_field = signif(s$prediction, 4),
                 ratio = round(s$estimate / s$prediction, 4)), row.names = FALSE)
cat(sprintf("total %.0f s\n", proc.time()[["elapsed"]] - t_all))
