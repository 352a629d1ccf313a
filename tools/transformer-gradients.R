# The gradient at the first sublayer of transformer() stacks, Var(dC/dh)
# (output gradient of variance 1), predicted by predict_variance(regime =
# "mean_field") against the engine's simulation: pred, sim, MCSE, z =
# (pred - sim) / MCSE, the Holm-adjusted two-sided p-value (one family over
# the table, at level 0.99) and the call's own regime check
# (attr(, "regime_check"): the expected relative error, and whether it is
# within the documented 5%). d_model 64 and 256, 4 heads, seq_len 8,
# ReLU FFN; pre- and post-LN, standard and DeepNet.
# Run: R_LIBS=<lib> Rscript tools/transformer-gradients.R [networks] [grid]
#   networks: at d_model 64 (d_model 256 uses a quarter, at least 8)
#   grid: "issue" (depths 12 and 100, the default), "regime" (depths 2, 6
#   and 12: the documented regime measured), "small" (issue, d_model 64)
library(initvar)
args <- commandArgs(TRUE)
networks <- if (length(args)) as.integer(args[1]) else 40
which_grid <- if (length(args) > 1) args[2] else "issue"
set.seed(20261203)
mk <- function(d_model, N, case) switch(case,
  "pre-LN" = transformer(d_model, 4, depth = N, seq_len = 8, norm = "pre"),
  "post-LN" = transformer(d_model, 4, depth = N, seq_len = 8, norm = "post"),
  "DeepNet" = transformer(d_model, 4, depth = N, seq_len = 8,
                          rule = scaling_rule("deepnet", N, architecture = "encoder")))
depths <- if (which_grid == "regime") c(2, 6, 12) else c(12, 100)
grid <- expand.grid(case = c("pre-LN", "post-LN", "DeepNet"), depth = depths,
                    d_model = c(64, 256), stringsAsFactors = FALSE)
if (which_grid == "small") grid <- grid[grid$d_model == 64, ]
rows <- list()
for (k in seq_len(nrow(grid))) {
  g <- grid[k, ]
  net <- mk(g$d_model, g$depth, g$case)
  t0 <- proc.time()[["elapsed"]]
  nn <- if (g$d_model > 64 || g$depth > 12) max(8, networks %/% 4) else networks
  rc <- attr(suppressMessages(predict_variance(net, regime = "mean_field")), "regime_check")
  sim <- suppressMessages(simulate_network(net, networks = nn, inputs = 64, threads = 1))
  df <- as.data.frame(sim)
  r <- df[df$quantity == "grad_s" & df$layer == 1, ]
  rows[[k]] <- data.frame(case = g$case, depth = g$depth, d_model = g$d_model, networks = nn,
    pred = signif(r$prediction, 4), sim = signif(r$estimate, 4), mcse = signif(r$mcse, 2),
    z = round((r$prediction - r$estimate) / r$mcse, 2),
    rel = round(r$prediction / r$estimate - 1, 4),
    rel_mcse = round(r$mcse / r$estimate, 4),
    est_error = round(rc$estimated_error, 3), inside = rc$inside,
    seconds = round(proc.time()[["elapsed"]] - t0, 1))
  print(rows[[k]], row.names = FALSE)
}
tab <- do.call(rbind, rows)
tab$p_holm <- signif(p.adjust(2 * pnorm(-abs(tab$z)), "holm"), 2)
tab$agree_0.99 <- tab$p_holm > 0.01
options(width = 200)
print(tab, row.names = FALSE)
