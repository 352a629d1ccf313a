# Residual networks: resmlp() and the "residual" layer kind (a block
# x -> skip x + alpha F(x) holding its branch's dense layers), with its
# variance maps for predict_variance() and the engine's spread rule.

#' A residual network at initialization
#'
#' `resmlp()` describes a stack of `depth` residual blocks of width
#' \eqn{n} = `width`,
#' \deqn{x_{l+1} = \mathrm{skip} \cdot x_l + \alpha \cdot F(x_l), \quad
#' F(x) = W_m f(\cdots f(W_2 f(W_1 x + b_1) + b_2) \cdots) + b_m,}
#' a branch \eqn{F} of \eqn{m} = `branch_depth` dense layers with the
#' activation \eqn{f} after every layer but the last (the form of Fixup,
#' Zhang et al. 2019, and of a transformer's feed-forward block: the branch
#' ends linear, so that it adds to the skip path without a nonlinearity of
#' its own). With `branch_depth = 1` the branch is the single linear layer
#' \eqn{W_1 x + b_1} and `activation` is not used: the network is linear.
#' He et al.'s (2016) "pre-activation" unit, \eqn{W_2 f(W_1 f(x))}, applies
#' \eqn{f} to the block's input as well; here that is `branch_depth = m + 1`
#' with a first layer of your choice (an identity-initialized first layer,
#' `init = list(init_identity(), ...)`, gives \eqn{W_m f(\cdots f(x))}).
#'
#' @section Normalization:
#' `norm` adds a parameter-free layer normalization \eqn{LN(x) = (x -
#' \bar x) / r}, \eqn{\bar x} the mean over the \eqn{n} units of one
#' example and \eqn{r} the root mean square of \eqn{x - \bar x} (no
#' \eqn{\epsilon}, no gain or bias; rows with \eqn{r = 0} map to 0):
#' * `"none"`: \eqn{x_{l+1} = \mathrm{skip}\, x_l + \alpha F(x_l)};
#' * `"pre"`: \eqn{x_{l+1} = \mathrm{skip}\, x_l + \alpha F(LN(x_l))}
#'   (pre-LN transformers);
#' * `"post"`: \eqn{x_{l+1} = LN(\mathrm{skip}\, x_l + \alpha F(x_l))}
#'   (the original transformer; with `skip` = DeepNorm's \eqn{\alpha},
#'   Wang et al. 2022's \eqn{LN(\alpha x + G(x))}).
#'
#' @section What is predicted:
#' [predict_variance()] walks the blocks: one row per block, with `var_s` the
#' variance of the sum \eqn{h = \mathrm{skip}\, x + \alpha F(\cdot)}, `var_z`
#' that of the block's output (\eqn{h}, or \eqn{LN(h)} with `"post"`),
#' `var_grad_s` that of \eqn{\partial C / \partial h} and `var_grad_w` that of
#' the per-example gradient of the branch's last weight matrix \eqn{W_m}.
#' (`init = init_he()` on every branch layer, the default, gives a branch
#' of variance gain 2 for ReLU: the last, linear, layer doubles the variance;
#' `list(init_he(), init_lecun())` gives gain 1.) With \eqn{g} the branch's variance gain (for zero-mean inputs,
#' \eqn{g = \prod_k n v_k} times \eqn{E[f(t)^2] / Var(t)} for every hidden
#' activation, \eqn{1/2} for ReLU):
#' * no normalization: \eqn{Var(x_L) = (\mathrm{skip}^2 + \alpha^2 g)^L
#'   Var(x_0)}, geometric in depth ([residual_growth()] for linear
#'   branches);
#' * `"pre"`: \eqn{Var(x_{l+1}) = \mathrm{skip}^2 Var(x_l) + \alpha^2 g}:
#'   with skip 1, linear in depth;
#' * `"post"`: \eqn{Var(x_l) = 1} after every block.
#' Gradients go back through \eqn{\partial C / \partial x_l = \mathrm{skip}
#' \, \partial C / \partial h + \alpha J_F^T \partial C / \partial h},
#' whose variance multiplies by \eqn{\mathrm{skip}^2 + \alpha^2 g'} per
#' block (\eqn{g'} the branch's backward gain, \eqn{\prod_k n v_k E[f'(t)^2]}),
#' divided by \eqn{Var(h)} through a post-normalization and multiplied by
#' \eqn{\alpha^2 g' / Var(x_l)} on the branch path through a
#' pre-normalization. [residual_depth_profile()] tabulates these ratios.
#'
#' Exact at any width (the cross term \eqn{E[x \cdot W_m u]} vanishes for
#' zero-mean weights independent of \eqn{x}, and a normalized vector has
#' mean square exactly 1): the forward variances (`var_s`, `var_z`) of
#' linear branches, and of ReLU (or any positively homogeneous) branches
#' with symmetric weights, zero-mean biases and symmetric inputs, with or
#' without normalization; every variance of linear branches without
#' normalization. The others are exact at infinite width (mean field), with
#' relative errors of order `depth / width`, which `regime = "finite_width"`
#' corrects for the forward variances (to \eqn{O(1/n^2)}; see
#' [predict_variance()]); the gradients through a layer
#' normalization use its infinite-width Jacobian \eqn{J = (I - 11^T/n -
#' yy^T/n)/r \approx I / r}.
#'
#' @section Scaling rules:
#' `rule = scaling_rule(name, depth, branch_depth)` sets `skip`, `alpha` and
#' the branch's weights from the rule: branch layer \eqn{k} gets `init` (a
#' variance-preserving base such as [init_he()], or one per layer) with its
#' standard deviation multiplied by the rule's gain \eqn{g_k} (a gain of 0
#' gives [init_zeros()]). A DeepNet rule also sets `norm = "post"` unless
#' `norm` is given. The rule must be for this `depth` and `branch_depth`.
#'
#' @param width Width \eqn{n} of every block.
#' @param depth Number of residual blocks \eqn{L}.
#' @param activation The branch's activation \eqn{f} (a name, R function or
#'   [activation()]).
#' @param init The branch's weights: one scheme for every branch layer, or a
#'   list of `branch_depth` schemes (Fixup: `list(init_he(), init_zeros())`).
#' @param alpha,skip The branch and skip multipliers (finite numbers).
#' @param branch_depth Dense layers per branch, \eqn{m \ge 1}.
#' @param norm `"none"`, `"pre"` or `"post"` (see "Normalization").
#' @param n_in Input width: when it differs from `width`, a linear dense
#'   layer `n_in -> width` with weights `proj_init` comes first.
#' @param n_out `NULL`, or the width of a linear dense read-out layer
#'   `width -> n_out` (weights `proj_init`) after the blocks.
#' @param bias The branch's biases: a scheme that does not depend on the
#'   layer size, or a list of `branch_depth`.
#' @param proj_init Weights of the input and read-out layers (default LeCun
#'   normal, variance \eqn{1 / n_{in}}: variance-preserving for a linear
#'   layer).
#' @param rule `NULL`, or a rule from [scaling_rule()] (see "Scaling rules").
#' @return An `initvar_resmlp` network (also an `initvar_mlp`: a list of
#'   layers), for [predict_variance()], [simulate_network()] and
#'   [residual_depth_profile()].
#' @references
#' He, K., Zhang, X., Ren, S. and Sun, J. (2016). Identity mappings in deep
#' residual networks. ECCV.
#'
#' Zhang, H., Dauphin, Y. N. and Ma, T. (2019). Fixup initialization:
#' residual learning without normalization. ICLR.
#'
#' Wang, H., Ma, S., Dong, L., Huang, S., Zhang, D. and Wei, F. (2022).
#' DeepNet: scaling transformers to 1,000 layers. arXiv:2203.00555.
#' @examples
#' # He before the ReLU, LeCun for the linear last layer: a branch of gain 1
#' net <- resmlp(64, depth = 10, "relu", list(init_he(), init_lecun()), branch_depth = 2)
#' net
#' predict_variance(net, regime = "mean_field")$var_z      # (1 + 1)^l: doubles per block
#' pre <- resmlp(64, 10, "relu", list(init_he(), init_lecun()), branch_depth = 2, norm = "pre")
#' predict_variance(pre, regime = "mean_field")$var_z      # 1 + l
#' # Fixup at depth 10: the branch's last layer starts at 0
#' fx <- resmlp(64, 10, branch_depth = 2, rule = scaling_rule("fixup", 10, 2))
#' predict_variance(fx, regime = "mean_field")$var_z       # 1: every block is the identity
#' @export
resmlp <- function(width, depth, activation = "relu", init = init_he(), alpha = 1, skip = 1,
                   branch_depth = 1, norm = c("none", "pre", "post"), n_in = width,
                   n_out = NULL, bias = init_constant(0), proj_init = init_lecun(),
                   rule = NULL) {
  width <- check_whole(width, "width", max = max_width)
  depth <- check_whole(depth, "depth", max = 1e5)
  m <- check_whole(branch_depth, "branch_depth", max = 1000)
  norm_given <- !missing(norm)
  norm <- check_choice(norm, names(norm_kind_codes), "norm")
  alpha <- check_number(alpha, "alpha")
  skip <- check_number(skip, "skip")
  n_in <- check_whole(n_in, "n_in", max = max_width)
  if (!is.null(n_out)) n_out <- check_whole(n_out, "n_out", max = max_width)
  check_scheme(proj_init, "proj_init")
  act <- as_activation(activation, "activation")
  inits <- per_layer(init, m, "init", function(x) inherits(x, "initvar_scheme"))
  for (k in seq_len(m)) check_scheme(inits[[k]], if (m == 1) "init" else sprintf("init[[%d]]", k))
  biases <- per_layer(bias, m, "bias", function(x) inherits(x, "initvar_scheme"))
  for (k in seq_len(m)) {
    arg <- if (m == 1) "bias" else sprintf("bias[[%d]]", k)
    check_scheme(biases[[k]], arg)
    if (!biases[[k]]$family %in% fan_free) {
      abort_arg(arg, "a scheme that does not depend on the layer size, such as `init_constant(0)`",
                biases[[k]]$label)
    }
  }
  if (!is.null(rule)) {
    check_rule(rule, depth)
    if (rule$branch_depth != m) {
      abort(sprintf("`rule` is for branch_depth %s, not `branch_depth` = %s.",
                    format(rule$branch_depth), format(m)))
    }
    skip <- rule$skip
    alpha <- rule$alpha
    inits <- lapply(seq_len(m), function(k) {
      scale_scheme(inits[[k]], rule$gains[k], if (m == 1) "init" else sprintf("init[[%d]]", k))
    })
    if (rule$name == "deepnet" && !norm_given) norm <- "post"
  }
  if (norm != "none" && width < 2) {
    abort_arg("width", "at least 2 with a layer normalization (`norm`)", width)
  }
  linear <- linear_activation()
  branch <- lapply(seq_len(m), function(k) {
    new_layer("dense", width, width, activation = if (k < m) act else linear,
              init = inits[[k]], bias = biases[[k]])
  })
  block <- new_layer("residual", width, width, activation = act, init = inits[[1]],
                     bias = biases[[1]], branch = branch, alpha = alpha, skip = skip,
                     norm = norm)
  layers <- rep(list(block), depth)
  if (n_in != width) {
    layers <- c(list(new_layer("dense", n_in, width, activation = linear, init = proj_init,
                               bias = init_constant(0))), layers)
  }
  if (!is.null(n_out)) {
    layers <- c(layers, list(new_layer("dense", width, n_out, activation = linear,
                                       init = proj_init, bias = init_constant(0))))
  }
  net <- new_network(layers)
  net$residual <- list(width = width, depth = depth, branch_depth = m, alpha = alpha,
                       skip = skip, norm = norm, activation = act, rule = rule)
  class(net) <- c("initvar_resmlp", class(net))
  net
}

# `rule` is a scaling rule made for `depth` blocks (resmlp(), transformer()).
check_rule <- function(rule, depth) {
  check_rule_object(rule, "rule")
  if (rule$depth != depth) {
    abort(sprintf("`rule` is for depth %s, not `depth` = %s: make it with `scaling_rule(\"%s\", %s, ...)`.",
                  format(rule$depth), format(depth), rule$name, format(depth)))
  }
  invisible(rule)
}

# A scheme with its standard deviation multiplied by `gain` (0: zeros).
scale_scheme <- function(s, gain, arg) {
  if (gain == 0) return(init_zeros())
  if (gain == 1) return(s)
  if (identical(s$family, "variance_scaling")) {
    s$scale <- s$scale * gain^2
  } else if (identical(s$family, "normal") && s$mean == 0) {
    s$sd <- s$sd * gain
  } else {
    abort_arg(arg, paste0("a variance-scaling scheme (such as `init_he()`) or a zero-mean ",
                          "`init_normal()` to apply the rule's gains to"), s$label)
  }
  s$label <- sprintf("%s x %s", s$label, format(signif(gain, 4)))
  s
}

#' @export
print.initvar_resmlp <- function(x, ...) {
  r <- x$residual
  layers <- net_layers(x)
  cat(sprintf("<initvar resmlp> %d residual block%s of width %s%s%s\n", as.integer(r$depth),
              if (r$depth > 1) "s" else "", format(r$width),
              if (x$widths[1] != r$width) sprintf(", input projection %s -> %s",
                                                  format(x$widths[1]), format(r$width)) else "",
              if (layers[[length(layers)]]$kind == "dense") sprintf(", read-out %s -> %s",
                format(r$width), format(x$widths[length(x$widths)])) else ""))
  blk <- switch(r$norm,
    none = "x + alpha F(x)", pre = "x + alpha F(LN(x))", post = "LN(x + alpha F(x))")
  blk <- sub("x \\+", paste0(format(signif(r$skip, 4)), " x +"), blk)
  blk <- sub("alpha", format(signif(r$alpha, 4)), blk)
  cat("  block: ", blk, "\n", sep = "")
  b <- layers[[which(vapply(layers, `[[`, "", "kind") == "residual")[1]]]$branch
  m <- length(b)
  f <- format(r$activation)
  chain <- if (m == 1) "W1 x + b1 (linear)" else {
    inner <- "W1 x + b1"
    for (k in 2:m) inner <- sprintf("W%d %s(%s) + b%d", k, f, inner, k)
    inner
  }
  cat("  branch F(x) = ", chain, "\n", sep = "")
  tab <- data.frame(
    branch_layer = seq_len(m),
    weights = vapply(b, function(l) l$init$label, ""),
    `Var(W)` = formatC(vapply(b, function(l) weight_variance(l$init, l$n_in, l$n_out), 0),
                       digits = 4, format = "g"),
    bias = vapply(b, function(l) scheme_distribution_text(l$bias), ""),
    activation = vapply(b, function(l) format(l$activation), ""),
    check.names = FALSE, stringsAsFactors = FALSE)
  print(tab, row.names = FALSE, right = FALSE)
  if (!is.null(r$rule)) cat_para("rule: ", r$rule$label)
  invisible(x)
}

# ---- the "residual" layer kind -------------------------------------------

# Forward: the moments of a block's sum h and output from E[x^2], E[x] of
# its input (Gaussian with that mean and variance at infinite width),
# walking the branch's dense layers with the dense kind's map. Also returns
# what the backward map and the weight gradients need: `back_gain`, the
# factor from Var(dC/dh) to Var(dC/dx); `m2_w`, E[u^2] alpha^2 for the last
# weight matrix's input u.
residual_forward <- function(l, m2_in, mean_in, regime) {
  var_in <- max(m2_in - mean_in^2, 0)
  if (l$norm == "pre") {
    m2 <- if (var_in > 0) 1 else 0
    mu <- 0
  } else {
    m2 <- m2_in
    mu <- mean_in
  }
  m <- length(l$branch)
  gb <- 1
  m2_last <- m2
  for (k in seq_len(m)) {
    b <- l$branch[[k]]
    v <- weight_variance(b$init, b$n_in, b$n_out)
    wm <- weight_mean(b$init, b$n_in, b$n_out)
    if (abs(wm) > 1e-12 * sqrt(v)) {
      abort(sprintf("`net` has branch weights with a non-zero mean (branch layer %d): the predictions assume zero-mean weights.", k))
    }
    if (k == m) m2_last <- m2
    fk <- layer_kinds$dense$forward(b, m2, mu, regime)
    gb <- gb * b$n_out * v * fk$dfd2
    m2 <- fk$m2_z
    mu <- fk$mean_z
    if (k == m) {
      var_b <- fk$var_z
      mean_b <- fk$mean_z
    }
  }
  var_h <- l$skip^2 * var_in + l$alpha^2 * var_b
  mean_h <- l$skip * mean_in + l$alpha * mean_b
  branch_back <- l$alpha^2 * gb
  if (l$norm == "pre") branch_back <- if (var_in > 0) branch_back / var_in else 0
  out <- list(var_s = var_h, mean_s = mean_h, dfd2 = 1,
              back_gain = l$skip^2 + branch_back, m2_w = m2_last * l$alpha^2,
              var_in = var_in, var_branch = l$alpha^2 * var_b, branch_back = branch_back)
  if (l$norm == "post") {
    out$var_z <- if (var_h > 0) 1 else 0
    out$mean_z <- 0
    out$dfd2 <- if (var_h > 0) 1 / var_h else 0
  } else {
    out$var_z <- var_h
    out$mean_z <- mean_h
  }
  out$m2_z <- out$var_z + out$mean_z^2
  out
}

residual_kind <- list(
  fans = function(l) c(fan_in = l$n_in, fan_out = l$n_out),
  units = function(l) l$branch,
  forward = residual_forward,
  backward = function(l, var_g, fwd) fwd$back_gain * var_g,
  engine = TRUE)

# The dense units (weight matrices) of a layer, in the engine's order.
layer_units <- function(l) layer_kinds[[l$kind]]$units(l)

# Errors for functions that handle dense stacks only.
check_dense_net <- function(net, arg = "net") {
  kinds <- vapply(net_layers(net), `[[`, "", "kind")
  if (any(kinds != "dense")) {
    abort(sprintf("`%s` has %s layers: this function handles dense networks from `mlp()` only.",
                  arg, kinds[kinds != "dense"][1]))
  }
  invisible(net)
}

# A softmax output gradient needs a dense (read-out) last layer.
check_softmax_output <- function(net, grad) {
  if (grad == "softmax") {
    layers <- net_layers(net)
    if (layers[[length(layers)]]$kind != "dense") {
      abort(paste0("`grad = \"softmax\"` needs a dense read-out layer as the last layer of `net` ",
                   "(for `resmlp()`, give `n_out`)."))
    }
  }
  invisible(TRUE)
}

# The engine's spread rule (network_cv2() in R/simulate.R) through a
# residual block: the relative variance, over networks, of the block's
# network-level mean squares, as for Gaussian weights. For a linear
# one-layer branch, given x, h = skip x + alpha W x has |h|^2/n with
# relative variance (4 (1 - b) b + 2 b^2) / n, b the branch's share of
# Var(h); hidden branch layers add b^2 times the relative variance of the
# last layer's input (the product of their Hanin-Rolnick factors 1 + k/n).
# A pre-normalized branch does not scale with the input; a post-normalized
# output has mean square exactly 1. Backward, the same with the branch's
# share of the gradient's variance. `fwd` is residual_forward()'s result,
# pz the input's factor. Returns the factors for s, z, and the backward
# factor from dC/dh to dC/dx.
residual_cv2_step <- function(l, fwd, mf_var_in, mf_mean_in, pz) {
  n <- l$n_in
  var_h <- fwd$var_s
  sh <- if (var_h > 0) fwd$var_branch / var_h else 0
  m <- length(l$branch)
  cu <- 1
  cd <- 1
  if (m > 1) {
    m2 <- if (l$norm == "pre") 1 else mf_var_in + mf_mean_in^2
    mu <- if (l$norm == "pre") 0 else mf_mean_in
    for (k in seq_len(m - 1)) {
      b <- l$branch[[k]]
      fk <- layer_kinds$dense$forward(b, m2, mu, "mean_field")
      a <- b$activation
      ex <- function(g) tryCatch(normal_expectation(g, sqrt(fk$var_s), fk$mean_s, kinks = a$kinks),
                                 error = function(e) NA_real_)
      f2 <- ex(function(x) a$f(x)^2)
      f4 <- ex(function(x) a$f(x)^4)
      d2 <- ex(function(x) a$df(x)^2)
      d4 <- ex(function(x) a$df(x)^4)
      kk <- if (isTRUE(f2 > 0)) f4 / f2^2 - 1 else 2
      rr <- if (isTRUE(d2 > 0)) d4 / d2^2 else 1
      cu <- cu * (1 + kk / n)
      cd <- cd * (1 + (3 * rr - 1) / n)
      m2 <- fk$m2_z
      mu <- fk$mean_z
    }
  }
  kf <- (4 * (1 - sh) * sh + 2 * sh^2) / n + sh^2 * (cu - 1)
  ps <- if (l$norm == "pre") 1 + (1 - sh)^2 * (pz - 1) + kf else pz * (1 + kf)
  pz_next <- if (l$norm == "post") 1 else ps
  bg <- fwd$back_gain
  sb <- if (bg > 0) fwd$branch_back / bg else 0
  kb <- (4 * (1 - sb) * sb + 2 * sb^2) / n + sb^2 * (cd - 1)
  back <- (1 + kb) * (if (l$norm == "pre") 1 + sb^2 * (pz - 1) else 1)
  list(ps = ps, pz = pz_next, back = back)
}

#' Variance and gradient growth through the depth of a residual network
#'
#' `residual_depth_profile()` is the depth analysis of a [resmlp()] network,
#' as [fixed_point()] is for dense stacks: block by block, the predicted
#' variance of the block's output and of the gradient at its input, their
#' ratios to the first block's input, the per-block factors, and what a
#' stack of `depth` blocks gives under each law (geometric without
#' normalization, linear with pre-normalization, constant with
#' post-normalization). The predictions are [predict_variance()]'s.
#'
#' @param net A network from [resmlp()].
#' @param var_x,var_grad Input variance and output-gradient variance.
#' @param regime `"mean_field"` (exact at infinite width) or `"linear"`.
#' @return A data frame of class `initvar_depth_profile`, one row per
#'   residual block: `block`, `var_x` (the block's output), `ratio`
#'   (\eqn{Var(x_l) / Var(x_0)}), `forward_factor` (\eqn{Var(x_l) /
#'   Var(x_{l-1})}), `branch_share` (the branch's share of the sum's
#'   variance), `var_grad_x` (the gradient at the block's input),
#'   `grad_ratio` (against the gradient at the last block's sum \eqn{h}) and
#'   `backward_factor`; attribute `law`: `"geometric"`, `"linear"` or
#'   `"constant"`.
#' @examples
#' net <- resmlp(256, depth = 20, "relu", list(init_he(), init_lecun()), branch_depth = 2,
#'               alpha = 0.5)
#' p <- residual_depth_profile(net)
#' head(p)
#' p$ratio[20]     # (1 + 0.25)^20
#' residual_growth(depth = 20, alpha = 0.5, gains = c(1, 1))
#' @export
residual_depth_profile <- function(net, var_x = 1, var_grad = 1,
                                   regime = c("mean_field", "linear")) {
  if (!inherits(net, "initvar_resmlp")) abort_arg("net", "a network from `resmlp()`", net)
  check_mlp(net)
  check_number(var_x, "var_x", min = 0, min_open = TRUE)
  check_number(var_grad, "var_grad", min = 0, min_open = TRUE)
  regime <- check_choice(regime, c("mean_field", "linear"), "regime")
  layers <- net_layers(net)
  p <- predict_variance(net, var_x, var_grad, regime = regime)
  res <- which(vapply(layers, `[[`, "", "kind") == "residual")
  first <- res[1]
  v_in <- if (first == 1) var_x else p$var_z[first - 1]
  vz <- p$var_z[res]
  vprev <- c(v_in, vz[-length(vz)])
  m2_prev <- c(if (first == 1) var_x else p$var_z[first - 1] + p$mean_z[first - 1]^2,
               (p$var_z + p$mean_z^2)[res[-length(res)]])
  mean_prev <- c(if (first == 1) 0 else p$mean_z[first - 1], p$mean_z[res[-length(res)]])
  fw <- lapply(seq_along(res), function(j) {
    residual_forward(layers[[res[j]]], m2_prev[j], mean_prev[j], regime)
  })
  share <- vapply(fw, function(f) if (f$var_s > 0) f$var_branch / f$var_s else 0, 0)
  g_in <- vapply(seq_along(res), function(j) fw[[j]]$back_gain * p$var_grad_s[res[j]], 0)
  # the gradient at the last block's sum h, where the backward pass starts
  g_top <- p$var_grad_s[res[length(res)]]
  out <- data.frame(block = seq_along(res), var_x = vz, ratio = vz / v_in,
                    forward_factor = vz / vprev, branch_share = share,
                    var_grad_x = g_in, grad_ratio = g_in / g_top,
                    backward_factor = g_in / c(g_in[-1], g_top))
  attr(out, "law") <- switch(net$residual$norm, none = "geometric", pre = "linear",
                             post = "constant")
  attr(out, "regime") <- regime
  class(out) <- c("initvar_depth_profile", "data.frame")
  out
}

#' @export
print.initvar_depth_profile <- function(x, ...) {
  cat(sprintf("<initvar depth profile> %d blocks, %s regime: Var(x_l) %s in depth\n",
              nrow(x), attr(x, "regime"),
              switch(attr(x, "law"), geometric = "grows geometrically",
                     linear = "grows linearly", constant = "is constant")))
  print(as.data.frame(unclass(x))[, names(x)], row.names = FALSE, digits = 4)
  invisible(x)
}
