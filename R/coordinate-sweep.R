# coordinate_check(parametrization = , depths = ): a parametrization applied
# to the networks net_fun() builds, sweeps in width or depth over several
# layers and optimizer steps, exact and asymptotic slope tests, and a Holm
# verdict over them.

# The parameter group of each unit (weight matrix) of `layers`, by role, as
# rule tables are written: the first unit is `input` when its fan-in does
# not grow with the width (the same in `base` and `probe`, nets at two
# widths), the last `output` when its fan-out does not grow, the first
# matrix (W_Q) of an attention sublayer `query`, every other `hidden`. A
# hidden matrix one of whose dimensions stays fixed (an FFN's d_ff held
# fixed while d_model grows) stays `hidden`: a rule table applied by role
# then scales it wrongly, which is the bug the check must catch.
cc_unit_groups <- function(layers, base_units, probe_units) {
  ul <- unit_layer(layers)
  U <- length(ul)
  kinds <- vapply(layers, function(l) l$kind, "")
  k <- sequence(rle(ul)$lengths)
  grp <- rep("hidden", U)
  grp[kinds[ul] == "attention" & k == 1] <- "query"
  if (kinds[ul[1]] == "dense" && base_units[[1]]$n_in == probe_units[[1]]$n_in) grp[1] <- "input"
  if (kinds[ul[U]] == "dense" && base_units[[U]]$n_out == probe_units[[U]]$n_out) grp[U] <- "output"
  grp
}

# Apply parametrization `p` (an initvar_parametrization, without factors) to
# `net` at (width, depth), its base values read from `base` (the same
# net_fun at the base width, same depth): per unit, the Gaussian
# initialization of variance v0 * f_var * c^2 (v0 the base scheme's
# variance at the base unit's fans, c the group's multiplier, absorbed into
# the weight), learning rate lr * f_lr * c^2 (SGD) or lr * f_lr * c (Adam)
# and epsilon eps * f_eps / c, which is the same training as a parameter
# with multiplier c; biases keep their scheme and take the bias group's
# learning rate and epsilon; residual branches' alpha times the branch
# factor; attention logit scales times (d_k / base d_k)^e.
cc_apply <- function(net, base, probe, p, width, depth, base_width, base_depth, lr, eps,
                     optimizer) {
  layers <- net_layers(net)
  bl <- net_layers(base)
  units <- net_units(layers)
  bu <- net_units(bl)
  pu <- net_units(net_layers(probe))
  same <- function(a, b) length(a) == length(b) &&
    all(vapply(a, function(l) l$kind, "") == vapply(b, function(l) l$kind, ""))
  if (!same(layers, bl) || length(units) != length(bu) || length(units) != length(pu)) {
    abort(sprintf(paste0("`net_fun` must build networks of the same layers at every width: ",
                         "at width %s and the base width %s (depth %s) they differ."),
                  format(width), format(base_width), format(depth)))
  }
  # from the table's own exponents: a table edited (a bug injected, as
  # mup_bugs() does) keeps its edits
  tab <- cc_factors(p$table, width, depth, base_width, base_depth)
  f <- function(g, col) tab[[paste0(col, "_factor")]][tab$group == g]
  grp <- cc_unit_groups(layers, bu, pu)
  ul <- unit_layer(layers)
  lr <- rep_len(lr, length(layers))[ul]
  lrcol <- if (optimizer == "sgd") "lr_sgd" else "lr_adam"
  U <- length(units)
  opt <- list(lr_w = numeric(U), lr_b = numeric(U), eps_w = numeric(U), eps_b = numeric(U))
  k <- sequence(rle(ul)$lengths)
  for (u in seq_len(U)) {
    g <- grp[u]
    cm <- f(g, "multiplier")
    v0 <- weight_variance(bu[[u]]$init, bu[[u]]$n_in, bu[[u]]$n_out)
    v <- v0 * f(g, "init_var") * cm^2
    s <- if (v > 0) init_normal(0, sqrt(v)) else init_zeros()
    i <- ul[u]
    if (layers[[i]]$kind == "dense") layers[[i]]$init <- s else layers[[i]]$branch[[k[u]]]$init <- s
    opt$lr_w[u] <- lr[u] * f(g, lrcol) * if (optimizer == "sgd") cm^2 else cm
    opt$lr_b[u] <- lr[u] * f("bias", lrcol)
    opt$eps_w[u] <- eps * f(g, "eps") / cm
    opt$eps_b[u] <- eps * f("bias", "eps")
  }
  e_att <- tab$multiplier[tab$group == "attention"]
  for (i in seq_along(layers)) {
    if (layers[[i]]$kind %in% c("residual", "attention")) {
      layers[[i]]$alpha <- bl[[i]]$alpha * f("branch", "multiplier")
    }
    if (layers[[i]]$kind == "attention") {
      layers[[i]]$scale <- bl[[i]]$scale * (layers[[i]]$d_k / bl[[i]]$d_k)^e_att
    }
  }
  net$layers <- layers
  list(net = net, opt = opt, groups = grp)
}

# One network's attention logits at initialization: per layer, the mean
# square of c q.k over sequences, heads and the pairs of positions the mask
# allows (NA for a layer that is not attention). The draws are
# first_step_draw()'s, as train_steps_one()'s.
cc_logits_one <- function(net, batch, var_x) {
  dr <- first_step_draw(net, batch, var_x)
  fw <- net_forward_values(dr$layers, dr$par, dr$X)
  vapply(seq_len(dr$d), function(i) {
    l <- dr$layers[[i]]
    if (l$kind != "attention") return(NA_real_)
    st <- fw$st[[i]]
    T <- l$seq_len
    tot <- 0
    cnt <- 0
    for (s in seq_len(nrow(st$Q) / T)) {
      r <- seq_rows(s, T)
      for (h in seq_len(l$heads)) {
        cc <- head_cols(h, l$d_k)
        L <- l$scale * st$Q[r, cc, drop = FALSE] %*% t(st$K[r, cc, drop = FALSE])
        keep <- if (l$causal) lower.tri(L, diag = TRUE) else matrix(TRUE, T, T)
        tot <- tot + sum(L[keep]^2)
        cnt <- cnt + sum(keep)
      }
    }
    tot / cnt
  }, 0)
}

# The *_factor columns of a parametrization's table (as parametrization()
# computes them) from the table's own exponents.
cc_factors <- function(tab, width, depth, base_width, base_depth) {
  mN <- width / base_width
  mL <- depth / base_depth
  g <- tab$group
  for (q in c("init_var", "multiplier", "lr_sgd", "lr_adam", "eps")) {
    eL <- tab[[paste0(q, "_depth")]]
    if (is.null(eL)) eL <- 0
    f <- mN^tab[[q]] * mL^ifelse(is.na(eL), 0, eL)
    if (q == "multiplier") {
      f[g == "branch"] <- mL^tab$multiplier_depth[g == "branch"]
      f[g == "attention"] <- NA
    }
    tab[[paste0(q, "_factor")]] <- f
  }
  tab
}

# Whether E[(z^l)^2] at initialization is exactly the same at every width
# (so the init slopes are exact): dense and residual layers only, every
# activation positively homogeneous, biases 0.
cc_exact_init <- function(layers) {
  units <- net_units(layers)
  all(vapply(layers, function(l) l$kind %in% c("dense", "residual"), TRUE)) &&
    all(vapply(units, function(l) l$activation$name %in% c("linear", "relu", "leaky_relu") &&
                 identical(weight_variance(l$bias, 1, 1), 0) &&
                 identical(weight_mean(l$bias, 1, 1), 0), TRUE))
}

# The slopes `p` predicts for the measured layers: a data frame (layer,
# step, predicted, kind), kind "exact", "asymptotic" or "none" (not
# tested). See ?coordinate_check, "Parametrizations".
cc_predictions <- function(p, sweep, what, layers_idx, steps, d, exact_init, output_group,
                           dk_grows = TRUE, exact_logits = TRUE) {
  grid <- expand.grid(layer = layers_idx, step = if (what %in% c("init", "logits")) 0L else
    seq_len(steps))
  grid$predicted <- NA_real_
  grid$kind <- "none"
  if (is.null(p)) return(grid)
  # the claims of the parametrization named, not of the table applied (an
  # edited table, a bug injected, is tested against the claims it breaks)
  family <- p$name %in% c("depth_mup", "completep")
  tab <- parametrization(p$name, alpha = if (family) p$alpha)$table
  e <- function(g, col) tab[[col]][tab$group == g]
  learns <- p$name %in% c("mup", "depth_mup", "completep")
  family <- p$name %in% c("depth_mup", "completep")
  out <- grid$layer == d
  if (what == "logits") {
    # E[(c q.k)^2] = c^2 d_k (n v_q E[a^2]) (n v_k E[a^2]) exactly (W_Q, W_K
    # independent of the layer's input a, zero mean): with d_k proportional
    # to the width, slope e_att + 1/2 (plus the query and key variances'
    # 1 + e each, 0 in every table); with d_k fixed, 0
    if (sweep == "width") {
      grid$predicted <- if (dk_grows) e("attention", "multiplier") + 0.5 else 0
      grid$kind <- if (exact_logits) "exact" else "asymptotic"
    }
    return(grid)
  }
  if (sweep == "width") {
    if (what == "init") {
      # s = z W: E[s^2] = fan_in v E[z^2]; a read-out's fan-in is the width
      e_out <- e("output", "init_var") + 2 * e("output", "multiplier")
      grid$predicted <- ifelse(out & output_group, (1 + e_out) / 2, 0)
      grid$kind <- if (exact_init) "exact" else "asymptotic"
    } else if (learns) {
      grid$predicted <- 0
      grid$kind <- "asymptotic"
    }
  } else if (family && what != "init") {
    # at initialization the output's mean square at depth L is about
    # (1 + c L_0^2 / L^2)^L (CompleteP) or (1 + c L_0 / L)^L (depth-muP),
    # not a power of L: not tested
    grid$predicted[out] <- 0
    grid$kind[out] <- "asymptotic"
  }
  grid
}

cc_sweep <- function(net_fun, widths, depths, layer, what, slope, slope_given, lr_fun, networks,
                     steps, dots, p, base_width, base_depth, delta) {
  sweep <- if (!is.null(depths) && length(depths) > 1) "depth" else "width"
  if (sweep == "depth" && length(widths) != 1) {
    abort(sprintf(paste0("`widths` must be one width for a depth sweep (`depths` has %d values), ",
                         "not %d: sweep one of width and depth at a time."),
                  length(depths), length(widths)))
  }
  if (sweep == "width" && length(widths) < 3) {
    abort_arg("widths", "at least 3 distinct positive whole numbers", widths)
  }
  if (sweep == "depth" && length(depths) < 3) {
    abort_arg("depths", "at least 3 distinct positive whole numbers (or one depth)", depths)
  }
  two <- !is.null(depths)
  if (two && !takes_two_arguments(net_fun)) {
    abort(sprintf("`net_fun` must be a function of two arguments (width, depth) with `depths`, not %s.",
                  function_arguments(net_fun)))
  }
  if (!two && !takes_one_argument(net_fun)) {
    abort(sprintf("`net_fun` must be a function of one argument (the width) returning a network, not %s.",
                  function_arguments(net_fun)))
  }
  sizes <- if (sweep == "width") widths else depths
  if (is.null(base_width)) base_width <- min(widths)
  if (is.null(base_depth)) base_depth <- if (two) min(depths) else 1
  optimizer <- if (is.null(dots$optimizer)) "sgd" else dots$optimizer
  batch <- if (is.null(dots$batch)) 32 else dots$batch
  loss <- if (is.null(dots$loss)) "softmax" else dots$loss
  var_x <- if (is.null(dots$var_x)) 1 else dots$var_x
  eps <- if (is.null(dots$eps)) 1e-8 else dots$eps
  build <- function(w, L) {
    label <- if (two) sprintf("net_fun(%g, %g)", w, L) else sprintf("net_fun(%g)", w)
    net <- tryCatch(if (two) net_fun(w, L) else net_fun(w), error = function(e) {
      abort(sprintf("`net_fun` failed: `%s` gives the error \"%s\"", label, conditionMessage(e)))
    })
    if (!inherits(net, "initvar_mlp") || !is.null(network_problem(net)) ||
        inherits(net, "initvar_cnn") || any(vapply(net_layers(net), function(l) l$kind, "") == "conv")) {
      abort(sprintf("`%s` must return a network from `mlp()`, `resmlp()` or `transformer()`, not %s.",
                    label, describe(net)))
    }
    if (inherits(net, "initvar_transformer") &&
        identical(net$transformer$architecture, "encoder_decoder")) {
      abort(sprintf("`%s`: encoder-decoder transformers are not trained by the check (use an encoder or decoder).",
                    label))
    }
    net
  }
  runs <- lapply(sizes, function(s) {
    w <- if (sweep == "width") s else widths
    L <- if (sweep == "depth") s else if (two) depths else NA
    net <- build(w, L)
    d <- length(net$widths) - 1
    lay <- if (identical(layer, "output")) d else layer
    if (any(lay > d)) {
      abort(sprintf("`layer` must be at most %d (the layers of `%s`), not %s.", d,
                    if (two) sprintf("net_fun(%g, %g)", w, L) else sprintf("net_fun(%g)", w),
                    format(max(lay))))
    }
    if (what == "logits") {
      kinds <- vapply(net_layers(net), function(l) l$kind, "")
      if (!all(kinds[lay] == "attention")) {
        abort(sprintf("With `what = \"logits\"`, `layer` must be attention sublayers (of `%s`: %s), not %s.",
                      if (two) sprintf("net_fun(%g, %g)", w, L) else sprintf("net_fun(%g)", w),
                      if (any(kinds == "attention")) paste(which(kinds == "attention"), collapse = ", ") else "none",
                      paste(lay, collapse = ", ")))
      }
    }
    check_sequence_batch(net, batch, "batch")
    check_train_steps_memory(net, batch, optimizer)
    lr <- tryCatch(lr_fun(w), error = function(e) {
      abort(sprintf("`lr_fun` failed at width %g: `lr_fun(%g)` gives the error \"%s\"",
                    w, w, conditionMessage(e)))
    })
    check_steps_lr(lr, d)
    applied <- NULL
    if (!is.null(p)) {
      Lb <- if (two) L else 1
      base <- build(base_width, Lb)
      probe <- build(2 * base_width, Lb)
      applied <- cc_apply(net, base, probe, p, w, Lb, base_width, base_depth, lr, eps, optimizer)
      net <- applied$net
    }
    list(width = w, depth = L, net = net, d = d, layer = lay, lr = lr, applied = applied)
  })
  k <- if (what %in% c("init", "logits")) 0L else steps
  rows <- list()
  interrupted <- tryCatch({
    for (i in seq_along(runs)) {
      r <- runs[[i]]
      ts <- if (what == "logits") {
        per <- vapply(seq_len(networks), function(j) cc_logits_one(r$net, batch, var_x),
                      numeric(r$d))
        list(per_network = array(t(matrix(per, r$d)), c(networks, r$d, 1)))
      } else {
        train_steps(r$net, r$lr, optimizer, batch = batch, networks = networks, steps = k,
                    loss = loss, var_x = var_x, eps = eps, opt = r$applied$opt)
      }
      tt <- if (what %in% c("init", "logits")) 0L else seq_len(steps)
      rows[[i]] <- do.call(rbind, lapply(r$layer, function(l) do.call(rbind, lapply(tt, function(t) {
        v <- ts$per_network[, l, t + 1]
        m <- mean(v)
        data.frame(width = r$width, depth = r$depth, layer = if (identical(layer, "output")) "output" else
                     as.character(l), step = t, rms = sqrt(m), log_ms = log(m),
                   se = stats::sd(v) / sqrt(length(v)) / m)
      }))))
    }
    FALSE
  }, interrupt = function(e) TRUE)
  out <- do.call(rbind, rows)
  info <- list(sweep = sweep, what = what, p = p, base_width = base_width, base_depth = base_depth,
               delta = delta, groups = runs[[1]]$applied$groups)
  pred <- cc_predictions(p, sweep, what, runs[[length(runs)]]$layer, steps, runs[[length(runs)]]$d,
                         exact_init = cc_exact_init(net_layers(runs[[1]]$net)),
                         output_group = identical(utils::tail(runs[[1]]$applied$groups, 1), "output") ||
                           is.null(p),
                         dk_grows = cc_dk_grows(runs, layer),
                         exact_logits = all(vapply(net_units(net_layers(runs[[1]]$net)), function(u)
                           identical(weight_variance(u$bias, 1, 1), 0) &&
                             identical(weight_mean(u$bias, 1, 1), 0), TRUE)))
  if (identical(layer, "output")) pred$layer <- "output" else pred$layer <- as.character(pred$layer)
  if (slope_given || is.null(p)) {
    pred$predicted <- rep_len(slope, nrow(pred))
    pred$kind <- "exact"
  }
  if (interrupted) {
    if (is.null(out)) raise_interrupt(NULL, sprintf("no %s done", sweep))
    res <- cc_sweep_result(out, pred, info)
    attr(res, "sizes_requested") <- sizes
    raise_interrupt(res)
  }
  res <- cc_sweep_result(out, pred, info)
  if (all(pred$kind == "none")) {
    warning(sprintf(paste0("coordinate_check(): the parametrization \"%s\" predicts no slope for ",
                           "this %s sweep of %s: the slopes are estimated, not tested; give `slope`."),
                    p$name, sweep, if (what == "first_step") "the steps" else "the initialization"),
            call. = FALSE)
  }
  res
}

# Whether the measured attention layers' d_k grows with the sweep's sizes.
cc_dk_grows <- function(runs, layer) {
  lay <- if (identical(layer, "output")) runs[[1]]$d else layer
  dk <- function(r) vapply(net_layers(r$net)[lay], function(l) as.double(if (is.null(l$d_k)) NA else l$d_k), 0)
  a <- dk(runs[[1]])
  b <- dk(runs[[length(runs)]])
  !anyNA(a) && all(b > a)
}

# Slopes per (layer, step) and the family-wise verdict.
cc_sweep_result <- function(out, pred, info) {
  alpha <- 1 - verdict_level
  xcol <- if (info$sweep == "width") "width" else "depth"
  sl <- lapply(seq_len(nrow(pred)), function(j) {
    s <- out[out$layer == pred$layer[j] & out$step == pred$step[j], , drop = FALSE]
    x <- log(s[[xcol]])
    y <- s$log_ms / 2
    w <- 1 / (s$se / 2)^2
    if (nrow(s) < 2 || any(!is.finite(w))) {
      if (nrow(s) >= 2) {
        abort(sprintf("The activations measured are 0 (or constant) at some %s (layer %s, step %d): no slope.",
                      xcol, pred$layer[j], pred$step[j]))
      }
      return(c(NA, NA))
    }
    xb <- sum(w * x) / sum(w)
    b <- sum(w * (x - xb) * (y - sum(w * y) / sum(w))) / sum(w * (x - xb)^2)
    c(b, sqrt(1 / sum(w * (x - xb)^2)))
  })
  est <- vapply(sl, function(v) v[1], 0)
  se <- vapply(sl, function(v) v[2], 0)
  z <- (est - pred$predicted) / se
  p <- ifelse(pred$kind == "exact", 2 * stats::pnorm(-abs(z)),
              ifelse(pred$kind == "asymptotic",
                     stats::pnorm((abs(est - pred$predicted) - info$delta) / se, lower.tail = FALSE),
                     NA_real_))
  tested <- !is.na(p)
  ph <- rep(NA_real_, length(p))
  if (any(tested)) ph[tested] <- stats::p.adjust(p[tested], "holm")
  slope <- data.frame(layer = pred$layer, step = pred$step,
                      quantity = ifelse(pred$step == 0, "z", "dz"), estimate = est, se = se,
                      predicted = pred$predicted, kind = pred$kind,
                      delta = ifelse(pred$kind == "asymptotic", info$delta, NA_real_),
                      z = z, p_value = p, p_holm = ph,
                      consistent = ifelse(tested, ph > alpha, NA), stringsAsFactors = FALSE)
  verdict <- if (any(tested) && !anyNA(ph[tested])) all(ph[tested] > alpha) else NA
  class(out) <- c("initvar_coordinate_check", "data.frame")
  attr(out, "slope") <- slope
  attr(out, "verdict") <- verdict
  attr(out, "sweep") <- info$sweep
  attr(out, "what") <- info$what
  attr(out, "parametrization") <- info$p
  attr(out, "groups") <- info$groups
  attr(out, "base") <- c(width = info$base_width, depth = info$base_depth)
  out
}

print_cc_sweep <- function(x) {
  s <- attr(x, "slope")
  p <- attr(x, "parametrization")
  sw <- attr(x, "sweep")
  cat(sprintf("<initvar coordinate check> %s sweep%s, %s\n", sw,
              if (is.null(p)) "" else paste0(", ", p$label),
              switch(attr(x, "what"), init = "activations at initialization",
                     logits = "attention logits at initialization",
                     "change of the activations after each step")))
  tab <- x
  class(tab) <- "data.frame"
  tab$se_log <- format(tab$se / 2, digits = 2)
  tab$rms <- format(tab$rms, digits = 4)
  print(tab[, c(if (sw == "width") "width" else c("width", "depth"), "layer", "step", "rms",
                "se_log")], row.names = FALSE)
  cat(sprintf("slope of log RMS on log %s, per layer and step:\n", sw))
  f <- function(v, d = 3) ifelse(is.na(v), "-", formatC(v, digits = d, format = "f"))
  print(data.frame(layer = s$layer, step = s$step, slope = f(s$estimate), se = f(s$se),
                   predicted = f(s$predicted, 2), test = ifelse(s$kind == "asymptotic",
                   sprintf("|d| < %s", format(s$delta)), ifelse(s$kind == "exact", "exact", "none")),
                   p_holm = ifelse(is.na(s$p_holm), "-", format.pval(s$p_holm, digits = 2)),
                   verdict = ifelse(is.na(s$consistent), "-", ifelse(s$consistent, "ok", "FLAGGED"))),
        row.names = FALSE)
  v <- attr(x, "verdict")
  cat(sprintf("family-wise verdict (Holm over %d tests, level %s): %s\n", sum(s$kind != "none"),
              format(verdict_level), if (is.na(v)) "nothing tested" else if (v) "consistent" else
                "NOT consistent"))
  req <- attr(x, "sizes_requested")
  if (!is.null(req)) cat(sprintf("partial result: interrupted, %d %ss asked for\n", length(req), sw))
  invisible(x)
}

takes_two_arguments <- function(f) {
  if (is.primitive(f)) return(FALSE)
  fm <- formals(f)
  if ("..." %in% names(fm)[1:min(2, length(fm))]) return(TRUE)
  if (length(fm) < 2) return(FALSE)
  rest <- fm[-(1:2)]
  rest <- rest[names(rest) != "..."]
  all(vapply(rest, function(v) !(is.name(v) && !nzchar(as.character(v))), TRUE))
}

# coordinate_check() with `parametrization` or `depths`: the arguments
# checked, then cc_sweep().
coordinate_check_sweep <- function(net_fun, widths, layer, what, slope, slope_given, lr_fun,
                                   networks, steps, dots, parametrization, depths, base_width,
                                   base_depth, delta) {
  p <- parametrization
  if (is.character(p) && length(p) == 1 && !is.na(p)) {
    if (!p %in% parametrization_names) {
      abort(sprintf("`parametrization` must be one of %s or a `parametrization()` object, not \"%s\".",
                    paste0("\"", parametrization_names, "\"", collapse = ", "), p))
    }
    p <- parametrization(p)
  }
  if (!is.null(p) && (!inherits(p, "initvar_parametrization") || !is.data.frame(p$table) ||
                      !identical(p$table$group, parametrization_groups) ||
                      !all(c(parametrization_cols, "zero") %in% names(p$table)) ||
                      !(is.character(p$name) && length(p$name) == 1 &&
                        p$name %in% parametrization_names) ||
                      !(is.numeric(p$alpha) && length(p$alpha) == 1))) {
    abort_arg("parametrization", "NULL, a name such as \"mup\", or a `parametrization()` object",
              parametrization)
  }
  if (!is.null(depths)) {
    if (!is.numeric(depths) || length(depths) < 1 || anyNA(depths) || any(depths < 1) ||
        any(depths > 1e4) || any(depths != round(depths)) || anyDuplicated(depths)) {
      abort_arg("depths", "NULL or distinct whole numbers from 1 to 10,000", depths)
    }
  }
  if (!is.null(base_width)) base_width <- check_number(base_width, "base_width", min = 1, max = 1e15)
  if (!is.null(base_depth)) {
    if (is.null(depths)) abort("`base_depth` needs `depths`.")
    base_depth <- check_number(base_depth, "base_depth", min = 1, max = 1e15)
  }
  if (!is.numeric(delta) || !(length(delta) %in% 1:2) || anyNA(delta) ||
      any(!is.finite(delta)) || any(delta <= 0)) {
    abort_arg("delta", "one or two positive finite numbers (width and depth sweeps)", delta)
  }
  delta <- rep_len(unname(as.double(delta)), 2)
  delta <- delta[if (!is.null(depths) && length(depths) > 1) 2 else 1]
  if (!identical(layer, "output")) {
    if (!is.numeric(layer) || length(layer) < 1 || anyNA(layer) || any(!is.finite(layer)) ||
        any(layer < 1) || any(layer != round(layer)) || anyDuplicated(layer) || any(layer > 1e6)) {
      abort_arg("layer", "\"output\" or distinct layer numbers (1-based, as in `mlp()`)", layer)
    }
  }
  dots <- check_steps_dots(dots)
  cc_sweep(net_fun, widths, depths, layer, what, slope, slope_given, lr_fun, networks, steps,
           dots, p, base_width, base_depth, delta)
}
