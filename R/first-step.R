# One optimizer step from initialization, and the coordinate check.

#' One optimizer step at initialization
#'
#' Rules that zero a residual branch (Fixup, SkipInit, ReZero) make every
#' block the identity at initialization, so a check at initialization alone
#' proves nothing: their claims are about the gradient and the first update.
#' `first_step()` draws `networks` random networks from `net`'s
#' initialization and a batch of inputs for each, takes one step of SGD or
#' Adam on the batch's loss, and reports, layer by layer, how much the
#' activations of the same batch moved, with Monte Carlo standard errors
#' over networks (the unit of replication).
#'
#' @section The step: With \eqn{s^i = z^i W^i + b^i}, \eqn{z^{i+1} =
#'   f(s^i)} on a batch of \eqn{B} rows and the mean loss \eqn{C = \frac1B
#'   \sum_b \ell_b}, the gradients are \eqn{\partial C / \partial W^i =
#'   (z^i)^T G^i} and \eqn{\partial C / \partial b^i = 1^T G^i}, with
#'   \eqn{G^i = \partial C / \partial s^i} back-propagated as in
#'   [simulate_network()]. SGD moves every parameter by \eqn{-\eta\,
#'   \partial C / \partial \theta}; Adam's first step, whose moment
#'   estimates are \eqn{m = (1 - \beta_1) g} and \eqn{v = (1 - \beta_2)
#'   g^2} before bias correction and \eqn{g} and \eqn{g^2} after, moves it
#'   by \eqn{-\eta\, g / (|g| + \epsilon)}: almost \eqn{-\eta\,
#'   \mathrm{sign}(g)}, whatever \eqn{\beta_1, \beta_2}. `lr` may be one
#'   number or one per layer (muP's per-layer learning rates).
#'
#' @section Losses: `"softmax"`: the cross-entropy of the softmax of the
#'   output \eqn{z^d} with uniformly random labels. `"linear"`: \eqn{\ell_b
#'   = \langle g_b, z^d_b \rangle} with \eqn{g_b} iid standard normal, a
#'   random direction (the output gradient of [simulate_network()]'s
#'   default). `"mse"`: \eqn{\frac12 |z^d_b - y_b|^2} with \eqn{y_b} iid
#'   standard normal targets.
#'
#' @section What is reported: per layer \eqn{l}, the mean square of the
#'   activations at initialization, \eqn{E[\overline{(z^l)^2}]}, and of
#'   their change, \eqn{E[\overline{(\Delta z^l)^2}]} (averages over the
#'   batch and the layer's units, then over networks), their square roots
#'   (`rms_z`, `rms_dz`, by the delta method), and the relative change
#'   `rel_dz` \eqn{= \sqrt{E[\overline{(\Delta z)^2}] /
#'   E[\overline{z^2}]}}: `NA` (and its MCSE too) for a layer whose
#'   activations are exactly 0 at initialization (zero weights and biases),
#'   where it is undefined; exactly 0, with MCSE 0, where no network changes
#'   the layer at all. It runs in R (the products through the BLAS, the
#'   weights from [sample_weights()]), one network at a time.
#'
#' @param net A network from [mlp()], [resmlp()] or [transformer()] (then `batch` counts rows: whole sequences).
#' @param lr The learning rate: one positive number, or one per layer.
#' @param optimizer `"sgd"` or `"adam"`.
#' @param batch Examples per network (at least 1).
#' @param networks Number of random networks (at least 2).
#' @param loss `"softmax"`, `"linear"` or `"mse"`.
#' @param var_x Variance of the Gaussian inputs.
#' @param eps Adam's \eqn{\epsilon}.
#' @param level Level of the intervals.
#' @return An `initvar_first_step` object: a list with `table` (a data frame:
#'   `layer`, `n_out`, `ms_z`, `ms_z_mcse`, `ms_dz`, `ms_dz_mcse`, `rms_z`,
#'   `rms_dz`, `rms_dz_mcse`, `rel_dz`, `rel_dz_mcse`, `lower`, `upper`, the
#'   interval for `rms_dz`), and the settings; `as.data.frame()` returns
#'   the table.
#'
#'   Interrupted (Ctrl-C), the networks done are kept: the interrupt's
#'   `partial` field (and [last_partial()]) is the result for them
#'   (`networks` set to their number, `networks_requested` to the number
#'   asked for); with fewer than 2 done the condition has class
#'   `initvar_nothing_finished` and there is no partial result. An
#'   activation given as an R function that fails, or returns values of the
#'   wrong length or `NA`/`Inf` for finite inputs, is an error naming it.
#'   A `batch` whose matrices would take more than 16 GB is refused before
#'   anything is allocated.
#' @seealso [coordinate_check()] for the dependence on width.
#' @references Zhang, H., Dauphin, Y. N. and Ma, T. (2019). Fixup
#'   initialization: residual learning without normalization. ICLR.
#'   Yang, G. et al. (2021). Tuning large neural networks via zero-shot
#'   hyperparameter transfer (muP). NeurIPS.
#' @examples
#' set.seed(1)
#' net <- mlp(c(32, 64, 64, 10), c("relu", "relu", "linear"), init_he())
#' first_step(net, lr = 0.01, networks = 20, batch = 8)
#' first_step(net, lr = 0.001, optimizer = "adam", networks = 20, batch = 8)
#' @export
first_step <- function(net, lr, optimizer = c("sgd", "adam"), batch = 32, networks = 100,
                       loss = c("softmax", "linear", "mse"), var_x = 1, eps = 1e-8,
                       level = 0.95) {
  check_mlp(net)
  d <- length(net$widths) - 1
  if (!is.numeric(lr) || !(length(lr) %in% c(1, d))) {
    abort_arg("lr", sprintf("one positive number or one per layer (%d)", d), lr)
  }
  bad <- which(is.na(lr) | !is.finite(lr) | lr <= 0)
  if (length(bad)) {
    abort_arg(if (length(lr) == 1) "lr" else sprintf("lr[%d]", bad[1]), "a positive finite number",
              lr[bad[1]])
  }
  lr <- rep_len(as.double(lr), d)
  optimizer <- check_choice(optimizer, c("sgd", "adam"), "optimizer")
  loss <- check_choice(loss, c("softmax", "linear", "mse"), "loss")
  batch <- check_whole(batch, "batch", max = 1e6)
  check_sequence_batch(net, batch, "batch")
  networks <- check_whole(networks, "networks", min = 2, max = 1e7)
  check_number(var_x, min = 0)
  check_number(eps, min = 0)
  check_number(level, min = 0, max = 1, min_open = TRUE, max_open = TRUE)
  check_first_step_memory(net, batch)
  t0 <- proc.time()[["elapsed"]]
  per <- array(0, c(networks, d, 2), list(NULL, NULL, c("ms_z", "ms_dz")))
  done <- 0
  result <- function(n) {
    p <- per[seq_len(n), , , drop = FALSE]
    structure(list(table = first_step_table(p, net, level), net = net, lr = lr,
                   optimizer = optimizer, batch = batch, networks = n, loss = loss,
                   var_x = var_x, level = level, per_network = p,
                   seconds = proc.time()[["elapsed"]] - t0,
                   networks_requested = networks),
              class = "initvar_first_step")
  }
  # Ctrl-C: the networks done are a valid smaller run (each is drawn from
  # R's RNG in turn), re-signalled as the partial result
  interrupted <- tryCatch({
    for (j in seq_len(networks)) {
      per[j, , ] <- first_step_one(net, lr, optimizer, batch, loss, var_x, eps)
      done <- j
    }
    FALSE
  }, interrupt = function(e) TRUE)
  if (interrupted) {
    raise_interrupt(if (done >= 2) result(done),
                    sprintf("%d of the %d networks done, and a table needs 2", done, networks))
  }
  bad <- which(!is.finite(per), arr.ind = TRUE)
  if (nrow(bad)) {
    abort(sprintf(paste0("the %s of layer %d overflowed double precision in network %d: ",
                         "scale down `lr`, `var_x` or the weights."),
                  c("activations", "change of the activations")[bad[1, 3]], bad[1, 2], bad[1, 1]))
  }
  result(networks)
}

# Memory: a network's forward pass keeps, per layer, its input, f'(s) and
# f(s), the backward pass a gradient and the second forward pass f(s) again:
# about 5 batch x width matrices of doubles per unit. Refused (naming
# `batch`) above the 16 GiB of simulate_network()'s limit of 2^31 values
# per workspace, before anything is allocated.
first_step_bytes <- function(net, batch) {
  units <- net_units(net_layers(net))
  8 * batch * (net_input_width(net) + 5 * sum(vapply(units, function(l) as.double(l$n_out), 0)))
}
first_step_max_bytes <- 2^34

check_first_step_memory <- function(net, batch, arg = "batch") {
  need <- first_step_bytes(net, batch)
  if (need > first_step_max_bytes) {
    per_row <- first_step_bytes(net, 1)
    abort_arg(arg, sprintf(paste0(
      "at most %s for this network (one network's passes would take about %s GB; ",
      "the limit is %.0f GB)"), big_number(floor(first_step_max_bytes / per_row)),
      format(signif(need / 2^30, 3)), first_step_max_bytes / 2^30), batch)
  }
  invisible(need)
}

# f(s) or f'(s) of layer `layer`'s activation, checked: a numeric value per
# input, finite where the input is (an activation given as an R function
# can return anything; the table would be NA).
apply_activation <- function(a, S, layer, which = c("f", "df")) {
  fun <- if (which == "f") a$f else a$df
  Z <- tryCatch(fun(S), error = function(e) {
    abort(sprintf("`net`: the activation's %s (layer %d) failed: %s", which, layer,
                  conditionMessage(e)))
  })
  if (is.logical(Z) || is.integer(Z)) Z <- as.double(Z)
  if (!is.double(Z) || length(Z) != length(S)) {
    abort(sprintf(paste0("`net`: the activation's %s (layer %d) must return a numeric vector as ",
                         "long as its input (%.0f values), not one of type %s and length %.0f."),
                  which, layer, as.double(length(S)), typeof(Z), as.double(length(Z))))
  }
  bad <- which(!is.finite(Z) & is.finite(S))
  if (length(bad)) {
    abort(sprintf("`net`: the activation's %s (layer %d) returned %s for the finite input %s.",
                  which, layer, if (is.nan(Z[bad[1]])) "NaN" else if (is.na(Z[bad[1]])) "NA" else
                    "an infinite value", format(S[bad[1]], digits = 6)))
  }
  dim(Z) <- dim(S)
  Z
}

# One network's draws, in the order first_step_one() and train_steps_one()
# share: the batch X (batch x input width), then each unit's W and b.
first_step_draw <- function(net, batch, var_x) {
  layers <- net_layers(net)
  units <- net_units(layers)
  n0 <- net_input_width(net)
  X <- matrix(stats::rnorm(batch * n0, sd = sqrt(var_x)), batch, n0)
  par <- lapply(units, function(l) {
    # one thread: the draws do not depend on the number of threads, and a
    # network's matrices are small enough that starting threads costs more
    list(W = matrix(sample_weights(l$init, l$n_in, l$n_out, layout = "keras", threads = 1),
                    l$n_in, l$n_out),
         b = as.vector(sample_weights(l$bias, 1, l$n_out, layout = "keras", threads = 1)))
  })
  list(layers = layers, d = length(layers), units = units, X = X, par = par)
}

# One network: draw, forward, backward, step, forward again. Returns a d x 2
# matrix: the mean square of each layer's output z^l and of its change,
# over batch and units.
first_step_one <- function(net, lr, optimizer, batch, loss, var_x, eps) {
  dr <- first_step_draw(net, batch, var_x)
  layers <- dr$layers; d <- dr$d; units <- dr$units; X <- dr$X; par <- dr$par
  fw <- net_forward_values(layers, par, X)
  nd <- layers[[d]]$n_out
  zL <- fw$z[[d]]
  dz <- switch(loss,
    softmax = {
      m <- zL - apply(zL, 1, max)
      p <- exp(m) / rowSums(exp(m))
      y <- sample.int(nd, batch, replace = TRUE)
      p[cbind(seq_len(batch), y)] <- p[cbind(seq_len(batch), y)] - 1
      p
    },
    linear = matrix(stats::rnorm(batch * nd), batch, nd),
    mse = zL - matrix(stats::rnorm(batch * nd), batch, nd)) / batch
  grads <- net_backward_values(layers, par, fw, dz)
  lr_unit <- lr[unit_layer(layers)]
  new <- par
  for (u in seq_along(par)) {
    step <- function(g) {
      if (optimizer == "sgd") lr_unit[u] * g else lr_unit[u] * g / (abs(g) + eps)
    }
    new[[u]]$W <- par[[u]]$W - step(grads[[u]]$W)
    new[[u]]$b <- par[[u]]$b - step(grads[[u]]$b)
  }
  fw2 <- net_forward_values(layers, new, X)
  cbind(vapply(fw$z, function(z) mean(z^2), 0),
        vapply(seq_len(d), function(i) mean((fw2$z[[i]] - fw$z[[i]])^2), 0))
}

# The dense units (weight matrices) of a network's layers, in order: a
# dense layer is one unit, a residual block its branch's units.
net_units <- function(layers) {
  unlist(lapply(layers, function(l) if (l$kind == "dense") list(l) else l$branch),
         recursive = FALSE)
}
unit_layer <- function(layers) {
  rep(seq_along(layers), vapply(layers, function(l) if (l$kind == "dense") 1L else
    length(l$branch), 0L))
}

# Parameter-free layer normalization over the units of each row, and its
# backward pass (dY the gradient of the output y, r the rows' RMS).
ln_forward <- function(X) {
  C <- X - rowMeans(X)
  r <- sqrt(rowMeans(C^2))
  list(y = C / r, r = r)
}
ln_backward <- function(dY, y, r) (dY - rowMeans(dY) - y * rowMeans(dY * y)) / r

# Plain-R forward and backward passes of a network's layers with given
# weights per unit (row vectors: s = z W + b, z = f(s); residual blocks
# skip x + alpha F(x) with their normalization): the machinery of
# first_step(), and a reference independent of the C engine.
net_forward_values <- function(layers, par, X) {
  d <- length(layers)
  z <- st <- vector("list", d)
  # an encoder-decoder's X is source | target (R/net-transformer.R)
  n0 <- layers[[1]]$n_in
  Z <- X[, seq_len(n0), drop = FALSE]
  mem <- NULL
  u <- 0
  bmat <- function(b, n) matrix(b, n, length(b), byrow = TRUE)
  for (i in seq_len(d)) {
    l <- layers[[i]]
    if (isTRUE(l$decoder_start)) {
      mem <- Z
      Z <- X[, n0 + seq_len(n0), drop = FALSE]
    }
    if (l$kind == "dense") {
      u <- u + 1
      S <- Z %*% par[[u]]$W + bmat(par[[u]]$b, nrow(Z))
      st[[i]] <- list(u = u, input = Z, D = apply_activation(l$activation, S, i, "df"))
      Z <- apply_activation(l$activation, S, i, "f")
    } else if (l$kind == "attention") {
      # transformer attention sublayers: R/net-transformer.R
      us <- u + seq_along(l$branch)
      u <- u + length(l$branch)
      r <- attention_forward_values(l, par[us], Z, mem)
      st[[i]] <- c(r$st, list(units = us))
      Z <- r$z
    } else {
      x <- Z
      pre <- if (l$norm == "pre") ln_forward(x)
      inp <- if (l$norm == "pre") pre$y else x
      us <- integer()
      ins <- D <- list()
      for (k in seq_along(l$branch)) {
        u <- u + 1
        a <- l$branch[[k]]$activation
        ins[[k]] <- inp
        t <- inp %*% par[[u]]$W + bmat(par[[u]]$b, nrow(inp))
        D[[k]] <- apply_activation(a, t, i, "df")
        inp <- apply_activation(a, t, i, "f")
        us <- c(us, u)
      }
      H <- l$skip * x + l$alpha * inp
      post <- if (l$norm == "post") ln_forward(H)
      Z <- if (l$norm == "post") post$y else H
      st[[i]] <- list(units = us, ins = ins, D = D, pre = pre, post = post)
    }
    z[[i]] <- Z
  }
  list(z = z, st = st)
}

# Gradients of the loss, given dC/dz^d = dz: a list of (W, b) per unit.
net_backward_values <- function(layers, par, fw, dz) {
  grads <- vector("list", length(par))
  gmem <- 0
  for (i in rev(seq_along(layers))) {
    l <- layers[[i]]
    s <- fw$st[[i]]
    if (l$kind == "dense") {
      g <- dz * s$D
      grads[[s$u]] <- list(W = crossprod(s$input, g), b = colSums(g))
      dz <- tcrossprod(g, par[[s$u]]$W)
    } else if (l$kind == "attention") {
      r <- attention_backward_values(l, par[s$units], s, dz)
      grads[s$units] <- r$grads
      dz <- r$dx
      if (isTRUE(l$cross)) gmem <- gmem + r$dmem
      if (isTRUE(l$decoder_start)) dz <- gmem     # the encoder's output gradient
    } else {
      dH <- if (l$norm == "post") ln_backward(dz, s$post$y, s$post$r) else dz
      cur <- l$alpha * dH
      for (k in rev(seq_along(s$units))) {
        g <- cur * s$D[[k]]
        grads[[s$units[k]]] <- list(W = crossprod(s$ins[[k]], g), b = colSums(g))
        cur <- tcrossprod(g, par[[s$units[k]]]$W)
      }
      if (l$norm == "pre") cur <- ln_backward(cur, s$pre$y, s$pre$r)
      dz <- l$skip * dH + cur
    }
  }
  grads
}

first_step_table <- function(per, net, level) {
  J <- dim(per)[1]
  d <- dim(per)[2]
  mz <- colMeans(matrix(per[, , 1], J))
  mdz <- colMeans(matrix(per[, , 2], J))
  sz <- apply(matrix(per[, , 1], J), 2, stats::sd) / sqrt(J)
  sdz <- apply(matrix(per[, , 2], J), 2, stats::sd) / sqrt(J)
  # relative change: sqrt(mdz / mz), delta method on the network means.
  # Undefined (NA) where the activations are exactly 0 at initialization
  # (mz = 0: zero weights and biases); exactly 0 with no Monte Carlo error
  # where no network changed them at all (mdz = 0, every ms_dz 0).
  rel <- ifelse(mz > 0, sqrt(mdz / mz), NA_real_)
  cv <- vapply(seq_len(d), function(i) {
    if (!(mz[i] > 0)) return(NA_real_)
    if (mdz[i] == 0) return(0)
    S <- stats::cov(cbind(per[, i, 1], per[, i, 2])) / J
    g <- c(-mdz[i] / mz[i]^2, 1 / mz[i]) / (2 * rel[i])
    sqrt(max(drop(crossprod(g, S %*% g)), 0))
  }, 0)
  rms_dz <- sqrt(mdz)
  rms_mcse <- ifelse(rms_dz > 0, sdz / (2 * rms_dz), 0)
  ag <- agreement(log(pmax(mdz, .Machine$double.xmin)), ifelse(mdz > 0, sdz / mdz, 0), NA,
                  df = J - 1, interval_level = level)
  data.frame(layer = seq_len(d), n_out = net$widths[-1], ms_z = mz, ms_z_mcse = sz,
             ms_dz = mdz, ms_dz_mcse = sdz, rms_z = sqrt(mz),
             rms_dz = rms_dz, rms_dz_mcse = rms_mcse, rel_dz = rel, rel_dz_mcse = cv,
             lower = ifelse(mdz > 0, sqrt(exp(ag$lower)), 0),
             upper = ifelse(mdz > 0, sqrt(exp(ag$upper)), 0))
}

#' @export
as.data.frame.initvar_first_step <- function(x, row.names = NULL, optional = FALSE, ...) {
  x$table
}

#' @export
print.initvar_first_step <- function(x, digits = 3, ...) {
  cat(sprintf("<initvar first step> %s, lr %s, %s loss; %d networks x %d examples; %.1f s\n",
              x$optimizer, paste(unique(format(x$lr, digits = 3)), collapse = "/"), x$loss,
              x$networks, x$batch, x$seconds))
  if (!is.null(x$networks_requested) && x$networks < x$networks_requested) {
    cat(sprintf("  partial result: interrupted after %d of %d networks\n", x$networks,
                x$networks_requested))
  }
  t <- x$table
  f <- function(v) formatC(v, digits = digits, format = "g")
  print(data.frame(layer = t$layer, n_out = t$n_out, rms_z = f(t$rms_z), rms_dz = f(t$rms_dz),
                   mcse = formatC(t$rms_dz_mcse, digits = 2, format = "g"),
                   rel_dz = f(t$rel_dz)), row.names = FALSE)
  undefined <- t$layer[is.na(t$rel_dz)]
  if (length(undefined)) {
    cat(sprintf("  rel_dz NA: the activations of layer%s %s are exactly 0 at initialization, so their relative change is undefined\n",
                if (length(undefined) > 1) "s" else "", paste(undefined, collapse = ", ")))
  }
  invisible(x)
}

#' A coordinate check with a null hypothesis
#'
#' The "coordinate check" of muP (Yang et al. 2021) plots the typical size
#' of a layer's activations against width and asks whether the curve is
#' flat. `coordinate_check()` measures it with Monte Carlo standard errors
#' at each width and tests the slope of \eqn{\log} RMS on \eqn{\log}
#' width against the slope a parametrization predicts, so that "not
#' horizontal: bug?" gets a calibrated answer.
#'
#' @section Predicted slopes: Exact at every width (so the test is
#'   calibrated): at initialization, with zero-mean Gaussian weights, zero
#'   biases, positively homogeneous activations and fan-in scaling (LeCun,
#'   He), \eqn{E[(z^l)^2]} does not depend on the widths at all (see
#'   [network_norms()]): slope 0 for every layer. muP's output layer
#'   (variance \eqn{1/n^2} on a fan-in of \eqn{n}) gives output logits with
#'   \eqn{E[s^2] = E[z^2] / n} exactly: slope \eqn{-1/2}.
#'
#'   Asymptotic (the limit of the local slope as the widths grow): after
#'   one step of Adam with a width-independent learning rate (the standard
#'   parametrization), the change of a hidden layer's pre-activations
#'   \eqn{\Delta s_k = \sum_l z_l \Delta W_{lk}} has a coherent part, \eqn{n}
#'   terms aligned through the update's sign pattern (\eqn{\Delta W_{lk}
#'   \approx -\eta\, \mathrm{sign}(z_l g_k)}), of order \eqn{n}, and an
#'   incoherent part of order \eqn{n^{1/2}}: the local slope rises from
#'   about \eqn{1/2} towards 1 (0.79 over widths 32 to 256 for a 16-n-n-10
#'   ReLU network). muP's hidden learning rate \eqn{\eta / n} makes the
#'   limit 0. A test of an asymptotic slope at finite widths rejects a
#'   correct theory once the MCSE is small enough: use it on a range of
#'   widths where the local slope has converged, or compare two
#'   parametrizations' slopes.
#'
#' @section The test: per width, the log of the mean square (of \eqn{z} at
#'   initialization, or of \eqn{\Delta z} after [first_step()]) and its
#'   MCSE (delta method, networks the unit); the slope of \eqn{\frac12}
#'   log mean square on \eqn{\log n} by weighted least squares, with its
#'   standard error; a two-sided z test of slope = `slope`, and the
#'   verdict through the package's agreement rule at level 0.99. The
#'   widths are independent, so the slope's standard error is exact up to
#'   the normal approximation of each width's estimate; with too few
#'   networks (fewer than 20 per width) it refuses.
#'
#' @section Parametrizations (how one plugs in): With `parametrization`
#'   (a name, or a [parametrization()] object, perhaps an edited one such
#'   as [mup_bugs()] makes), `net_fun` builds the *base* network's
#'   settings at any width: its schemes, its residual `alpha` and its
#'   attention `scale` are read from `net_fun(base_width)` (as
#'   microsoft/mup's base shapes), and the parametrization's factors at
#'   \eqn{m_N = n / n_0}, \eqn{m_L = L / L_0} are applied per parameter
#'   group, so nothing is hand-built per width. The groups are assigned by
#'   role: the first matrix is `input` when its fan-in does not grow with
#'   the width, the last `output` when its fan-out does not, each attention
#'   sublayer's \eqn{W_Q} `query`, every other matrix `hidden` (a rule
#'   table is written by role; a hidden matrix one of whose dimensions is
#'   held fixed is then scaled wrongly, which is the `dff_fixed` bug of
#'   [mup_bugs()]). Each unit's weights are drawn Gaussian with variance
#'   \eqn{v_0 f_{var} c^2} (\eqn{v_0} the base scheme's variance at the
#'   base net's fans, \eqn{c} the group's multiplier, absorbed into the
#'   weight), trained with learning rate \eqn{\eta f_{lr} c^2} (SGD) or
#'   \eqn{\eta f_{lr} c} (Adam) and \eqn{\epsilon f_{\epsilon} / c}: the
#'   same training as a parameter with multiplier \eqn{c}. \eqn{\eta} is
#'   `lr_fun(width)`, the base learning rate (one number or one per layer),
#'   \eqn{\epsilon} the `eps` of `...`; biases keep their scheme and take
#'   the bias group's learning rate and \eqn{\epsilon}; residual and
#'   attention sublayers' `alpha` is multiplied by the branch factor
#'   \eqn{m_L^{-\alpha}}, attention's logit scale by \eqn{(d_k /
#'   d_{k,0})^{e}} (\eqn{e = -1} in muP, \eqn{-1/2} in SP). The read-out
#'   and query are drawn, not zero, whatever the table's `zero` column says,
#'   so that the initialization slopes can be tested (give [init_zeros()]
#'   in `net_fun` to start them at 0). Networks from [mlp()], [resmlp()]
#'   and [transformer()] (encoder or decoder; not encoder-decoders, and not
#'   [cnn()]) are trained, in plain R, by the engine of `steps`.
#'
#' @section Predicted slopes with a parametrization: Unless `slope` is
#'   given (then every row is tested against it, exactly), the
#'   parametrization named by the object's `name` predicts (its pristine
#'   table's claims: an edited table is applied as edited and tested
#'   against the claims of the parametrization it names), in a width
#'   sweep: at initialization, slope
#'   \eqn{(1 + e_{out})/2} for the read-out's logits (\eqn{e_{out}} its
#'   variance exponent plus twice its multiplier's: \eqn{-1/2} in muP, 0
#'   in SP and NTK, since \eqn{E[s^2] = n\, v\, E[z^2]}) and 0 for every
#'   other layer (hidden variance exponent \eqn{-1}, fan-in \eqn{n});
#'   exact when every layer is dense or residual with positively
#'   homogeneous activations and zero biases (then \eqn{E[z^2]} does not
#'   depend on the widths at all), asymptotic otherwise (transformers).
#'   After each of the `steps` steps (muP and the depth family): slope 0
#'   for the change of every layer, asymptotic (the maximal-update claim:
#'   \eqn{\Theta(1)} feature updates); SP and NTK predict no slope there
#'   (reported, not tested). The attention logits (`what = "logits"`):
#'   \eqn{E[(c\, q^\top k)^2] = c^2 d_k (n v_Q E[a^2]) (n v_K E[a^2])}
#'   exactly (\eqn{W_Q, W_K} zero-mean and independent of the sublayer's
#'   input \eqn{a}, whose mean square is 1 after a layer normalization),
#'   so with \eqn{c \propto d_k^{e}} and \eqn{d_k} proportional to the
#'   width (heads fixed) the RMS has slope \eqn{e + 1/2}: \eqn{-1/2} in
#'   muP, 0 with SP's \eqn{1/\sqrt{d_k}}; exact with zero biases (0 when
#'   \eqn{d_k} is fixed). In a depth sweep (depth family only): slope 0
#'   for the change of the output (`layer = "output"`) after each step,
#'   asymptotic (the depthwise claim: a \eqn{\Theta(1)} total update from
#'   \eqn{L} blocks moving \eqn{\Theta(1/L)} each); at initialization the
#'   output's mean square is about \eqn{(1 + c L_0^{2\alpha} /
#'   L^{2\alpha})^L}, not a power of \eqn{L}, and is not tested.
#'
#' @section Exact and asymptotic tests, and the verdict: An exact slope
#'   gets the two-sided z test above. An asymptotic one (a limit the local
#'   slope reaches only as the sizes grow) is tested as \eqn{|b - b_0| <
#'   \delta}: the p-value of \eqn{H_0: |b - b_0| \le \delta} is
#'   \eqn{P(Z > (|\hat b - b_0| - \delta) / se)}, so a correct
#'   parametrization whose finite-size slope is within `delta` is flagged
#'   at most at the level. The defaults, 0.25 in width and 0.35 in depth,
#'   are set from measurements at the default sizes: muP's MLP slopes
#'   after 3 Adam steps are within 0.05 of 0 at widths 32 to 256 (a
#'   one-block transformer's within 0.16), CompleteP's output change
#'   within 0.21 of 0 at depths 2 to 16 with \eqn{\epsilon = 10^{-8}} and
#'   within 0.27 with \eqn{\epsilon = 0.01}; the bugs of [mup_bugs()] are
#'   0.5 to 2.4 away. The family-wise verdict is Holm's over every tested layer and
#'   step at level \eqn{1 - 0.99}: `attr(, "verdict")` is `TRUE` when no
#'   test rejects.
#'
#' @section Default sizes: The check of [mup_bugs()] and of the benchmark
#'   (`bench/coordinate-check.R`): widths 32, 64, 128, 256 (base 32) for
#'   width sweeps; depths 2, 4, 8, 16 at width 64 (base depth 2) for depth
#'   sweeps; `networks = 20` per size; `steps = 3` Adam steps with base
#'   learning rate 0.01; `batch = 32` (16 for transformers, two sequences
#'   of 8 tokens). Measured (`bench/coordinate-check.R`, one core, load 5
#'   on 2 cores): the MLP width check (16-n-n-10 ReLU, 3 layers, 3 steps)
#'   1.3 s, at initialization 0.2 s; the residual MLP depth sweep 2.8 s; a
#'   one-block transformer's width sweep 5.3 s after 3 steps, 0.7 s for its
#'   attention logits.
#'
#' @param net_fun A function of one width returning a network from [mlp()]
#'   (and, with `parametrization` or `depths`, [resmlp()] or
#'   [transformer()]); with `depths`, a function of the width and the depth.
#' @param widths At least 3 widths; with `depths` of 2 or more values, one
#'   width.
#' @param layer The layer to measure (1-based, as in [mlp()]); with
#'   `parametrization` or `depths`, several layers, or `"output"` (the last
#'   layer, whatever the depth).
#' @param what `"init"`: the activations at initialization; `"first_step"`:
#'   their change after one optimizer step (after each of `steps` steps with
#'   `parametrization` or `depths`); `"logits"` (with `parametrization` or
#'   `depths`): the attention logits \eqn{c\, q^\top k} of attention
#'   sublayers `layer` at initialization, over the pairs of positions the
#'   mask allows.
#' @param slope The predicted slope of log RMS on log width (or depth);
#'   with `parametrization`, leave it out to test the parametrization's own
#'   predictions, or give one per tested layer and step.
#' @param parametrization `NULL`, a name (`"sp"`, `"ntk"`, `"mup"`,
#'   `"depth_mup"`, `"completep"`) or a [parametrization()] object (see
#'   "Parametrizations").
#' @param depths `NULL`, or depths for `net_fun(width, depth)`: one depth
#'   (a width sweep at that depth) or at least 3 (a depth sweep at one
#'   width).
#' @param base_width,base_depth The base shape of the parametrization's
#'   factors (default: the smallest width and depth).
#' @param delta The tolerance of the asymptotic tests (see "Exact and
#'   asymptotic tests"): one number, or two, for width and depth sweeps
#'   (default 0.25 and 0.35).
#' @param lr_fun For `what = "first_step"`: a function of the width returning
#'   the learning rate (one number or one per layer).
#' @param networks Networks per width (at least 20).
#' @param steps For `what = "first_step"`: the number of optimizer steps
#'   (1 to 10) after which the change of the activations is measured; 1 is
#'   [first_step()]. With more than one step the network trains on one fixed
#'   batch (labels or targets drawn once), Adam with
#'   \eqn{\beta = (0.9, 0.999)} and bias correction, in plain R
#'   (`optimizer`, `batch`, `loss`, `var_x`, `eps` taken from `...`).
#' @param ... Passed to [first_step()] (`optimizer`, `batch`, `loss`, ...).
#' @return A data frame per width (`width`, `rms`, `log_ms`, `se`), with
#'   attributes `slope` (estimate, se, predicted, z, p_value, consistent).
#'   With `parametrization` or `depths`: one row per size, layer and step
#'   (`width`, `depth`, `layer`, `step`, `rms`, `log_ms`, `se`), `slope`
#'   one row per layer and step (`layer`, `step`, `quantity`, `estimate`,
#'   `se`, `predicted`, `kind` ("exact", "asymptotic" or "none"), `delta`,
#'   `z`, `p_value`, `p_holm`, `consistent`), `verdict`, `sweep`, `groups`
#'   (each unit's parameter group) and `parametrization`.
#'   `print()` shows both. Interrupted (Ctrl-C), the widths finished are
#'   kept: the interrupt's `partial` field (and [last_partial()]) is the
#'   result for them (the slope `NA` with fewer than 2), with the
#'   [first_step()] partial of the width in progress in
#'   `attr(, "in_progress")` and the widths asked for in
#'   `attr(, "widths_requested")`.
#' @examples
#' set.seed(1)
#' he <- function(n) mlp(c(16, n, n, 10), c("relu", "relu", "linear"), init_he())
#' coordinate_check(he, widths = c(32, 64, 128), layer = 2, networks = 30)
#' # muP from its table: base net at width 32 (read-out variance 1/32^2)
#' base <- function(n) mlp(c(16, n, n, 10), c("relu", "relu", "linear"),
#'                         list(init_lecun(), init_he(), init_normal(sd = 1 / 32)))
#' cc <- coordinate_check(base, widths = c(32, 64, 128), layer = 1:3, what = "first_step",
#'                        steps = 2, parametrization = "mup", networks = 20,
#'                        optimizer = "adam", batch = 8)
#' attr(cc, "slope")[, c("layer", "step", "estimate", "se", "consistent")]
#' attr(cc, "verdict")
#' @export
coordinate_check <- function(net_fun, widths, layer, what = c("init", "first_step", "logits"), slope = 0,
                             lr_fun = function(width) 0.01, networks = 50, steps = 1, ...,
                             parametrization = NULL, depths = NULL, base_width = NULL,
                             base_depth = NULL, delta = c(width = 0.25, depth = 0.35)) {
  if (missing(net_fun)) {
    abort("`net_fun` is missing: give a function of one width returning `mlp()`, such as `function(n) mlp(c(16, n, n, 1), \"relu\")`.")
  }
  if (missing(widths)) abort("`widths` is missing: give at least 3 widths, such as c(64, 128, 256).")
  if (missing(layer)) abort("`layer` is missing: give the layer to measure (1-based, as in `mlp()`).")
  if (!is.function(net_fun)) abort_arg("net_fun", "a function of the width returning `mlp()`", net_fun)
  if (!is.numeric(widths) || length(widths) < (if (is.null(depths)) 3 else 1) ||
      anyNA(widths) || any(widths < 1) || any(widths > max_width) ||
      any(widths != round(widths)) || anyDuplicated(widths)) {
    abort_arg("widths", if (is.null(depths)) "at least 3 distinct positive whole numbers" else
      "distinct positive whole numbers (one for a depth sweep)", widths)
  }
  what <- check_choice(what, c("init", "first_step", "logits"), "what")
  if (what == "logits" && is.null(parametrization) && is.null(depths)) {
    abort("`what = \"logits\"` needs `parametrization` (or `depths`): the attention logits are measured by the sweep.")
  }
  if (!is.numeric(slope) || length(slope) < 1 || anyNA(slope) || any(!is.finite(slope))) {
    abort_arg("slope", "a finite number (or one per tested layer and step)", slope)
  }
  if (length(slope) > 1 && is.null(parametrization) && is.null(depths)) check_number(slope)
  networks <- check_whole(networks, "networks", min = 20, max = 1e6)
  if (!is.function(lr_fun)) abort_arg("lr_fun", "a function of the width", lr_fun)
  steps <- check_whole(steps, "steps", max = 10)
  if (steps > 1 && what == "init") {
    # (with a parametrization too: the activations at initialization take no step)
    abort("`steps` must be 1 with `what = \"init\"` (the activations at initialization take no step).")
  }
  if (!is.numeric(delta) || !(length(delta) %in% 1:2) || anyNA(delta) ||
      any(!is.finite(delta)) || any(delta <= 0)) {
    abort_arg("delta", "one or two positive finite numbers (width and depth sweeps)", delta)
  }
  for (a in c("base_width", "base_depth")) {
    v <- get(a)
    if (!is.null(v)) {
      check_number(v, a, min = 1, max = 1e15)
      if (is.null(parametrization)) abort(sprintf("`%s` needs `parametrization`: the base shape is the parametrization's.", a))
    }
  }
  sweep <- !is.null(parametrization) || !is.null(depths)
  if (sweep) {
    return(coordinate_check_sweep(net_fun, widths, layer, what, slope, !missing(slope), lr_fun,
                                  networks, steps, list(...), parametrization, depths, base_width,
                                  base_depth, delta))
  }
  # every network first, so that a bad `net_fun`, `layer` or `batch` at the
  # last width is refused before any width runs
  dots <- list(...)
  if (steps > 1) dots <- check_steps_dots(dots)
  if (!takes_one_argument(net_fun)) {
    abort(sprintf("`net_fun` must be a function of one argument (the width) returning `mlp()`, not %s.",
                  function_arguments(net_fun)))
  }
  if (!takes_one_argument(lr_fun)) {
    abort(sprintf("`lr_fun` must be a function of one argument (the width), not %s.",
                  function_arguments(lr_fun)))
  }
  nets <- lapply(widths, function(n) {
    net <- tryCatch(net_fun(n), error = function(e) {
      abort(sprintf("`net_fun` failed at width %g: `net_fun(%g)` gives the error \"%s\"",
                    n, n, conditionMessage(e)))
    })
    if (!inherits(net, "initvar_mlp") || !is.null(network_problem(net))) {
      abort(sprintf("`net_fun(%g)` must return a network from `mlp()`, not %s.", n, describe(net)))
    }
    d <- length(net$widths) - 1
    check_whole(layer, "layer", max = d)
    batch <- if (is.null(dots$batch)) formals(first_step)$batch else dots$batch
    if (is.numeric(batch) && length(batch) == 1 && isTRUE(batch >= 1)) {
      check_first_step_memory(net, batch)
    }
    net
  })
  k <- if (what == "init") 1 else 2
  row <- function(n, fs) {
    v <- fs$per_network[, layer, k]
    m <- mean(v)
    data.frame(width = n, rms = sqrt(m), log_ms = log(m),
               se = stats::sd(v) / sqrt(length(v)) / m)
  }
  rows <- list()
  # Ctrl-C: the widths finished are kept, and the first_step() partial of
  # the width in progress
  in_progress <- NULL
  interrupted <- tryCatch({
    for (i in seq_along(widths)) {
      n <- widths[i]
      lr <- tryCatch(lr_fun(n), error = function(e) {
        abort(sprintf("`lr_fun` failed at width %g: `lr_fun(%g)` gives the error \"%s\"",
                      n, n, conditionMessage(e)))
      })
      fs <- if (steps == 1) {
        tryCatch(first_step(nets[[i]], lr = lr, networks = networks, ...),
                 initvar_interrupt = function(e) e)
      } else {
        check_steps_lr(lr, length(nets[[i]]$widths) - 1)
        ts <- do.call(train_steps, c(list(nets[[i]], lr, networks = networks, steps = steps), dots))
        list(per_network = ts$per_network[, , c(1, steps + 1), drop = FALSE])
      }
      if (inherits(fs, "initvar_interrupt")) {
        in_progress <- fs$partial
        break
      }
      rows[[i]] <- row(n, fs)
    }
    length(rows) < length(widths)
  }, interrupt = function(e) TRUE)
  if (interrupted) {
    if (length(rows) == 0 && is.null(in_progress)) {
      raise_interrupt(NULL, sprintf("no width done of %s", paste(widths, collapse = ", ")))
    }
    out <- coordinate_check_result(rows, slope, what)
    attr(out, "in_progress") <- in_progress
    attr(out, "widths_requested") <- widths
    raise_interrupt(out)
  }
  coordinate_check_result(rows, slope, what)
}

# coordinate_check(steps > 1): the arguments of `...` train_steps() takes,
# checked as first_step() checks them.
check_steps_dots <- function(dots) {
  ok <- c("optimizer", "batch", "loss", "var_x", "eps")
  bad <- setdiff(names(dots), ok)
  if (length(dots) && (is.null(names(dots)) || any(!nzchar(names(dots))) || length(bad))) {
    abort(sprintf("With `steps` > 1, `...` takes only %s, not %s.",
                  paste0("`", ok, "`", collapse = ", "),
                  if (length(bad)) paste0("`", bad[1], "`") else "an unnamed argument"))
  }
  if (!is.null(dots$optimizer)) dots$optimizer <- check_choice(dots$optimizer, c("sgd", "adam"), "optimizer")
  if (!is.null(dots$loss)) dots$loss <- check_choice(dots$loss, c("softmax", "linear", "mse"), "loss")
  if (!is.null(dots$batch)) dots$batch <- check_whole(dots$batch, "batch", max = 1e6)
  if (!is.null(dots$var_x)) dots$var_x <- check_number(dots$var_x, "var_x", min = 0)
  if (!is.null(dots$eps)) dots$eps <- check_number(dots$eps, "eps", min = 0)
  dots
}

check_steps_lr <- function(lr, d) {
  if (!is.numeric(lr) || !(length(lr) %in% c(1, d)) || anyNA(lr) || any(!is.finite(lr)) ||
      any(lr <= 0)) {
    abort(sprintf("`lr_fun` must return one positive finite number or one per layer (%d), not %s.",
                  d, describe(lr)))
  }
  invisible(lr)
}

# The table and slope test of coordinate_check() for the widths in `rows`
# (fewer than the widths asked for in a partial result: with fewer than 2
# the slope is NA).
coordinate_check_result <- function(rows, slope, what) {
  out <- if (length(rows)) do.call(rbind, rows) else
    data.frame(width = numeric(), rms = numeric(), log_ms = numeric(), se = numeric())
  x <- log(out$width)
  y <- out$log_ms / 2
  w <- 1 / (out$se / 2)^2
  if (any(!is.finite(w))) abort("The activations measured are 0 (or constant) at some width: no slope.")
  if (nrow(out) >= 2) {
    xb <- sum(w * x) / sum(w)
    b <- sum(w * (x - xb) * (y - sum(w * y) / sum(w))) / sum(w * (x - xb)^2)
    se <- sqrt(1 / sum(w * (x - xb)^2))
    ag <- agreement(b, se, slope)
  } else {
    b <- se <- NA_real_
    ag <- list(z = NA_real_, p_value = NA_real_, consistent = NA)
  }
  attr(out, "slope") <- data.frame(estimate = b, se = se, predicted = slope, z = ag$z,
                                   p_value = ag$p_value, consistent = ag$consistent)
  attr(out, "what") <- what
  class(out) <- c("initvar_coordinate_check", "data.frame")
  out
}

#' @export
print.initvar_coordinate_check <- function(x, ...) {
  if (!is.null(attr(x, "sweep"))) return(print_cc_sweep(x))
  s <- attr(x, "slope")
  cat(sprintf("<initvar coordinate check> %s, RMS by width\n",
              if (identical(attr(x, "what"), "init")) "activations at initialization" else
                "change of the activations after one step"))
  print(data.frame(width = x$width, rms = format(x$rms, digits = 4),
                   se_log = format(x$se / 2, digits = 2)), row.names = FALSE)
  req <- attr(x, "widths_requested")
  if (!is.null(req)) {
    ip <- attr(x, "in_progress")
    cat(sprintf("partial result: interrupted after %d of %d widths%s\n", nrow(x), length(req),
                if (is.null(ip)) "" else sprintf(" (%d networks of the next, in attr(, \"in_progress\"))",
                                                 ip$networks)))
  }
  if (is.na(s$estimate)) {
    cat("slope of log RMS on log width: not enough widths\n")
  } else {
    cat(sprintf("slope of log RMS on log width: %.3f (se %.3f), predicted %s:\n  z = %.2f, %s at level %s\n",
                s$estimate, s$se, format(s$predicted), s$z,
                if (isTRUE(s$consistent)) "consistent" else "NOT consistent", format(verdict_level)))
  }
  invisible(x)
}

#' @describeIn first_step Draw each layer's relative change after the step,
#'   `rms(dz) / rms(z)`, with +- 2 MCSE: the picture of "how much did one
#'   step move each layer". Returns the data drawn, invisibly.
#' @param x A `first_step()` result.
#' @param main Title; a sensible one by default.
#' @param ... Further graphical parameters for [graphics::plot()].
#' @export
plot.initvar_first_step <- function(x, main = NULL, ...) {
  t <- as.data.frame(x)
  if (is.null(main)) {
    lr <- unique(x$lr)
    main <- sprintf("One %s step (lr = %s): how much each layer moves", x$optimizer[1],
                    if (length(lr) == 1) format(lr, digits = 3) else "per layer")
  }
  ok <- is.finite(t$rel_dz) & t$rel_dz > 0
  lo <- t$rel_dz - 2 * t$rel_dz_mcse
  lo <- ifelse(is.finite(lo) & lo > 0, lo, NA)
  hi <- ifelse(is.finite(t$rel_dz_mcse), t$rel_dz + 2 * t$rel_dz_mcse, NA)
  yr <- range(c(t$rel_dz[ok], lo, hi), na.rm = TRUE, finite = TRUE)
  if (!all(is.finite(yr))) yr <- c(1e-3, 1)
  graphics::plot(t$layer[ok], t$rel_dz[ok], log = "y", ylim = yr, pch = 19, col = "#1b6ca8",
                 xlab = "layer", ylab = expression(rms(Delta * z) / rms(z)), xaxt = "n",
                 xlim = range(t$layer) + c(-0.3, 0.3), main = main, ...)
  graphics::axis(1, at = t$layer)
  graphics::segments(t$layer, lo, t$layer, hi, col = "#1b6ca8")
  invisible(data.frame(layer = t$layer, rel_dz = t$rel_dz, lower = lo, upper = hi))
}

# Whether `f` can be called with one positional argument: a primitive, or a
# closure with at least one formal (or `...`) and no other formal without
# a default.
takes_one_argument <- function(f) {
  if (is.primitive(f)) return(TRUE)
  fm <- formals(f)
  if (length(fm) == 0) return(FALSE)
  if (names(fm)[1] == "...") return(TRUE)
  rest <- fm[-1]
  rest <- rest[names(rest) != "..."]
  all(vapply(rest, function(v) !(is.name(v) && !nzchar(as.character(v))), TRUE))
}

function_arguments <- function(f) {
  fm <- names(formals(f))
  if (length(fm) == 0) "a function of no arguments" else
    sprintf("a function of %s", paste0("`", fm, "`", collapse = ", "))
}
