# Depth-scaling rules for residual networks, as data: the per-branch
# multipliers and weight gains each paper prescribes, with the closed-form
# variance growth of a linear residual stack.

scaling_rule_names <- c("standard", "fixup", "skipinit", "rezero", "deepnet", "tfixup", "depth_mup")

#' Depth-scaling rules for residual networks
#'
#' `scaling_rule(name, depth, ...)` returns what a rule prescribes for a
#' residual block \eqn{x_{l+1} = \mathrm{skip} \cdot x_l + \alpha \cdot
#' F(x_l)} in a stack of `depth` blocks, whose branch \eqn{F} has
#' `branch_depth` weight layers: the skip multiplier, the branch multiplier
#' \eqn{\alpha}, and the gains of the branch's weight layers (multipliers of
#' the standard deviation a variance-preserving base initialization, He or
#' Xavier, would give them). `scaling_rules()` tabulates every rule at given
#' depths with its linear-stack variance growth ([residual_growth()]).
#'
#' | rule | skip | \eqn{\alpha} | branch gains |
#' |---|---|---|---|
#' | `"standard"` (He et al. 2016) | 1 | 1 | 1 |
#' | `"fixup"` (Zhang et al. 2019) | 1 | 1 (scalar multiplier) | \eqn{L^{-1/(2m-2)}} for layers \eqn{1..m-1}, 0 for the last |
#' | `"skipinit"` (De & Smith 2020) | 1 | 0 (learnable scalar) | 1 |
#' | `"rezero"` (Bachlechner et al. 2021) | 1 | 0 (learnable scalar, no normalization) | 1 |
#' | `"deepnet"` (Wang et al. 2022) | \eqn{\alpha_{DN}} (`LN(alpha x + G(x))`) | 1 | \eqn{\beta} (FFN, value and output projections) |
#' | `"tfixup"` (Huang et al. 2020) | 1 | 1 | \eqn{0.67 N^{-1/4}} encoder, \eqn{(9M)^{-1/4}} decoder |
#' | `"depth_mup"` (Yang et al. 2023; Bordelon et al. 2023) | 1 | \eqn{a / \sqrt{L}} | 1 |
#'
#' @section Fixup:
#' For \eqn{m \ge 2} layers per branch, Fixup initializes the last layer of
#' each branch (and the classifier) to 0 and scales the others by
#' \eqn{L^{-1/(2m-2)}}, so that the \eqn{m - 1} scaled layers multiply the
#' branch's variance by \eqn{L^{-1}} and an SGD step changes the output by
#' \eqn{\Theta(\eta / L)} per branch. With `zero_last = FALSE` the last layer
#' keeps its base gain 1 (the scaling without the zero): the linear stack then
#' grows by \eqn{(1 + 1/L)^L < e}, bounded in depth. For \eqn{m = 1} the
#' exponent \eqn{-1/(2m-2)} is \eqn{-1/0}, undefined: the branch is its own
#' last layer, initialized to 0, so there is no other layer to rescale; the
#' rule returned is the zero branch (gain 0), and Fixup's per-branch
#' \eqn{\Theta(\eta/L)} update would have to come from the learning rate
#' (dividing each branch's by \eqn{L}), not from the initialization.
#'
#' @section DeepNet:
#' DeepNorm computes \eqn{x_{l+1} = LN(\alpha x_l + G(x_l))} and initializes
#' the feed-forward, value and output projection weights with Xavier of gain
#' \eqn{\beta} (query and key projections with gain 1). The constants as
#' published (Wang et al. 2022, Fig. 2 / Table 1), with \eqn{N} encoder and
#' \eqn{M} decoder layers:
#'
#' | architecture | \eqn{\alpha} | \eqn{\beta} |
#' |---|---|---|
#' | encoder-only | \eqn{(2N)^{1/4}} | \eqn{(8N)^{-1/4}} |
#' | decoder-only | \eqn{(2M)^{1/4}} | \eqn{(8M)^{-1/4}} |
#' | encoder-decoder, encoder | \eqn{0.81 (N^4 M)^{1/16}} | \eqn{0.87 (N^4 M)^{-1/16}} |
#' | encoder-decoder, decoder | \eqn{(3M)^{1/4}} | \eqn{(12M)^{-1/4}} |
#'
#' The public code (microsoft/torchscale, `torchscale/architecture/encoder.py`)
#' divides the encoder's weights by \eqn{(N^4 M)^{1/16} / 1.15}, that is
#' \eqn{\beta = 1.15 (N^4 M)^{-1/16}}, 1.32 times the paper's (\eqn{0.87
#' \approx 1 / 1.15}: the code multiplies where the paper divides). initvar
#' implements the paper by default; `source = "torchscale"` gives the code's
#' value. Both agree on \eqn{\alpha} and on the other architectures.
#' In a DeepNorm stack the layer normalization resets the variance after
#' every block, so the linear-stack growth of [residual_growth()] (which has
#' no normalization) is not what a DeepNet shows; `branch_share`, the
#' branch's share of the variance entering the normalization, is.
#'
#' @section T-Fixup:
#' Xavier initialization everywhere except the input embeddings
#' (Gaussian, \eqn{N(0, d^{-1/2})} in the paper's notation), then the value
#' and output projections of every attention block and the weights of every
#' MLP block scaled by \eqn{0.67 N^{-1/4}} in the encoder and by
#' \eqn{(9M)^{-1/4}} in the decoder, as are the input embeddings (element
#' `embedding_gain`); no normalization, no warm-up.
#'
#' @section Depth-muP:
#' The branch multiplier is \eqn{a / \sqrt{L}} (Yang et al. 2023, "Depth-muP";
#' Bordelon et al. 2023): each block adds \eqn{a^2 / L} of variance, so the
#' linear stack grows by \eqn{(1 + a^2 / L)^L \to e^{a^2}}, finite at
#' infinite depth.
#'
#' @param name The rule: one of `"standard"`, `"fixup"`, `"skipinit"`,
#'   `"rezero"`, `"deepnet"`, `"tfixup"`, `"depth_mup"`.
#' @param depth Number of residual blocks \eqn{L}; for `"deepnet"` and
#'   `"tfixup"`, the encoder's \eqn{N} (or, for a decoder-only DeepNet, its
#'   \eqn{M}).
#' @param branch_depth Weight layers per branch \eqn{m} (2 for a transformer's
#'   FFN and for the value-output path of attention).
#' @param zero_last Fixup: whether the branch's last layer starts at 0.
#' @param architecture DeepNet: `"encoder"` (encoder-only), `"decoder"`
#'   (decoder-only) or `"encoder_decoder"`.
#' @param part DeepNet encoder-decoder and T-Fixup: the stack the constants
#'   are for, `"encoder"` or `"decoder"`.
#' @param decoder_depth DeepNet encoder-decoder and T-Fixup: the decoder's
#'   number of layers \eqn{M} (default `depth`).
#' @param source DeepNet: `"paper"` or `"torchscale"` (see above).
#' @param a Depth-muP's branch constant.
#' @return `scaling_rule()`: an object of class `initvar_scaling_rule` with
#'   `name`, `label`, `depth`, `branch_depth`, `skip`, `alpha`, `gains` (one
#'   per branch layer), `per_block` (\eqn{skip^2 + \alpha^2 \prod g_i^2}),
#'   `branch_share`, `targets` (which weights the gains apply to),
#'   `reference` and `note`. `scaling_rules()`: a data frame with one row per
#'   rule and depth.
#' @references
#' He, K., Zhang, X., Ren, S. and Sun, J. (2016). Deep residual learning for
#' image recognition. CVPR.
#'
#' Zhang, H., Dauphin, Y. N. and Ma, T. (2019). Fixup initialization:
#' residual learning without normalization. ICLR.
#'
#' De, S. and Smith, S. L. (2020). Batch normalization biases residual blocks
#' towards the identity function in deep networks. NeurIPS.
#'
#' Bachlechner, T., Majumder, B. P., Mao, H. H., Cottrell, G. W. and
#' McAuley, J. (2021). ReZero is all you need: fast convergence at large
#' depth. UAI.
#'
#' Huang, X. S., Perez, F., Ba, J. and Volkovs, M. (2020). Improving
#' transformer optimization through better initialization. ICML.
#'
#' Wang, H., Ma, S., Dong, L., Huang, S., Zhang, D. and Wei, F. (2022).
#' DeepNet: scaling transformers to 1,000 layers. arXiv:2203.00555.
#'
#' Yang, G., Yu, D., Zhu, C. and Hayou, S. (2023). Tensor Programs VI:
#' feature learning in infinite-depth neural networks. arXiv:2310.02244.
#'
#' Bordelon, B., Noci, L., Li, M. B., Hanin, B. and Pehlevan, C. (2023).
#' Depthwise hyperparameter transfer in residual networks. arXiv:2309.16620.
#' @examples
#' scaling_rule("fixup", depth = 16, branch_depth = 2)
#' scaling_rule("deepnet", depth = 6, architecture = "encoder_decoder", decoder_depth = 6)
#' scaling_rule("deepnet", depth = 6, architecture = "encoder_decoder", decoder_depth = 6,
#'              source = "torchscale")$gains
#' scaling_rules(depth = c(10, 100))
#' @export
scaling_rule <- function(name, depth, branch_depth = 2, zero_last = TRUE,
                         architecture = c("encoder", "decoder", "encoder_decoder"),
                         part = c("encoder", "decoder"), decoder_depth = depth,
                         source = c("paper", "torchscale"), a = 1) {
  name <- check_choice(name, scaling_rule_names, "name")
  depth <- check_whole(depth, "depth", max = 1e8)
  branch_depth <- check_whole(branch_depth, "branch_depth", max = 1000)
  check_flag(zero_last, "zero_last")
  architecture <- check_choice(architecture, c("encoder", "decoder", "encoder_decoder"), "architecture")
  part <- check_choice(part, c("encoder", "decoder"), "part")
  decoder_depth <- check_whole(decoder_depth, "decoder_depth", max = 1e8)
  source <- check_choice(source, c("paper", "torchscale"), "source")
  a <- check_number(a, min = 0, max = 1e100)
  L <- depth
  m <- branch_depth
  ones <- rep(1, m)
  rule <- switch(name,
    standard = list(label = "standard residual (no depth scaling)", skip = 1, alpha = 1,
                    gains = ones, targets = "every branch layer",
                    reference = "He et al. (2016)", note = NULL),
    fixup = {
      if (m == 1) {
        list(label = "Fixup, m = 1", skip = 1, alpha = 1, gains = if (zero_last) 0 else 1,
             targets = "the branch's only layer",
             reference = "Zhang, Dauphin & Ma (2019)",
             note = paste0("L^(-1/(2m-2)) is undefined for m = 1: the branch is its own last ",
                           "layer, initialized to 0 (zero_last = TRUE), with no other layer to ",
                           "rescale; the Theta(lr / L) update per branch would need the branch's ",
                           "learning rate divided by L."))
      } else {
        g <- L^(-1 / (2 * m - 2))
        list(label = sprintf("Fixup, m = %d: L^(-1/%d) = %s", as.integer(m), as.integer(2 * m - 2),
                             format(signif(g, 4))),
             skip = 1, alpha = 1, gains = c(rep(g, m - 1), if (zero_last) 0 else 1),
             targets = sprintf("branch layers 1..%d scaled, layer %d %s", as.integer(m - 1),
                               as.integer(m), if (zero_last) "zero" else "unscaled (zero_last = FALSE)"),
             reference = "Zhang, Dauphin & Ma (2019)",
             note = "also: the classification layer starts at 0; scalar multipliers (1) and biases (0) per branch")
      }
    },
    skipinit = list(label = "SkipInit: alpha = 0", skip = 1, alpha = 0, gains = ones,
                    targets = "the learnable scalar alpha of each branch",
                    reference = "De & Smith (2020)",
                    note = "alpha is a learnable scalar initialized to 0 (or a small constant); normalization is removed"),
    rezero = list(label = "ReZero: alpha = 0", skip = 1, alpha = 0, gains = ones,
                  targets = "the learnable scalar alpha of each branch",
                  reference = "Bachlechner et al. (2021)",
                  note = "x + alpha F(x) with alpha a learnable scalar initialized to 0, no normalization"),
    deepnet = {
      N <- L; M <- decoder_depth
      ab <- switch(architecture,
        encoder = c((2 * N)^(1 / 4), (8 * N)^(-1 / 4)),
        decoder = c((2 * N)^(1 / 4), (8 * N)^(-1 / 4)),
        encoder_decoder = if (part == "encoder") {
          c(0.81 * (N^4 * M)^(1 / 16),
            (if (source == "paper") 0.87 else 1.15) * (N^4 * M)^(-1 / 16))
        } else {
          c((3 * M)^(1 / 4), (12 * M)^(-1 / 4))
        })
      list(label = sprintf("DeepNet (%s%s, %s): alpha = %s, beta = %s", architecture,
                           if (architecture == "encoder_decoder") paste0(" ", part) else "",
                           source, format(signif(ab[1], 4)), format(signif(ab[2], 4))),
           skip = ab[1], alpha = 1, gains = rep(ab[2], m),
           targets = "Xavier gain beta on the FFN, value and output projections (query, key: 1)",
           reference = "Wang et al. (2022); microsoft/torchscale",
           note = paste0("x_{l+1} = LN(alpha x + G(x)): the normalization resets the variance ",
                         "after every block; see branch_share"))
    },
    tfixup = {
      g <- if (part == "encoder") 0.67 * L^(-1 / 4) else (9 * decoder_depth)^(-1 / 4)
      list(label = sprintf("T-Fixup (%s): %s", part, format(signif(g, 4))), skip = 1, alpha = 1,
           gains = rep(g, m), embedding_gain = (9 * decoder_depth)^(-1 / 4),
           targets = "value and output projections of each attention block, both MLP layers (Xavier base)",
           reference = "Huang, Perez, Ba & Volkovs (2020)",
           note = "input embeddings N(0, d^(-1/2)) scaled by (9M)^(-1/4); no normalization, no warm-up")
    },
    depth_mup = list(label = sprintf("depth-muP: alpha = %s / sqrt(L) = %s", format(a),
                                     format(signif(a / sqrt(L), 4))),
                     skip = 1, alpha = a / sqrt(L), gains = ones,
                     targets = "the branch multiplier", reference = "Yang et al. (2023); Bordelon et al. (2023)",
                     note = NULL))
  rule$name <- name
  rule$architecture <- architecture
  rule$part <- part
  rule$decoder_depth <- decoder_depth
  rule$source <- source
  rule$depth <- L
  rule$branch_depth <- m
  rule$per_block <- rule$skip^2 + rule$alpha^2 * prod(rule$gains^2)
  rule$branch_share <- rule$alpha^2 * prod(rule$gains^2) / rule$per_block
  structure(rule, class = "initvar_scaling_rule")
}

#' @export
print.initvar_scaling_rule <- function(x, ...) {
  cat("<initvar scaling rule> ", x$label, "\n", sep = "")
  cat(sprintf("  depth L = %s, %s layer(s) per branch\n", format(x$depth), format(x$branch_depth)))
  cat(sprintf("  block: %s * x + %s * F(x); branch gains %s\n", format(signif(x$skip, 4)),
              format(signif(x$alpha, 4)), paste(format(signif(x$gains, 4)), collapse = ", ")))
  cat("  applies to: ", x$targets, "\n", sep = "")
  cat(sprintf("  linear stack: x %s per block, %s over L blocks; branch share %s\n",
              format(signif(x$per_block, 5)), format(signif(residual_growth(x), 5)),
              format(signif(x$branch_share, 4))))
  if (!is.null(x$note)) cat("  note: ", x$note, "\n", sep = "")
  cat("  reference: ", x$reference, "\n", sep = "")
  invisible(x)
}

#' @rdname scaling_rule
#' @param ... Further arguments for `scaling_rule()` (e.g. `branch_depth`).
#' @export
scaling_rules <- function(depth = c(10, 100), ...) {
  if (!is.numeric(depth) || length(depth) < 1) abort_arg("depth", "a vector of positive whole numbers", depth)
  rows <- list()
  for (nm in scaling_rule_names) {
    for (L in depth) {
      r <- scaling_rule(nm, L, ...)
      rows[[length(rows) + 1]] <- data.frame(
        rule = nm, label = r$label, depth = L, skip = r$skip, alpha = r$alpha,
        gain_first = r$gains[1], gain_last = r$gains[length(r$gains)],
        per_block = r$per_block, growth = residual_growth(r), branch_share = r$branch_share,
        reference = r$reference, stringsAsFactors = FALSE)
    }
  }
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  out
}

#' Variance growth of a linear residual stack
#'
#' The exact ratio \eqn{E|x_L|^2 / |x_0|^2} for \eqn{L} blocks
#' \eqn{x_{l+1} = \mathrm{skip}\, x_l + \alpha\, W_m \cdots W_1 x_l} of
#' width \eqn{n}, where \eqn{W_i} has independent mean-zero entries of
#' variance \eqn{g_i^2 / n} (a variance-preserving base initialization times
#' the gain \eqn{g_i}), drawn afresh for every block:
#' \deqn{E|x_L|^2 / |x_0|^2 = (\mathrm{skip}^2 + \alpha^2 \prod_i g_i^2)^L.}
#' It is exact at every width and for every input \eqn{x_0}: given
#' \eqn{x_l}, the cross term has mean 0 and \eqn{E|W y|^2 = g^2 |y|^2} for
#' \eqn{W} independent of \eqn{y}, so each block multiplies the expected
#' squared norm by \eqn{\mathrm{skip}^2 + \alpha^2 \prod g_i^2}, and the
#' blocks chain by the tower property. (With nonlinear branches, normalization
#' or attention the growth needs the network engine.)
#'
#' @param rule A rule from [scaling_rule()], or `NULL` to give `skip`,
#'   `alpha` and `gains` directly.
#' @param depth Number of blocks \eqn{L} (a vector gives one ratio each);
#'   default the rule's depth.
#' @param skip,alpha Skip and branch multipliers, for `rule = NULL` (a rule
#'   sets its own: giving them with a `rule` is an error).
#' @param gains Gains of the branch's layers, for `rule = NULL`.
#' @return The ratio, one per `depth`.
#' @examples
#' residual_growth(depth = c(10, 100))                   # 2^L
#' residual_growth(scaling_rule("depth_mup", 100))       # (1 + 1/100)^100
#' residual_growth(depth = 10, skip = 1, alpha = 0.5, gains = c(1, 1))
#' @export
residual_growth <- function(rule = NULL, depth = rule$depth, skip = 1, alpha = 1, gains = 1) {
  if (!is.null(rule)) {
    check_rule_object(rule, "rule")
    # the rule sets the multipliers: a `skip` given too would be ignored
    given <- c(skip = !missing(skip), alpha = !missing(alpha), gains = !missing(gains))
    if (any(given)) {
      arg <- names(given)[given][1]
      abort(sprintf(paste0(
        "`%s` must not be given with `rule`: the rule sets `skip`, `alpha` and `gains` ",
        "(this one: %s). Give `rule = NULL` to set them directly."), arg,
        paste(sprintf("%s = %s", c("skip", "alpha", "gains"),
                      vapply(list(rule$skip, rule$alpha, rule$gains), function(v) {
                        v <- as.character(signif(v, 4))
                        if (length(v) > 1) sprintf("c(%s)", paste(v, collapse = ", ")) else v
                      }, "")),
              collapse = ", ")))
    }
    skip <- rule$skip
    alpha <- rule$alpha
    gains <- rule$gains
  } else {
    skip <- check_number(skip, "skip")
    alpha <- check_number(alpha, "alpha")
    if (!is.numeric(gains) || length(gains) < 1 || any(!is.finite(gains))) {
      abort_arg("gains", "a vector of finite numbers", gains)
    }
  }
  if (is.null(depth)) abort("`depth` is missing: give `depth`, or a `rule`.")
  if (!is.numeric(depth) || length(depth) < 1) abort_arg("depth", "a vector of whole numbers", depth)
  for (i in seq_along(depth)) {
    check_whole(depth[i], if (length(depth) > 1) sprintf("depth[%d]", i) else "depth", min = 0, max = 1e8)
  }
  (skip^2 + alpha^2 * prod(gains^2))^depth
}

# `rule` is a rule from scaling_rule(): one of another make (a forged
# <initvar_scaling_rule>) is an error naming `arg`.
check_rule_object <- function(rule, arg = "rule") {
  if (!inherits(rule, "initvar_scaling_rule")) {
    abort_arg(arg, "a rule from `scaling_rule()`, or NULL", rule)
  }
  why <- rule_problem(rule)
  if (!is.null(why)) {
    abort(sprintf("`%s` must be a rule from `scaling_rule()`, or NULL, not a forged <initvar_scaling_rule> (%s).",
                  arg, why))
  }
  invisible(rule)
}

# Why an object of class initvar_scaling_rule is not one scaling_rule()
# makes (NULL when it is): a `name` and `label`, a whole `depth` and
# `branch_depth` of at least 1, finite `skip` and `alpha`, and one finite
# gain per branch layer.
rule_problem <- function(r) {
  if (!is.list(r)) return("not a list")
  for (nm in c("name", "label")) {
    if (!is.character(r[[nm]]) || length(r[[nm]]) != 1 || is.na(r[[nm]])) {
      return(sprintf("it has no `%s`", nm))
    }
  }
  if (!r$name %in% scaling_rule_names) return(sprintf("unknown rule \"%s\"", r$name))
  whole <- function(v) is.numeric(v) && length(v) == 1 && is.finite(v) && v >= 1 && v == round(v)
  if (!whole(r$depth)) return("its `depth` is not a positive whole number")
  if (!whole(r$branch_depth)) return("its `branch_depth` is not a positive whole number")
  for (nm in c("skip", "alpha")) {
    v <- r[[nm]]
    if (!is.numeric(v) || length(v) != 1 || !is.finite(v)) return(sprintf("its `%s` is not a finite number", nm))
  }
  if (!is.numeric(r$gains) || length(r$gains) != r$branch_depth || !all(is.finite(r$gains))) {
    return("its `gains` are not one finite number per branch layer")
  }
  NULL
}
