# Parametrizations as data: SP, NTK, muP and the depth family (depth-muP,
# CompleteP), as a table of width and depth exponents per parameter group.

parametrization_names <- c("sp", "ntk", "mup", "depth_mup", "completep")
parametrization_groups <- c("input", "hidden", "query", "output", "bias", "attention", "branch")
parametrization_cols <- c("init_var", "multiplier", "lr_sgd", "lr_adam", "eps",
                          "multiplier_depth", "lr_sgd_depth", "lr_adam_depth", "eps_depth")

#' Parametrizations as data: SP, NTK, muP, depth-muP and CompleteP
#'
#' `parametrization(name)` returns a parametrization as a table of exponents,
#' one row per parameter group, so that a quantity of group \eqn{g} at width
#' multiplier \eqn{m_N = n / n_0} and depth multiplier \eqn{m_L = L / L_0}
#' (base width \eqn{n_0}, base depth \eqn{L_0}) is its base value times
#' \eqn{m_N^{e} m_L^{e_L}}, with \eqn{e} the group's width exponent and
#' \eqn{e_L} its depth exponent. It is data, printed with its source; it does
#' not build a network (see "How it plugs in").
#'
#' @section Groups and columns:
#' Groups: `input` (weights reading the network's input, whose fan-in does
#' not grow; embeddings), `hidden` (weights from width to width), `query`
#' (attention's \eqn{W_Q}, a hidden weight that muP may start at zero),
#' `output` (the read-out), `bias` (every bias, and layer-norm gains),
#' `attention` (the multiplier of the attention logits \eqn{q^\top k}, an
#' exponent of \eqn{d_k}), `branch` (the residual branch multiplier).
#' Width columns: `init_var` (initialization variance of the trained
#' parameter), `multiplier` (a constant the parameter is multiplied by in the
#' forward pass), `lr_sgd` and `lr_adam` (learning rates), `eps` (Adam's
#' \eqn{\epsilon}). Depth columns: `multiplier_depth`, `lr_sgd_depth`,
#' `lr_adam_depth`, `eps_depth`. `zero` marks groups muP initializes to zero
#' (read-out and query; optional in Tensor Programs V, recommended there).
#' A depth exponent 0 in SP, NTK and muP means "no depth scaling", not a
#' claim that the result is depth-invariant.
#'
#' @section The exponents:
#' Width (hidden fan-in \eqn{n}; the input's fan-in is fixed, so its
#' \eqn{1/\mathrm{fan\_in}} has exponent 0):
#'
#' | group | SP var | NTK var, mult | muP var | muP SGD lr | muP Adam lr | muP eps |
#' |---|---|---|---|---|---|---|
#' | input | 0 | 0, 0 | 0 | +1 | 0 | -1 |
#' | hidden | -1 | 0, -1/2 | -1 | 0 | -1 | -1 |
#' | query | -1 | 0, -1/2 | -1 (or 0 init) | 0 | -1 | -1 |
#' | output | -1 | 0, -1/2 | -2 (or 0 init) | -1 | -1 | 0 |
#' | bias | 0 | 0, 0 | 0 | +1 | 0 | -1 |
#'
#' SP and NTK use width-independent learning rates and \eqn{\epsilon} (as
#' practised), and the attention multiplier \eqn{d_k^{-1/2}}; muP uses
#' \eqn{d_k^{-1}}. The muP rows are Tensor Programs V's Table 3 (the
#' formulation with all multipliers 1). The \eqn{\epsilon} exponents are
#' derived, not tabulated there: under muP the gradient entries of the
#' input, hidden and bias parameters are \eqn{\Theta(1/n)} (the backward
#' signal is \eqn{\Theta(1/n)} per coordinate because the read-out is) and
#' those of the read-out are \eqn{\Theta(1)}; \eqn{\epsilon} must scale as the
#' gradient it is added to, or it dominates Adam's denominator at large
#' width (the term EleutherAI's nanoGPT-mup added to its CompleteP branch).
#'
#' Depth (Dey et al. 2025, the branch multiplier \eqn{L^{-\alpha}},
#' \eqn{\alpha \in [1/2, 1]}; \eqn{\alpha = 1/2} is depth-muP, Yang et al.
#' 2023 and Bordelon et al. 2023, and \eqn{\alpha = 1} is CompleteP). Width
#' exponents are muP's. For the `hidden`, `query` and `bias` groups (the
#' parameters inside residual branches): Adam learning rate \eqn{L^{\alpha -
#' 1}} and \eqn{\epsilon} \eqn{L^{-\alpha}} (Dey et al. 2025, Table 1), and
#' SGD learning rate \eqn{L^{2\alpha - 1}}, derived: a branch weight's
#' gradient carries one factor \eqn{L^{-\alpha}} and its update reaches the
#' output through another, so an SGD step moves each block's output by
#' \eqn{\eta L^{-2\alpha}}, and \eqn{\Theta(1/L)} per block (a
#' \eqn{\Theta(1)} total) needs \eqn{\eta \propto L^{2\alpha - 1}}; an Adam
#' step is normalized, moves each block by \eqn{\eta L^{-\alpha}}, and needs
#' \eqn{\eta \propto L^{\alpha - 1}}; the \eqn{\epsilon} follows the gradient's
#' \eqn{L^{-\alpha}}. Input and read-out have no depth exponent.
#'
#' @section How it plugs in:
#' A parametrization is applied to a net of a given width and depth by its
#' factors: with `width`, `depth`, `base_width` and `base_depth` given, the
#' table gains the columns `*_factor` (\eqn{m_N^e m_L^{e_L}}), which multiply
#' a base net's initialization variances (through a scheme's `gain`, the
#' square root of the variance factor), its residual `alpha` (the
#' `branch` row) and its per-group learning rates and \eqn{\epsilon}.
#' `coordinate_check(parametrization = )` builds `net_fun(width)` or
#' `net_fun(width, depth)` and scales each group by
#' these factors: [coordinate_check()] does that (its section
#' "Parametrizations" says how each group is found and scaled), and
#' [mup_bugs()] edits these tables to inject bugs.
#'
#' @param name One of `"sp"`, `"ntk"`, `"mup"`, `"depth_mup"`,
#'   `"completep"`.
#' @param alpha The depth family's branch exponent, a number in
#'   \eqn{[1/2, 1]}; `NULL` (default) gives 1/2 for `"depth_mup"` and 1 for
#'   `"completep"`. Must be `NULL` for `"sp"`, `"ntk"` and `"mup"`.
#' @param width,depth Optional: the width and depth at which to evaluate the
#'   factors (numbers >= 1). `depth` needs `width`.
#' @param base_width,base_depth The base shape the factors are relative to.
#' @return An object of class `initvar_parametrization`: `name`, `label`,
#'   `alpha` (`NA` outside the depth family), `table` (a data frame, one row
#'   per group, columns `group`, the exponents above, `zero`, and with
#'   `width` given the `*_factor` columns), `reference` and `note`.
#' @references
#' Yang, G. and Hu, E. J. (2021). Tensor Programs IV: feature learning in
#' infinite-width neural networks. ICML.
#'
#' Yang, G., Hu, E. J. et al. (2022). Tensor Programs V: tuning large neural
#' networks via zero-shot hyperparameter transfer. arXiv:2203.03466.
#'
#' Yang, G., Yu, D., Zhu, C. and Hayou, S. (2023). Tensor Programs VI:
#' feature learning in infinite-depth neural networks. arXiv:2310.02244.
#'
#' Bordelon, B., Noci, L., Li, M. B., Hanin, B. and Pehlevan, C. (2023).
#' Depthwise hyperparameter transfer in residual networks. arXiv:2309.16620.
#'
#' Dey, N., Zhang, B. C., Noci, L., Li, M., Bordelon, B., Bergsma, S.,
#' Pehlevan, C., Hanin, B. and Hestness, J. (2025). Don't be lazy: CompleteP
#' enables compute-efficient deep transformers. arXiv:2505.01618.
#' @examples
#' parametrization("mup")
#' p <- parametrization("completep", width = 1024, depth = 32, base_width = 256,
#'                      base_depth = 4)
#' p$table[, c("group", "lr_adam_factor", "eps_factor")]
#' parametrization("depth_mup", alpha = 0.75)$table$multiplier_depth
#' @export
parametrization <- function(name, alpha = NULL, width = NULL, depth = NULL,
                            base_width = 1, base_depth = 1) {
  name <- check_choice(name, parametrization_names, "name")
  family <- name %in% c("depth_mup", "completep")
  if (is.null(alpha)) {
    alpha <- if (name == "depth_mup") 0.5 else if (name == "completep") 1 else NA_real_
  } else {
    if (!family) {
      abort(sprintf("`alpha` must be NULL for name = \"%s\" (only the depth family, \"depth_mup\" and \"completep\", has a branch exponent).", name))
    }
    alpha <- check_number(alpha, "alpha", min = 0.5, max = 1)
  }
  base_width <- check_number(base_width, "base_width", min = 1, max = 1e15)
  base_depth <- check_number(base_depth, "base_depth", min = 1, max = 1e15)
  if (!is.null(width)) width <- check_number(width, "width", min = 1, max = 1e15)
  if (!is.null(depth)) {
    if (is.null(width)) abort("`depth` needs `width`: give both, or only `width`.")
    depth <- check_number(depth, "depth", min = 1, max = 1e15)
  }
  g <- parametrization_groups
  tab <- data.frame(group = g, matrix(0, length(g), length(parametrization_cols),
                                      dimnames = list(NULL, parametrization_cols)),
                    zero = FALSE, stringsAsFactors = FALSE)
  set <- function(col, values) {
    tab[match(names(values), g), col] <<- unname(values)
  }
  width_only <- c("init_var", "multiplier", "lr_sgd", "lr_adam", "eps")
  tab[g %in% c("attention", "branch"), c("init_var", "lr_sgd", "lr_adam", "eps")] <- NA
  tab[g == "attention", c("multiplier_depth", "lr_sgd_depth", "lr_adam_depth", "eps_depth")] <- NA
  tab[g == "branch", c("lr_sgd_depth", "lr_adam_depth", "eps_depth")] <- NA
  tab[g == "branch", "multiplier"] <- NA
  switch(name,
    sp = {
      set("init_var", c(hidden = -1, query = -1, output = -1))
      set("multiplier", c(attention = -0.5))
    },
    ntk = {
      set("multiplier", c(hidden = -0.5, query = -0.5, output = -0.5, attention = -0.5))
    },
    {
      set("init_var", c(hidden = -1, query = -1, output = -2))
      set("multiplier", c(attention = -1))
      set("lr_sgd", c(input = 1, hidden = 0, query = 0, output = -1, bias = 1))
      set("lr_adam", c(input = 0, hidden = -1, query = -1, output = -1, bias = 0))
      set("eps", c(input = -1, hidden = -1, query = -1, output = 0, bias = -1))
      tab$zero[g %in% c("query", "output")] <- TRUE
    })
  if (family) {
    inner <- c("hidden", "query", "bias")
    tab[match("branch", g), "multiplier_depth"] <- -alpha
    tab[match(inner, g), "lr_sgd_depth"] <- 2 * alpha - 1
    tab[match(inner, g), "lr_adam_depth"] <- alpha - 1
    tab[match(inner, g), "eps_depth"] <- -alpha
  }
  if (!is.null(width)) {
    mN <- width / base_width
    mL <- if (is.null(depth)) 1 else depth / base_depth
    for (q in width_only) {
      eL <- tab[[paste0(q, "_depth")]]
      if (is.null(eL)) eL <- 0
      f <- mN^tab[[q]] * mL^ifelse(is.na(eL), 0, eL)
      if (q == "multiplier") {
        f[g == "branch"] <- mL^tab$multiplier_depth[g == "branch"]
        f[g == "attention"] <- NA
      }
      tab[[paste0(q, "_factor")]] <- f
    }
  }
  labels <- c(sp = "standard parametrization (SP)", ntk = "neural tangent parametrization (NTK)",
              mup = "maximal update parametrization (muP)",
              depth_mup = "depth family, branch L^-alpha",
              completep = "depth family, branch L^-alpha")
  label <- labels[[name]]
  if (family) {
    label <- sprintf("%s, alpha = %s%s", label, format(signif(alpha, 4)),
                     if (alpha == 0.5) " (depth-muP)" else if (alpha == 1) " (CompleteP)" else "")
  }
  reference <- switch(name,
    sp = "He et al. (2015) / LeCun et al. (1998): variance 1/fan_in, global learning rate",
    ntk = "Jacot, Gabriel & Hongler (2018): N(0, 1) parameters, multipliers 1/sqrt(fan_in)",
    mup = "Yang et al. (2022), Tensor Programs V, Table 3; eps exponents derived",
    paste("width: Tensor Programs V, Table 3; depth: Dey et al. (2025), Table 1",
          "(Adam lr, eps); SGD lr exponent derived"))
  note <- if (!is.null(width)) {
    sprintf("factors at width %s (base %s)%s", format(width), format(base_width),
            if (is.null(depth)) "" else sprintf(", depth %s (base %s)", format(depth), format(base_depth)))
  }
  structure(list(name = name, label = label, alpha = alpha, table = tab,
                 width = width, depth = depth, base_width = base_width, base_depth = base_depth,
                 reference = reference, note = note),
            class = "initvar_parametrization")
}

#' @export
print.initvar_parametrization <- function(x, ...) {
  cat("<initvar parametrization> ", x$label, "\n", sep = "")
  tab <- x$table
  fmt <- function(v) ifelse(is.na(v), "-", formatC(v, format = "fg", digits = 3))
  cat("  width exponents (of m_N = n / n_0):\n")
  print(data.frame(group = tab$group, init_var = fmt(tab$init_var), mult = fmt(tab$multiplier),
                   lr_sgd = fmt(tab$lr_sgd), lr_adam = fmt(tab$lr_adam), eps = fmt(tab$eps),
                   zero_init = ifelse(tab$zero, "yes", ""), stringsAsFactors = FALSE),
        row.names = FALSE, right = TRUE)
  cat("  depth exponents (of m_L = L / L_0; hidden, query, bias: inside branches):\n")
  print(data.frame(group = tab$group, mult = fmt(tab$multiplier_depth),
                   lr_sgd = fmt(tab$lr_sgd_depth), lr_adam = fmt(tab$lr_adam_depth),
                   eps = fmt(tab$eps_depth), stringsAsFactors = FALSE),
        row.names = FALSE, right = TRUE)
  cat("  attention: multiplier of q.k as a power of d_k; branch: residual multiplier\n")
  if (!is.null(x$note)) cat("  ", x$note, " (table$*_factor)\n", sep = "")
  cat("  source: ", x$reference, "\n", sep = "")
  invisible(x)
}

#' @export
as.data.frame.initvar_parametrization <- function(x, row.names = NULL, optional = FALSE, ...) {
  x$table
}
