# Width slopes of a few Adam steps (issue 26, part 2 measurement): muP built
# from parametrization("mup")'s factors against SP, with the internal
# train_steps(). Usage: Rscript tools/few-steps-slopes.R [networks] [seed]
# Prints per layer and step the fitted log-log slope of the RMS in width with
# its SE (weighted least squares on log RMS, SE of log RMS = MCSE / RMS).
library(initvar)
args <- commandArgs(TRUE)
networks <- if (length(args) >= 1) as.integer(args[1]) else 20
seed <- if (length(args) >= 2) as.integer(args[2]) else 1
widths <- c(32, 64, 128, 256)
base <- 32
n0 <- 16
eta <- 0.01
steps <- 3
build <- function(name, n, bug = "none") {
  p <- parametrization(if (name == "sp") "sp" else "mup", width = n, base_width = base)$table
  f <- function(g, col) p[[paste0(col, "_factor")]][p$group == g]
  # base variances at the base width: 1 / fan_in for input and hidden,
  # and the read-out's 1 / base^2 (muP) or 1 / fan_in (SP) rescaled by the factors
  v_in <- 1 / n0
  v_hid <- f("hidden", "init_var") / base
  v_out <- if (name == "sp") f("output", "init_var") / base else f("output", "init_var") / base^2
  if (bug == "readout") v_out <- 1 / (n * base)
  init <- list(init_normal(sd = sqrt(v_in)), init_normal(sd = sqrt(v_hid)),
               init_normal(sd = sqrt(v_out)))
  lr <- eta * c(f("input", "lr_adam"), f("hidden", "lr_adam"), f("output", "lr_adam"))
  if (bug == "hidden_lr") lr[2] <- eta
  list(net = mlp(c(n0, n, n, 10), c("relu", "relu", "linear"), init), lr = lr)
}
slopes <- function(name, bug = "none") {
  set.seed(seed)
  tabs <- lapply(widths, function(n) {
    b <- build(name, n, bug)
    t <- initvar:::train_steps(b$net, b$lr, "adam", batch = 32, networks = networks,
                                steps = steps, loss = "softmax")$table
    cbind(width = n, t)
  })
  all <- do.call(rbind, tabs)
  out <- do.call(rbind, lapply(split(all, list(all$layer, all$step)), function(s) {
    w <- (s$rms / s$rms_mcse)^2
    fit <- stats::lm(log(s$rms) ~ log(s$width), weights = w)
    se <- summary(fit)$coefficients[2, 2] / max(summary(fit)$sigma, 1)
    data.frame(param = name, bug = bug, layer = s$layer[1], step = s$step[1],
               slope = unname(stats::coef(fit)[2]), se = se)
  }))
  out[order(out$step, out$layer), ]
}
t0 <- proc.time()[["elapsed"]]
res <- rbind(slopes("mup"), slopes("sp"), slopes("mup", "readout"), slopes("mup", "hidden_lr"))
print(res, digits = 3, row.names = FALSE)
cat(sprintf("networks %d per width, widths %s, %d Adam steps, seed %d: %.1f s\n", networks,
            paste(widths, collapse = ","), steps, seed, proc.time()[["elapsed"]] - t0))
