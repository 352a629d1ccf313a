# The scaling rules on the transformers they were written for: predicted
# and simulated variance of the last block's output (`out`, relative to the
# input's), of the last sublayer's sum h before a post-normalization
# (`sum`), and of the gradient dC/dh at the first sublayer (`grad`, the
# output gradient having variance 1), at depths 10 and 100 (the release
# note's table). d_model 64, 4 heads, seq_len 8, d_ff 256, ReLU, 40
# networks x 8 sequences.
# Run: R_LIBS=<lib> Rscript tools/transformer-rules.R
library(initvar)
set.seed(20261201)
d_model <- 64; heads <- 4; seq_len <- 8; networks <- 40; inputs <- 64
cases <- list(
  "pre-LN, standard (encoder)" = function(N) transformer(d_model, heads, depth = N, seq_len = seq_len, norm = "pre"),
  "post-LN, standard (encoder)" = function(N) transformer(d_model, heads, depth = N, seq_len = seq_len, norm = "post"),
  "DeepNet, encoder-only" = function(N) transformer(d_model, heads, depth = N, seq_len = seq_len,
    rule = scaling_rule("deepnet", N, architecture = "encoder")),
  "DeepNet, decoder-only" = function(N) transformer(d_model, heads, depth = N, seq_len = seq_len,
    architecture = "decoder", rule = scaling_rule("deepnet", N, architecture = "decoder")),
  "T-Fixup, encoder" = function(N) transformer(d_model, heads, depth = N, seq_len = seq_len,
    rule = scaling_rule("tfixup", N)),
  "T-Fixup, decoder" = function(N) transformer(d_model, heads, depth = N, seq_len = seq_len,
    architecture = "decoder", rule = scaling_rule("tfixup", N, part = "decoder", decoder_depth = N)))
rows <- list()
for (nm in names(cases)) for (N in c(10, 100)) {
  net <- cases[[nm]](N)
  vx <- if (is.null(net$transformer$embedding_var)) 1 else net$transformer$embedding_var
  t0 <- proc.time()[["elapsed"]]
  sim <- simulate_network(net, networks = networks, inputs = inputs, var_x = vx, threads = 2)
  df <- as.data.frame(sim)
  d <- 2 * N
  z <- df[df$quantity == "z" & df$layer == d, ]
  g <- df[df$quantity == "grad_s" & df$layer == 1, ]
  h <- df[df$quantity == "s" & df$layer == d, ]
  rows[[length(rows) + 1]] <- data.frame(
    rule = nm, depth = N, var_x = signif(vx, 4),
    out_pred = signif(z$prediction / vx, 4), out_sim = signif(z$estimate / vx, 4),
    out_mcse = signif(z$mcse / vx, 2),
    sum_pred = signif(h$prediction / vx, 4), sum_sim = signif(h$estimate / vx, 4),
    sum_mcse = signif(h$mcse / vx, 2),
    grad_pred = signif(g$prediction, 4), grad_sim = signif(g$estimate, 4),
    grad_mcse = signif(g$mcse, 2), seconds = round(proc.time()[["elapsed"]] - t0, 1))

}
tab <- do.call(rbind, rows)
options(width = 200); print(tab, row.names = FALSE)
