# Each scaling rule at depths 10 and 100 on resmlp(256, L, "relu", He/LeCun, m = 2):
# predicted vs simulated Var(x_L) / Var(x_0) (DeepNet: the sum before LN), 160 networks.
library(initvar)
set.seed(42)
out <- list()
for (L in c(10, 100)) for (nm in c("standard", "fixup", "skipinit", "rezero", "tfixup", "depth_mup", "deepnet")) {
  r <- scaling_rule(nm, L, branch_depth = 2)
  net <- resmlp(256, L, "relu", list(init_he(), init_lecun()), branch_depth = 2, rule = r)
  t0 <- proc.time()[[3]]
  s <- as.data.frame(simulate_network(net, networks = 160, inputs = 4, threads = 2))
  q <- if (nm == "deepnet") "s" else "z"
  row <- s[s$quantity == q & s$layer == L, ]
  g <- s[s$quantity == "grad_s" & s$layer == 1, ]
  out[[length(out) + 1]] <- data.frame(rule = nm, depth = L, quantity = q, predicted = row$prediction,
    simulated = row$estimate, mcse = row$mcse, p = row$p_value, needed = row$networks_needed,
    grad_pred = g$prediction, grad_sim = g$estimate, grad_mcse = g$mcse, sec = proc.time()[[3]] - t0)
  print(out[[length(out)]], digits = 5)
}
res <- do.call(rbind, out)

print(res, digits = 5)
