# A few optimizer steps from initialization (issue 26, part 2), in plain R:
# k = 1..10 steps of SGD or Adam on one fixed batch, recording per layer the
# mean square of the activations z^l at initialization and of their change
# z^l_t - z^l_0 after each step t. Internal: not exported yet (the planned
# interface is coordinate_check(steps = )); first_step() is its one-step
# special case (same draws, same numbers: tested).

# Bytes one network needs: the parameters (SGD: weights and gradients; Adam:
# also the two moments), and the passes over the batch (the activations at
# initialization kept for the differences, and one forward and backward).
# A width-4096 MLP with 64 hidden layers and Adam: 64 * 4096^2 parameters,
# times 4 copies of 8 bytes, is 34 GB.
train_steps_bytes <- function(net, batch, optimizer) {
  units <- net_units(net_layers(net))
  params <- sum(vapply(units, function(l) as.double(l$n_in) * l$n_out + l$n_out, 0))
  copies <- if (optimizer == "adam") 4 else 2
  8 * copies * params + first_step_bytes(net, batch) +
    8 * batch * sum(vapply(units, function(l) as.double(l$n_out), 0))
}

check_train_steps_memory <- function(net, batch, optimizer, limit = first_step_max_bytes) {
  need <- train_steps_bytes(net, batch, optimizer)
  if (need > limit) {
    abort(sprintf(paste0("one network would need about %s GB to train with %s ",
                         "(the limit is %s GB): use a smaller width, depth or `batch`."),
                  format(signif(need / 2^30, 3)), optimizer, format(signif(limit / 2^30, 3))))
  }
  invisible(need)
}

# One network, `steps` steps. Returns a d x (steps + 1) matrix: column 1 the
# mean square of z^l at initialization, column t + 1 that of z^l_t - z^l_0.
# The draws are first_step_one()'s, in the same order.
# `opt`, when given, holds per unit (weight matrix) the learning rates and
# Adam epsilons of its weights and its bias (`lr_w`, `lr_b`, `eps_w`,
# `eps_b`: what coordinate_check(parametrization = ) sets per parameter
# group); otherwise each unit takes its layer's `lr` and the one `eps`.
# steps = 0: the activations at initialization only.
train_steps_one <- function(net, lr, optimizer, batch, loss, var_x, eps, steps,
                            beta1 = 0.9, beta2 = 0.999, opt = NULL) {
  dr <- first_step_draw(net, batch, var_x)
  layers <- dr$layers; d <- dr$d; units <- dr$units; X <- dr$X; par <- dr$par
  fw0 <- net_forward_values(layers, par, X)
  nd <- layers[[d]]$n_out
  target <- NULL
  out <- matrix(0, d, steps + 1)
  out[, 1] <- vapply(fw0$z, function(z) mean(z^2), 0)
  if (is.null(opt)) {
    lu <- lr[unit_layer(layers)]
    opt <- list(lr_w = lu, lr_b = lu, eps_w = rep(eps, length(par)), eps_b = rep(eps, length(par)))
  }
  mom <- lapply(par, function(p) list(mW = 0 * p$W, mb = 0 * p$b, vW = 0 * p$W, vb = 0 * p$b))
  fw <- fw0
  for (t in seq_len(steps)) {
    zL <- fw$z[[d]]
    # the labels or targets are drawn once, at the first step, as in first_step_one()
    dz <- switch(loss,
      softmax = {
        m <- zL - apply(zL, 1, max)
        p <- exp(m) / rowSums(exp(m))
        if (is.null(target)) target <- sample.int(nd, batch, replace = TRUE)
        p[cbind(seq_len(batch), target)] <- p[cbind(seq_len(batch), target)] - 1
        p
      },
      linear = {
        if (is.null(target)) target <- matrix(stats::rnorm(batch * nd), batch, nd)
        target
      },
      mse = {
        if (is.null(target)) target <- matrix(stats::rnorm(batch * nd), batch, nd)
        zL - target
      }) / batch
    grads <- net_backward_values(layers, par, fw, dz)
    for (u in seq_along(par)) {
      if (optimizer == "sgd") {
        par[[u]]$W <- par[[u]]$W - opt$lr_w[u] * grads[[u]]$W
        par[[u]]$b <- par[[u]]$b - opt$lr_b[u] * grads[[u]]$b
      } else {
        s <- mom[[u]]
        s$mW <- beta1 * s$mW + (1 - beta1) * grads[[u]]$W
        s$mb <- beta1 * s$mb + (1 - beta1) * grads[[u]]$b
        s$vW <- beta2 * s$vW + (1 - beta2) * grads[[u]]$W^2
        s$vb <- beta2 * s$vb + (1 - beta2) * grads[[u]]$b^2
        c1 <- 1 - beta1^t
        c2 <- 1 - beta2^t
        par[[u]]$W <- par[[u]]$W - opt$lr_w[u] * (s$mW / c1) / (sqrt(s$vW / c2) + opt$eps_w[u])
        par[[u]]$b <- par[[u]]$b - opt$lr_b[u] * (s$mb / c1) / (sqrt(s$vb / c2) + opt$eps_b[u])
        mom[[u]] <- s
      }
    }
    fw <- net_forward_values(layers, par, X)
    out[, t + 1] <- vapply(seq_len(d), function(i) mean((fw$z[[i]] - fw0$z[[i]])^2), 0)
  }
  out
}

# `networks` networks: per layer and step, the RMS of the activations at
# initialization and of their change, with MCSE over networks (delta method
# on the mean square: se(rms) = se(ms) / (2 rms)). The last layer is the
# output. Inputs are the package's own (checked by the caller).
train_steps <- function(net, lr, optimizer = "sgd", batch = 32, networks = 20, steps = 3,
                        loss = "softmax", var_x = 1, eps = 1e-8, opt = NULL) {
  d <- length(net$widths) - 1
  lr <- rep_len(as.double(lr), d)
  check_train_steps_memory(net, batch, optimizer)
  per <- array(0, c(networks, d, steps + 1))
  for (j in seq_len(networks)) {
    per[j, , ] <- train_steps_one(net, lr, optimizer, batch, loss, var_x, eps, steps, opt = opt)
  }
  bad <- which(!is.finite(per), arr.ind = TRUE)
  if (nrow(bad)) {
    abort(sprintf(paste0("the activations of layer %d overflowed double precision in network %d ",
                         "(step %d): scale down `lr`, `var_x` or the weights."),
                  bad[1, 2], bad[1, 1], bad[1, 3] - 1))
  }
  rows <- lapply(0:steps, function(t) {
    ms <- matrix(per[, , t + 1], networks)
    m <- colMeans(ms)
    se <- apply(ms, 2, stats::sd) / sqrt(networks)
    rms <- sqrt(m)
    data.frame(layer = seq_len(d), step = t,
               quantity = if (t == 0) "z" else "dz",
               rms = rms, rms_mcse = ifelse(rms > 0, se / (2 * rms), 0))
  })
  structure(list(table = do.call(rbind, rows), per_network = per, networks = networks,
                 steps = steps, optimizer = optimizer,
                 bytes = train_steps_bytes(net, batch, optimizer)),
            class = "initvar_train_steps")
}
