# The scaling rules on the transformers they were written for: predicted
# and simulated variance of the last block's output (`out`, relative to the
# input's), of the last sublayer's sum h before a post-normalization
# (`sum`), and of the gradient dC/dh at the first sublayer (`grad`, the
# output gradient having variance 1), at depths 10 and 100 (the release
# note's table). d_model 64, 4 heads, seq_len 8, d_ff 256, ReLU, 40
# networks x 8 sequences; then the encoder-decoders at (N, M) = (10, 10)
# and (100, 100).
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

# Encoder-decoders (N encoder blocks, M = N decoder blocks; each example a
# source and a target sequence of seq_len tokens): predicted and simulated
# variance of the encoder's output (the memory, `enc`), of the decoder's
# output (`dec`), relative to the input's, and of their last sums before a
# post-normalization (`enc_sum`, `dec_sum`), and of the gradient dC/dh at the
# encoder's first sublayer (`grad_enc`: it reaches the encoder through the
# cross-attention layers only) and at the decoder's first (`grad_dec`).
ed_cases <- list(
  "DeepNet, encoder-decoder" = function(N, M) transformer(d_model, heads, depth = N,
    decoder_depth = M, seq_len = seq_len, architecture = "encoder_decoder",
    rule = scaling_rule("deepnet", N, architecture = "encoder_decoder", decoder_depth = M)),
  "T-Fixup, encoder-decoder" = function(N, M) transformer(d_model, heads, depth = N,
    decoder_depth = M, seq_len = seq_len, architecture = "encoder_decoder",
    rule = scaling_rule("tfixup", N, decoder_depth = M)))
rows <- list()
for (nm in names(ed_cases)) for (N in c(10, 100)) {
  M <- N
  net <- ed_cases[[nm]](N, M)
  vx <- if (is.null(net$transformer$embedding_var)) 1 else net$transformer$embedding_var
  t0 <- proc.time()[["elapsed"]]
  sim <- simulate_network(net, networks = networks, inputs = inputs, var_x = vx, threads = 2)
  df <- as.data.frame(sim)
  ne <- 2 * N
  d <- ne + 3 * M
  pick <- function(q, l) df[df$quantity == q & df$layer == l, ]
  e <- pick("z", ne); o <- pick("z", d); es <- pick("s", ne); os <- pick("s", d)
  ge <- pick("grad_s", 1); gd <- pick("grad_s", ne + 1)
  f <- function(r, s = 1) c(signif(r$prediction / s, 4), signif(r$estimate / s, 4), signif(r$mcse / s, 2))
  rows[[length(rows) + 1]] <- data.frame(
    rule = nm, N = N, M = M, var_x = signif(vx, 4),
    enc_pred = f(e, vx)[1], enc_sim = f(e, vx)[2], enc_mcse = f(e, vx)[3],
    dec_pred = f(o, vx)[1], dec_sim = f(o, vx)[2], dec_mcse = f(o, vx)[3],
    enc_sum_pred = f(es, vx)[1], enc_sum_sim = f(es, vx)[2], enc_sum_mcse = f(es, vx)[3],
    dec_sum_pred = f(os, vx)[1], dec_sum_sim = f(os, vx)[2], dec_sum_mcse = f(os, vx)[3],
    grad_enc_pred = f(ge)[1], grad_enc_sim = f(ge)[2], grad_enc_mcse = f(ge)[3],
    grad_dec_pred = f(gd)[1], grad_dec_sim = f(gd)[2], grad_dec_mcse = f(gd)[3],
    seconds = round(proc.time()[["elapsed"]] - t0, 1))
}
print(do.call(rbind, rows), row.names = FALSE)
