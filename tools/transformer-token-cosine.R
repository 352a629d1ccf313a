# Rank collapse: the mean token cosine at every block's output, predicted
# (predict_variance()'s token_cos, the infinite-width kernel with the
# logits' correlation across queries) against the engine's simulation
# (token_similarity(): MCSE over networks), for input tokens of equal
# correlation rho, compared on log(1 - cos) while 1 - cos > 1e-10 (delta
# method: MCSE / (1 - cos)); one Holm family over the table at 0.99.
# Stacks: pre-LN, post-LN, and no residuals (skip = 0, post-LN); 4 heads,
# seq_len 8.
# Run: R_LIBS=<lib> Rscript tools/transformer-token-cosine.R [d_model] [max_depth] [networks]
library(initvar)
args <- commandArgs(TRUE)
d_model <- if (length(args)) as.integer(args[1]) else 64
max_depth <- if (length(args) > 1) as.integer(args[2]) else 16
networks <- if (length(args) > 2) as.integer(args[3]) else 20
set.seed(20261208)
cases <- list(
  "pre-LN" = function(N, rho) transformer(d_model, 4, depth = N, seq_len = 8, norm = "pre",
                                          token_cor = rho),
  "post-LN" = function(N, rho) transformer(d_model, 4, depth = N, seq_len = 8, norm = "post",
                                           token_cor = rho),
  "no residual" = function(N, rho) transformer(d_model, 4, depth = N, seq_len = 8,
                                               norm = "post", skip = 0, token_cor = rho))
depths <- unique(pmin(c(1, 2, 4, 8, 16, 32, 64), max_depth))
rows <- list()
for (nm in names(cases)) for (rho in c(0, 0.5, 0.9)) {
  t0 <- proc.time()[["elapsed"]]
  ts <- suppressMessages(token_similarity(cases[[nm]](max_depth, rho), networks = networks,
                                          sequences = 8))
  ts <- ts[ts$kind == "ffn" & ts$block %in% depths, ]   # every block's output
  gap_p <- 1 - ts$predicted
  gap_s <- 1 - ts$simulated
  ok <- gap_s > 1e-10 & gap_p > 1e-10
  z <- ifelse(ok, (log(gap_p) - log(gap_s)) / (ts$mcse / gap_s), NA_real_)
  rows[[length(rows) + 1]] <- data.frame(stack = nm, rho = rho, block = ts$block,
    pred = signif(ts$predicted, 6), sim = signif(ts$simulated, 6), mcse = signif(ts$mcse, 2),
    one_minus_pred = signif(gap_p, 3), one_minus_sim = signif(gap_s, 3), z_log = round(z, 2),
    seconds = round(proc.time()[["elapsed"]] - t0, 1))
  print(rows[[length(rows)]], row.names = FALSE)
}
tab <- do.call(rbind, rows)
zz <- tab$z_log[!is.na(tab$z_log)]
tab$p_holm <- NA_real_
tab$p_holm[!is.na(tab$z_log)] <- signif(p.adjust(2 * pnorm(-abs(zz)), "holm"), 2)
options(width = 200)
print(tab, row.names = FALSE)
cat(sprintf("Holm family at 0.99: %d of %d rows compared, %d rejected\n", length(zz), nrow(tab),
            sum(tab$p_holm < 0.01, na.rm = TRUE)))
