# Transformers: transformer() and the "attention" layer kind (a multi-head
# self-attention sublayer x -> skip x + alpha MHA(x) holding its four dense
# units W_Q, W_K, W_V, W_O), the plain-R reference forward and backward
# passes of an attention sublayer, and the predictions (a kernel map over
# the positions of a sequence).

#' A transformer at initialization
#'
#' `transformer()` describes a stack of `depth` transformer blocks of width
#' \eqn{d} = `d_model`, each an attention sublayer and a feed-forward (FFN)
#' sublayer with residual connections, as a layer list that
#' [predict_variance()], [simulate_network()] and [first_step()] walk:
#' \deqn{x \mapsto \mathrm{skip}\, x + \alpha\, \mathrm{MHA}(x), \qquad
#' x \mapsto \mathrm{skip}\, x + \alpha\, \mathrm{FFN}(x),}
#' with the normalization placements of [resmlp()] (`"pre"`: the branch sees
#' \eqn{LN(x)}; `"post"`: \eqn{LN} of the sum; `"none"`), \eqn{LN} the
#' parameter-free layer normalization of [resmlp()].
#'
#' @section The batch:
#' A batch of \eqn{B} rows is \eqn{B / T} sequences of \eqn{T} = `seq_len`
#' tokens, the rows of one sequence contiguous; attention mixes only rows of
#' the same sequence, and [simulate_network()]'s `inputs` (the rows) must
#' be a multiple of `seq_len`. Input tokens are iid (the engine's inputs).
#' In an encoder-decoder each example is a source sequence and a target
#' sequence, both of \eqn{T} tokens: row \eqn{b} of the batch is token
#' \eqn{b} of the sources and token \eqn{b} of the targets, and a matrix
#' `input` to [simulate_network()] has \eqn{2d} columns, the source tokens
#' then the target tokens (random inputs draw both, iid, of variance
#' `var_x`).
#'
#' @section Encoder-decoder:
#' `architecture = "encoder_decoder"` stacks \eqn{N} = `depth` encoder
#' blocks (bidirectional self-attention and FFN) on the source tokens,
#' then \eqn{M} = `decoder_depth` decoder blocks on the target tokens,
#' each three sublayers: causal self-attention, cross-attention and the FFN,
#' with the same residual form and normalization. Cross-attention's queries
#' come from the decoder (\eqn{Q = a W_Q + b_Q}, \eqn{a} the decoder's
#' \eqn{x} or \eqn{LN(x)}), its keys and values from the memory \eqn{m},
#' the encoder's last sublayer output as it is (\eqn{K = m W_K + b_K},
#' \eqn{V = m W_V + b_V}; no extra normalization of the memory, also with
#' `norm = "pre"`): query \eqn{t} of target sequence \eqn{s} attends to
#' the \eqn{T} tokens of source sequence \eqn{s}. The output is the
#' decoder's; the encoder receives its gradient only through the memory,
#' \eqn{\partial C / \partial m} being the sum over the \eqn{M}
#' cross-attention sublayers of \eqn{dK W_K^T + dV W_V^T}. The network's
#' layers are the \eqn{2N} encoder sublayers, then the \eqn{3M} decoder
#' sublayers; the layer list marks the cross-attention sublayers (`cross`)
#' and the decoder's first (`decoder_start`, where the target tokens
#' enter). [predict_variance()] carries the memory's kernel over positions
#' to the cross-attention sublayers (whose values' kernel it is), and sums
#' the memory's gradient kernels over them (the terms of different
#' sublayers are uncorrelated: each has its own zero-mean \eqn{W_V},
#' \eqn{W_K}); its rows have `part` `"encoder"` or `"decoder"` and `kind`
#' `"cross_attention"` for those sublayers, and attribute
#' `var_grad_target` is the gradient's variance at the target tokens
#' (`var_grad_input` the source tokens'). With logits constant over keys,
#' no normalization and a linear FFN the predictions stay exact at any
#' width (tested).
#'
#' @section Attention:
#' With \eqn{a} the branch input (\eqn{x} or \eqn{LN(x)}) of one sequence
#' (\eqn{T \times d}), head \eqn{h} computes \eqn{Q_h = a W_Q^{(h)} +
#' b_Q^{(h)}}, \eqn{K_h}, \eqn{V_h} likewise (\eqn{d \to d_k} each; the
#' heads' columns packed into \eqn{d \to H d_k} matrices, as separate
#' `q_proj`, `k_proj`, `v_proj` layers are in torch), the attention matrix
#' \eqn{A_h = \mathrm{softmax}(c\, Q_h K_h^T)} row by row (\eqn{c} =
#' `scale`, \eqn{1/\sqrt{d_k}} by default; with `causal` decoder
#' self-attention the query at position \eqn{t} sees keys \eqn{s \le t}),
#' and \eqn{\mathrm{MHA}(x) = [A_1 V_1, \dots, A_H V_H] W_O + b_O}
#' (\eqn{H d_k \to d}). The value width is \eqn{d_k}.
#'
#' @section Feed-forward:
#' The existing `"residual"` layer kind with a two-layer branch
#' \eqn{W_2 f(W_1 a + b_1) + b_2}, \eqn{d \to d_{ff} \to d}.
#'
#' @section Initialization:
#' `init` is one scheme for every weight matrix (Xavier/Glorot uniform by
#' default, whose fans are the matrix's own: \eqn{d} and \eqn{H d_k} for
#' \eqn{W_Q}), or a named list with some of `q`, `k`, `v`, `o`, `ff1`, `ff2`
#' (the others Xavier/Glorot uniform).
#'
#' @section Scaling rules:
#' `rule = scaling_rule("deepnet", N, architecture = ...)` (DeepNorm) sets
#' `skip` to DeepNet's \eqn{\alpha}, multiplies the standard deviations of
#' the value, output and both FFN matrices by \eqn{\beta} (query and key
#' keep their gain of one) and, unless `norm` is given, `norm = "post"`; the rule's depth must be
#' `depth` and its architecture `architecture`. `rule =
#' scaling_rule("tfixup", N)` (T-Fixup) multiplies the value, output and
#' FFN weights by the rule's gain, sets `norm = "none"` unless given, and
#' records the embedding variance \eqn{d^{-1/2} g_e^2} (\eqn{g_e} the
#' rule's `embedding_gain`) in `net$transformer$embedding_var`: give it as
#' `var_x` to [predict_variance()] and [simulate_network()]. For an
#' encoder-decoder the rule must be made with `architecture =
#' "encoder_decoder"` (DeepNet) and `decoder_depth` = \eqn{M}; its
#' constants are applied per part, whichever `part` the rule was made for:
#' DeepNet's encoder \eqn{\alpha = 0.81 (N^4 M)^{1/16}}, \eqn{\beta = 0.87
#' (N^4 M)^{-1/16}} (or torchscale's 1.15 with `source = "torchscale"`) and
#' decoder \eqn{\alpha = (3M)^{1/4}}, \eqn{\beta = (12M)^{-1/4}} (the
#' decoder's \eqn{\beta} on the value and output projections of both its
#' self- and cross-attention, and on its FFN); T-Fixup's \eqn{0.67
#' N^{-1/4}} in the encoder and \eqn{(9M)^{-1/4}} in the decoder, both
#' embeddings of variance \eqn{d^{-1/2} (9M)^{-1/2}}. Any other rule
#' (two layers per branch) sets `skip`, `alpha` and the gains of
#' (\eqn{W_V}, \eqn{W_O}) and (\eqn{W_1}, \eqn{W_2}).
#'
#' @section What the engine reports:
#' For an attention sublayer, as for a residual block: `s` is the sum
#' \eqn{h = \mathrm{skip}\, x + \alpha\, \mathrm{MHA}(x)} (before a
#' post-normalization), `z` the sublayer's output, `grad_s` the gradient
#' \eqn{\partial C / \partial h}, and `grad_w` the per-example (per-token)
#' gradient of \eqn{W_O}, \eqn{[A V]_t^T \alpha\, \partial C / \partial
#' h_t}; every variance pooled over tokens and positions.
#'
#' @section What is predicted:
#' [predict_variance()] (`regime = "mean_field"` or `"linear"`, the latter
#' with the FFN's activation taken as the identity) tracks the per-unit
#' covariance \eqn{K_{tt'} = E[x_{t,k} x_{t',k}]} of the tokens of one
#' sequence (a \eqn{T \times T} kernel: tokens are not independent after
#' an attention sublayer, which averages them), and the gradients' kernel
#' backwards, with one row per sublayer (`kind`, `block`): the mean over
#' positions of the diagonal (the engine pools tokens). Attribute
#' `var_grad_input` is the gradient's variance at the network's input.
#'
#' *Exact at any width.* Given the attention matrices \eqn{A}, over the
#' value and output weights (zero-mean, independent of the input \eqn{a}):
#' \deqn{E[o_{t,k} o_{t',k}] = \sigma_O^2 H d_k (\sigma_V^2 d\,
#' (A K_a A^T)_{tt'} + \sigma^2_{b_V}) + \sigma^2_{b_O},}
#' and the sum \eqn{h} adds \eqn{\mathrm{skip}^2 K} (no cross term). With
#' logits constant over the keys (key weights zero, `init = list(k =
#' init_zeros())`, whatever the biases; query weights and biases zero; or
#' `scale = 0`) \eqn{A} is uniform (\eqn{1/T}; causal: \eqn{1/t} at
#' position \eqn{t}, 1-based), fixed, and no gradient flows through the
#' logits into \eqn{a}; then, without normalization and with a linear FFN,
#' every forward and backward variance the engine reports is exact at any
#' width (tested with calibrated verdicts). (Zero query weights with
#' random query biases do not make the logits constant.)
#'
#' *Exact at infinite width.* The FFN's kernel through a ReLU (or any
#' positively homogeneous activation: the arc-cosine kernel of Cho and Saul
#' 2009) or, for other activations, by bivariate quadrature; a layer
#' normalization maps the kernel to its correlation (and divides gradients
#' by the root mean square, its infinite-width Jacobian \eqn{I / r}, as for
#' [resmlp()], with the exact \eqn{1/d} terms of the top normalization's
#' projection and of \eqn{E[1/r^2]}: see "Where the prediction holds").
#' The other errors are of order \eqn{1/d} per sublayer, so of order
#' `depth / d_model` through the stack: measured and tested to shrink with
#' \eqn{d}.
#'
#' *Approximations for non-zero logits.* The attention weights of query
#' \eqn{t} are taken as the softmax of iid Gaussian logits over its \eqn{m}
#' keys, of variance \eqn{\tau^2 \chi^2_{d_k} / d_k} given the query's
#' norm, \eqn{\tau^2 = c^2 d_k s_Q^2 s_K^2} (\eqn{s_Q^2 = d \sigma_Q^2
#' \bar K_{tt} + \sigma^2_{b_Q}}, \eqn{s_K^2} from the keys' variance
#' less their mean covariance, which, like the key biases, cancels in the
#' softmax), independent of the values (exact at infinite width for iid
#' tokens): \eqn{E[A_{ts}^2]}, \eqn{E[A^3]}, \eqn{E[A^4]} and
#' \eqn{E[A_{ts}^2 A_{ts'}^2]} come from one-dimensional integrals (to
#' about 1e-9; splined in the logit scale to 5e-6, at a cost that does not
#' depend on it: as the scale grows the softmax becomes an argmax, and the
#' moments reach their limits, \eqn{1/m} and 0, at any scale up to 1e308),
#' so the diagonal of \eqn{E[A K_a A^T]} uses
#' \eqn{E[\sum_s A_{ts}^2] > 1/m}; the other entries and the pairs of
#' queries keep the uniform values. The gradient through the logits
#' (\eqn{dL = A \odot (dA - \mathrm{rowSums}(dA \odot A))}) adds
#' \eqn{\tau^2}-order terms to the diagonal of the input gradient's
#' kernel, with \eqn{dA} taken iid over keys. Where tokens are correlated
#' (correlated inputs, `token_cor`, and deep stacks), two queries of
#' correlation \eqn{\rho} see logits correlated by \eqn{\rho} key by key:
#' for bidirectional attention with `seq_len` at most 64, the entries off
#' the diagonal of \eqn{E[A K_a A^T]} and of the value path's
#' \eqn{E[A^T G A]} carry \eqn{E[A_{ts} A_{t's}] = E[A_{ts}^2] - D(\rho)/m},
#' \eqn{D(\rho) = E[\sum_s (A_{ts} - A_{t's})^2] / 2} (given the
#' queries' Wishart Gram matrix with \eqn{d_k} degrees of freedom; by Monte
#' Carlo over \eqn{2^{15}} fixed draws made once per session, exact at
#' \eqn{\rho = 0}, relative error below 1%: tests/testthat/test-transformer.R), and
#' \eqn{E[A_{ts} A_{t's'}]} from the rows' sums; causal attention and
#' longer sequences keep the uniform values. The keys' common part
#' cancels in the softmax (exact for equally correlated tokens); a general
#' kernel's unequal key correlations are left out. The default
#' Xavier initialization with \eqn{H d_k = d} and `scale` \eqn{1/\sqrt{d_k}}
#' has \eqn{\tau^2 \approx E[a^2]^2}; `net$transformer$logit_var` is
#' \eqn{\tau^2} at the first block for unit-variance inputs.
#'
#' @section Where the prediction holds:
#' The mean-field gradient \eqn{\mathrm{Var}(\partial C / \partial h)}
#' misses terms of order \eqn{1/d} per normalized sublayer, which compound
#' through the stack. Three are carried (derived in a comment block of
#' R/net-transformer.R): the exact layer-norm Jacobian \eqn{(I - 11^T/d -
#' y y^T/d)/r} projects the gradient off the token's mean and its own
#' direction \eqn{y}, which at the top normalization of a stack removes
#' \eqn{2/d} of its variance (below it the gradient stays nearly
#' orthogonal to \eqn{y}; below an FFN sublayer with a ReLU, exactly
#' orthogonal to the sublayer's input); and \eqn{E[1/r^2]} exceeds
#' \eqn{1/E[r^2]}: by \eqn{d/(d-3)} on the raw tokens, by \eqn{1 + (5f -
#' 2f^2)/d} on a normalized input, \eqn{f} the branch's share of the
#' variance of \eqn{h}. Carried too, for bidirectional attention: the
#' logits' correlation across queries (see "What is predicted"). Left out:
#' the projections of the normalizations below the top (of order \eqn{f/d}
#' each), the fluctuation of the pre-LN inputs' norms over networks, and
#' the gradient's correlation with the sublayers' own weights. Measured
#' against the engine (`tools/transformer-gradients.R 400 regime`: 4
#' heads, `seq_len = 8`, 400 networks at \eqn{d = 64}, 100 at \eqn{d =
#' 256}), the prediction at the first sublayer differs from the simulation
#' (relative error, MCSE) at depths 2, 6 and 12 by
#' \eqn{-1.2 \pm 0.2}%, \eqn{-5.8 \pm 0.4}%, \eqn{-10.2 \pm 0.7}% (pre-LN),
#' \eqn{+1.5 \pm 0.4}%, \eqn{-2.7 \pm 1.4}%, \eqn{+11.8 \pm 3.4}%
#' (post-LN) and \eqn{+0.4}%, \eqn{+0.2}%, \eqn{0.0 \pm 0.2}% (DeepNet) at
#' \eqn{d = 64}; by \eqn{-0.5 \pm 0.2}%, \eqn{-1.8 \pm 0.5}%,
#' \eqn{-3.8 \pm 0.7}% (pre-LN), \eqn{+0.5 \pm 0.4}%, \eqn{-3.6 \pm
#' 1.4}%, \eqn{-2.3 \pm 2.4}% (post-LN) and \eqn{-0.2}%, \eqn{-0.2}%,
#' \eqn{0.0 \pm 0.2}% (DeepNet) at \eqn{d = 256}. The documented regime is
#' an expected relative error of at most 5%: about \eqn{\exp(\sum_i f_i /
#' d) - 1 + 0.013 \sum_i f_i} over the post-LN sublayers below the last,
#' plus \eqn{0.6 N / d + 0.0018 N} for \eqn{N} pre-LN blocks (fitted to
#' the table above, with a margin: a part does not shrink with \eqn{d}):
#' pre-LN depth 12 needs \eqn{d \ge 256} (estimated 4.97% there); standard
#' post-LN is outside it from depth 6 at \eqn{d = 64} and \eqn{256};
#' DeepNet is inside up to depth 100 at \eqn{d \ge 64}. Inside it, the
#' error is within 5%, but not within the MCSE of a long simulation: the
#' prediction is not calibrated against the engine there except for
#' DeepNet (at depth 12 it agrees within its MCSE at every sublayer).
#' [predict_variance()] returns the check as attribute `regime_check`
#' (`estimated_error`, `bound`, `inside`) and as column `grad_regime`
#' (`"inside"`, `"outside"` or `"not_measured"`) and, with `regime =
#' "mean_field"` (also inside [simulate_network()]), says so in a message
#' when outside. Without normalization (`norm = "none"`) or with correlated
#' input tokens (`token_cor`) it is not measured (`inside` is `NA`).
#'
#' @param d_model Model width \eqn{d}.
#' @param heads Number of heads \eqn{H}.
#' @param d_k Query/key/value width per head (default `d_model / heads`,
#'   which must then be whole).
#' @param depth Number of blocks \eqn{N} (each an attention and an FFN
#'   sublayer).
#' @param d_ff The FFN's inner width.
#' @param norm `"pre"`, `"post"` or `"none"`.
#' @param seq_len Tokens per sequence \eqn{T}. Predictions cost
#'   \eqn{O(T^2)} per sublayer (seq_len = 4096, one block: about 4 s of
#'   CPU bidirectional, 5.5 s causal in a fresh session, about 1 s and 2.5 s
#'   of it softmax tables computed once per session); with causal
#'   attention and an FFN activation that is not linear or a ReLU, at most
#'   31 (one bivariate quadrature per pair of positions).
#' @param activation The FFN's activation (a name, R function or
#'   [activation()]).
#' @param init A scheme for every weight matrix, or a named list (see
#'   "Initialization").
#' @param architecture `"encoder"` (bidirectional self-attention),
#'   `"decoder"` (causal self-attention) or `"encoder_decoder"` (see
#'   "Encoder-decoder").
#' @param decoder_depth The decoder's number of blocks \eqn{M} for
#'   `"encoder_decoder"` (ignored otherwise).
#' @param rule `NULL`, or a rule from [scaling_rule()] (see "Scaling
#'   rules").
#' @param scale The logit scale \eqn{c} (finite, \eqn{\ge 0}).
#' @param alpha,skip The branch and skip multipliers of every sublayer.
#' @param bias The biases of every weight matrix: a scheme that does not
#'   depend on the layer size.
#' @param token_cor The input tokens' correlation: `0` (iid tokens), a
#'   number \eqn{\rho} in \eqn{[-1/(T-1), 1]} (every two tokens of a
#'   sequence correlated by \eqn{\rho}), or a symmetric positive
#'   semi-definite `seq_len` x `seq_len` matrix \eqn{K}: each input feature
#'   of a sequence is \eqn{N(0, \sigma_x^2 K)} over its tokens, features
#'   and sequences independent (\eqn{\sigma_x^2} is `var_x`). The engine
#'   ([simulate_network()], normal inputs only; an encoder-decoder's source
#'   and target alike) draws them as \eqn{M z}, \eqn{M M^T = K}, and
#'   [predict_variance()] starts from \eqn{\sigma_x^2 K}; its gradient
#'   columns are then not measured against simulation (`grad_regime`
#'   `"not_measured"`). [token_similarity()] compares the mean token cosine
#'   per sublayer.
#' @return An `initvar_transformer` network (also an `initvar_mlp`: a list
#'   of layers, `2 * depth` sublayers, or `2 * depth + 3 * decoder_depth`
#'   for an encoder-decoder), with `net$transformer` its settings (for an
#'   encoder-decoder, `parts` and `rules`: each part's multipliers, schemes
#'   and rule; `skip`, `alpha` and `init` are the encoder's).
#' @references
#' Vaswani, A. et al. (2017). Attention is all you need. NeurIPS.
#'
#' Huang, X. S., Perez, F., Ba, J. and Volkovs, M. (2020). Improving
#' transformer optimization through better initialization. ICML.
#'
#' Wang, H., Ma, S., Dong, L., Huang, S., Zhang, D. and Wei, F. (2022).
#' DeepNet: scaling transformers to 1,000 layers. arXiv:2203.00555.
#' @examples
#' net <- transformer(32, heads = 4, depth = 2, seq_len = 8)
#' net
#' # d_model = 32 is small: predict_variance() says (a message, not an error)
#' # how far off its gradient column may be here; the forward columns are exact
#' p <- predict_variance(net, regime = "mean_field")
#' p[, c("layer", "kind", "var_z", "var_grad_s")]
#' # DeepNorm, encoder-only, 10 blocks
#' dn <- transformer(32, 4, depth = 10, seq_len = 8,
#'                   rule = scaling_rule("deepnet", 10, architecture = "encoder"))
#' predict_variance(dn, regime = "mean_field")$var_z[20]
#' # an encoder-decoder, DeepNet's constants for N = 6 and M = 3
#' ed <- transformer(32, 4, depth = 6, decoder_depth = 3, seq_len = 8,
#'                   architecture = "encoder_decoder",
#'                   rule = scaling_rule("deepnet", 6, architecture = "encoder_decoder",
#'                                       decoder_depth = 3))
#' ed
#' p <- predict_variance(ed, regime = "mean_field")
#' p[p$kind == "cross_attention", c("layer", "block", "var_z", "var_grad_s")]
#' @export
transformer <- function(d_model, heads, d_k = d_model / heads, depth, d_ff = 4 * d_model,
                        norm = c("pre", "post", "none"), seq_len, activation = "relu",
                        init = init_glorot(),
                        architecture = c("encoder", "decoder", "encoder_decoder"),
                        decoder_depth = depth, rule = NULL, scale = 1 / sqrt(d_k),
                        alpha = 1, skip = 1, bias = init_constant(0), token_cor = 0) {
  if (missing(d_model)) abort("`d_model` is missing: give the model width.")
  if (missing(heads)) abort("`heads` is missing: give the number of attention heads.")
  if (missing(depth)) abort("`depth` is missing: give the number of blocks.")
  d_model <- check_whole(d_model, "d_model", max = max_width)
  heads <- check_whole(heads, "heads", max = d_model * 64)
  if (missing(d_k) && d_model %% heads != 0) {
    abort(sprintf(paste0("`heads` must divide `d_model` (%s) when `d_k` is not given ",
                         "(d_k = d_model / heads = %s), not %s; or give `d_k`."),
                  format(d_model), format(signif(d_model / heads, 4)), format(heads)))
  }
  d_k <- check_whole(d_k, "d_k", max = max_width)
  if (heads * d_k > max_width) abort_arg("d_k", "such that `heads * d_k` is at most 16,777,216", d_k)
  depth <- check_whole(depth, "depth", max = 1e4)
  d_ff <- check_whole(d_ff, "d_ff", max = max_width)
  norm_given <- !missing(norm)
  norm <- check_choice(norm, c("pre", "post", "none"), "norm")
  if (missing(seq_len)) abort("`seq_len` is missing: give the number of tokens per sequence.")
  seq_len <- check_whole(seq_len, "seq_len", max = 4096)
  act <- as_activation(activation, "activation")
  architecture <- check_choice(architecture, c("encoder", "decoder", "encoder_decoder"),
                               "architecture")
  decoder_depth <- check_whole(decoder_depth, "decoder_depth", max = 1e4)
  scale <- check_number(scale, "scale", min = 0)
  alpha <- check_number(alpha, "alpha")
  skip <- check_number(skip, "skip")
  check_scheme(bias, "bias")
  if (!bias$family %in% fan_free) {
    abort_arg("bias", "a scheme that does not depend on the layer size, such as `init_constant(0)`",
              bias$label)
  }
  token_kernel <- check_token_cor(token_cor, seq_len)
  inits <- transformer_inits(init)
  enc_dec <- architecture == "encoder_decoder"
  if (!enc_dec) decoder_depth <- NULL
  # per part (the encoder's, and an encoder-decoder's decoder): skip, alpha
  # and the weights' schemes, after the rule
  part <- list(skip = skip, alpha = alpha, inits = inits)
  parts <- list(encoder = part, decoder = part)
  embedding_var <- NULL
  rules <- NULL
  if (!is.null(rule)) {
    check_rule(rule, depth)
    if (rule$branch_depth != 2) {
      abort(sprintf("`rule` is for branch_depth %s: a transformer's rules are for 2 weight layers per branch (`branch_depth = 2`).",
                    format(rule$branch_depth)))
    }
    if (rule$name == "deepnet" && !identical(rule$architecture, architecture)) {
      abort(sprintf("`rule` is DeepNet's rule for architecture \"%s\", not `architecture` = \"%s\".",
                    format(rule$architecture), architecture))
    }
    rules <- list(encoder = rule, decoder = rule)
    if (enc_dec && rule$name %in% c("deepnet", "tfixup")) {
      # the rule's constants for both parts (N and M as the rule's)
      rdm <- if (is.null(rule$decoder_depth)) rule$depth else rule$decoder_depth
      if (rdm != decoder_depth) {
        abort(sprintf("`rule` is for decoder_depth %s, not `decoder_depth` = %s: make it with `scaling_rule(\"%s\", %s, decoder_depth = %s, ...)`.",
                      format(rdm), format(decoder_depth), rule$name, format(depth),
                      format(decoder_depth)))
      }
      src <- if (is.null(rule$source)) "paper" else rule$source
      for (pt in c("encoder", "decoder")) {
        rules[[pt]] <- scaling_rule(rule$name, depth, architecture = rule$architecture,
                                    part = pt, decoder_depth = decoder_depth, source = src)
      }
    }
    for (pt in names(parts)) {
      r <- rules[[pt]]
      g <- r$gains
      parts[[pt]]$skip <- r$skip
      parts[[pt]]$alpha <- r$alpha
      for (nm in c("v", "ff1")) parts[[pt]]$inits[[nm]] <- scale_scheme(inits[[nm]], g[1], sprintf("init$%s", nm))
      for (nm in c("o", "ff2")) parts[[pt]]$inits[[nm]] <- scale_scheme(inits[[nm]], g[2], sprintf("init$%s", nm))
    }
    if (rule$name == "deepnet" && !norm_given) norm <- "post"
    if (rule$name == "tfixup") {
      if (!norm_given) norm <- "none"
      embedding_var <- d_model^(-1 / 2) * rule$embedding_gain^2
    }
  }
  if (norm != "none" && d_model < 2) {
    abort_arg("d_model", "at least 2 with a layer normalization (`norm`)", d_model)
  }
  causal <- architecture == "decoder"
  hd <- heads * d_k
  linear <- linear_activation()
  unit <- function(nin, nout, s, a = linear) {
    new_layer("dense", nin, nout, activation = a, init = s, bias = bias)
  }
  # mask: "bidirectional", "causal", "cross" (keys and values from the
  # memory, the encoder's output) or "decoder_start" (causal, the
  # decoder's first sublayer: its input is the target tokens)
  att_layer <- function(p, mask) {
    new_layer("attention", d_model, d_model, init = p$inits$v, bias = bias,
              branch = list(unit(d_model, hd, p$inits$q), unit(d_model, hd, p$inits$k),
                            unit(d_model, hd, p$inits$v), unit(hd, d_model, p$inits$o)),
              heads = heads, d_k = d_k, seq_len = seq_len,
              causal = mask %in% c("causal", "decoder_start"), scale = scale,
              alpha = p$alpha, skip = p$skip, norm = norm, cross = mask == "cross",
              decoder_start = mask == "decoder_start")
  }
  ffn_layer <- function(p) {
    new_layer("residual", d_model, d_model, activation = act, init = p$inits$ff1, bias = bias,
              branch = list(unit(d_model, d_ff, p$inits$ff1, act), unit(d_ff, d_model, p$inits$ff2)),
              alpha = p$alpha, skip = p$skip, norm = norm)
  }
  pe <- parts$encoder
  layers <- rep(list(att_layer(pe, if (causal) "causal" else "bidirectional"), ffn_layer(pe)), depth)
  if (enc_dec) {
    pd <- parts$decoder
    first <- list(att_layer(pd, "decoder_start"), att_layer(pd, "cross"), ffn_layer(pd))
    rest <- list(att_layer(pd, "causal"), att_layer(pd, "cross"), ffn_layer(pd))
    layers <- c(layers, first, rep(rest, decoder_depth - 1))
  }
  net <- new_network(layers)
  inits <- pe$inits
  skip <- pe$skip
  alpha <- pe$alpha
  # the logits' variance at the first block, for unit-variance inputs
  m2a <- 1
  vq <- weight_variance(inits$q, d_model, hd)
  vk <- weight_variance(inits$k, d_model, hd)
  net$transformer <- list(d_model = d_model, heads = heads, d_k = d_k, depth = depth,
                          d_ff = d_ff, norm = norm, seq_len = seq_len, activation = act,
                          architecture = architecture, causal = causal, scale = scale,
                          alpha = alpha, skip = skip, rule = rule, init = inits,
                          embedding_var = embedding_var, decoder_depth = decoder_depth,
                          parts = if (enc_dec) parts, rules = rules,
                          token_kernel = token_kernel,
                          logit_var = scale^2 * d_k * (d_model * vq * m2a) * (d_model * vk * m2a))
  class(net) <- c("initvar_transformer", class(net))
  net
}

# `token_cor`: a correlation rho between every two tokens, or a T x T
# kernel (symmetric, positive semi-definite, finite); the input tokens'
# kernel relative to var_x (NULL: iid tokens).
check_token_cor <- function(token_cor, T) {
  what <- sprintf(paste0("a number in [%s, 1] (the correlation of every two tokens) or a ",
                         "symmetric positive semi-definite %d x %d matrix"),
                  format(if (T > 1) signif(-1 / (T - 1), 4) else -1), T, T)
  if (is.numeric(token_cor) && length(token_cor) == 1 && !is.matrix(token_cor)) {
    if (!is.finite(token_cor) || token_cor > 1 || token_cor < -1 ||
        (T > 1 && token_cor < -1 / (T - 1) - 1e-12)) abort_arg("token_cor", what, token_cor)
    if (token_cor == 0 || T == 1) return(NULL)
    K <- matrix(token_cor, T, T)
    diag(K) <- 1
    return(K)
  }
  if (!is.numeric(token_cor) || !is.matrix(token_cor) || any(dim(token_cor) != T) ||
      any(!is.finite(token_cor))) abort_arg("token_cor", what, token_cor)
  K <- matrix(as.double(token_cor), T, T)
  sc <- max(abs(K))
  if (max(abs(K - t(K))) > 1e-10 * max(sc, 1) ||
      min(eigen(K, symmetric = TRUE, only.values = TRUE)$values) < -1e-10 * max(sc, 1)) {
    abort_arg("token_cor", what, token_cor)
  }
  K <- (K + t(K)) / 2
  if (isTRUE(all.equal(K, diag(T), tolerance = 0))) return(NULL)
  K
}

# The engine's mixing matrix M (M M' = the tokens' kernel), or NULL.
token_mix_matrix <- function(net) {
  K <- if (inherits(net, "initvar_transformer")) net$transformer$token_kernel
  if (is.null(K)) return(NULL)
  e <- eigen(K, symmetric = TRUE)
  M <- e$vectors %*% (sqrt(pmax(e$values, 0)) * t(e$vectors))
  as.double(M)
}

# The input tokens' kernel of a transformer net: var_x times its
# token_kernel (iid tokens: var_x I).
input_token_kernel <- function(net, var_x) {
  K <- net$transformer$token_kernel
  if (is.null(K)) diag(var_x, net$transformer$seq_len) else var_x * K
}

transformer_weight_names <- c("q", "k", "v", "o", "ff1", "ff2")

transformer_inits <- function(init) {
  base <- init_glorot()
  if (inherits(init, "initvar_scheme")) {
    check_scheme(init, "init")
    return(stats::setNames(rep(list(init), 6), transformer_weight_names))
  }
  if (!is.list(init) || is.null(names(init)) || any(names(init) == "")) {
    abort_arg("init", "a scheme, or a named list of schemes with names among q, k, v, o, ff1, ff2",
              init)
  }
  bad <- setdiff(names(init), transformer_weight_names)
  if (length(bad)) {
    abort(sprintf("`init` has the element `%s`: the names must be among %s.", bad[1],
                  paste(transformer_weight_names, collapse = ", ")))
  }
  out <- stats::setNames(rep(list(base), 6), transformer_weight_names)
  for (nm in names(init)) {
    check_scheme(init[[nm]], sprintf("init$%s", nm))
    out[[nm]] <- init[[nm]]
  }
  out
}

#' @export
print.initvar_transformer <- function(x, ...) {
  t <- x$transformer
  blocks <- if (identical(t$architecture, "encoder_decoder")) {
    sprintf("%d encoder + %d decoder blocks", as.integer(t$depth), as.integer(t$decoder_depth))
  } else sprintf("%d block%s", as.integer(t$depth), if (t$depth > 1) "s" else "")
  cat(sprintf("<initvar transformer> %s, %s of width %s\n  %d head%s of d_k = %s, d_ff = %s, seq_len %s\n",
              t$architecture, blocks,
              format(t$d_model), as.integer(t$heads), if (t$heads > 1) "s" else "",
              format(t$d_k), format(t$d_ff), format(t$seq_len)))
  sub <- switch(t$norm, none = "x + a B(x)", pre = "x + a B(LN(x))", post = "LN(x + a B(x))")
  sub <- sub("x \\+", paste0(format(signif(t$skip, 4)), " x +"), sub)
  sub <- sub(" a ", paste0(" ", format(signif(t$alpha, 4)), " "), sub)
  cat_para("sublayers: ", sub, ", B = ", if (t$causal) "causal " else "",
           "multi-head attention, then B = FFN ", format(t$activation))
  if (identical(t$architecture, "encoder_decoder")) {
    cat_para("decoder blocks: causal self-attention, cross-attention on the encoder's output, FFN; ",
             "each example a source and a target sequence of seq_len tokens")
  }
  cat(sprintf("  logit scale %s; logit variance at the first block %s (unit-variance inputs)\n",
              format(signif(t$scale, 4)), format(signif(t$logit_var, 4))))
  dims <- c(q = "d -> H d_k", k = "d -> H d_k", v = "d -> H d_k", o = "H d_k -> d",
            ff1 = "d -> d_ff", ff2 = "d_ff -> d")
  fan <- list(q = c(t$d_model, t$heads * t$d_k), k = c(t$d_model, t$heads * t$d_k),
              v = c(t$d_model, t$heads * t$d_k), o = c(t$heads * t$d_k, t$d_model),
              ff1 = c(t$d_model, t$d_ff), ff2 = c(t$d_ff, t$d_model))
  tab <- data.frame(
    weights = transformer_weight_names, shape = unname(dims),
    scheme = vapply(t$init, function(s) s$label, ""),
    `Var(W)` = formatC(vapply(transformer_weight_names, function(nm)
      weight_variance(t$init[[nm]], fan[[nm]][1], fan[[nm]][2]), 0), digits = 4, format = "g"),
    check.names = FALSE, stringsAsFactors = FALSE)
  print(tab, row.names = FALSE, right = FALSE)
  if (!is.null(t$rules) && identical(t$architecture, "encoder_decoder")) {
    cat_para("rule: ", t$rules$encoder$label, ";")
    cat_para(t$rules$decoder$label, indent = 8)
    cat("  (the table: the encoder's weights)\n")
  } else if (!is.null(t$rule)) cat_para("rule: ", t$rule$label)
  if (!is.null(t$embedding_var)) {
    cat(sprintf("  embedding variance (give as var_x): %s\n", format(signif(t$embedding_var, 4))))
  }
  if (!is.null(t$token_kernel)) {
    K <- t$token_kernel
    off <- K[row(K) != col(K)]
    cat(sprintf("  input tokens correlated (token_cor): %s\n",
                if (length(unique(off)) == 1 && all(diag(K) == 1)) {
                  paste("rho =", format(signif(off[1], 4)))
                } else "a user kernel"))
  }
  invisible(x)
}

# ---- the "attention" layer kind ---------------------------------------------

# The generic walk of predict_variance() does not see the positions of a
# sequence; transformer nets are predicted by transformer_predict().
attention_kind <- list(
  fans = function(l) c(fan_in = l$n_in, fan_out = l$n_out),
  units = function(l) l$branch,
  forward = function(l, m2_in, mean_in, regime) {
    abort("attention layers are predicted with their sequence: use `predict_variance()` on a `transformer()` network.")
  },
  backward = function(l, var_g, fwd) {
    abort("attention layers are predicted with their sequence: use `predict_variance()` on a `transformer()` network.")
  },
  engine = TRUE)

# ---- plain-R reference: forward and backward of an attention sublayer ------

# The rows of sequence s (1-based) and the columns of head h.
seq_rows <- function(s, T) (s - 1) * T + seq_len(T)
head_cols <- function(h, dk) (h - 1) * dk + seq_len(dk)

# Forward: x (B x d), par: the 4 units' list(W, b). Returns the output and
# what the backward pass needs.
attention_forward_values <- function(l, par, x, mem = NULL) {
  B <- nrow(x)
  T <- l$seq_len
  bmat <- function(b, n) matrix(b, n, length(b), byrow = TRUE)
  pre <- if (l$norm == "pre") ln_forward(x)
  a <- if (l$norm == "pre") pre$y else x
  # cross-attention: keys and values from the memory (the encoder's output)
  kv <- if (isTRUE(l$cross)) mem else a
  Q <- a %*% par[[1]]$W + bmat(par[[1]]$b, B)
  K <- kv %*% par[[2]]$W + bmat(par[[2]]$b, B)
  V <- kv %*% par[[3]]$W + bmat(par[[3]]$b, B)
  C <- matrix(0, B, ncol(V))
  P <- list()
  for (s in seq_len(B / T)) {
    r <- seq_rows(s, T)
    for (h in seq_len(l$heads)) {
      cc <- head_cols(h, l$d_k)
      L <- l$scale * Q[r, cc, drop = FALSE] %*% t(K[r, cc, drop = FALSE])
      if (l$causal) L[upper.tri(L)] <- -Inf
      E <- exp(L - apply(L, 1, max))
      A <- E / rowSums(E)
      P[[length(P) + 1]] <- A
      C[r, cc] <- A %*% V[r, cc, drop = FALSE]
    }
  }
  O <- C %*% par[[4]]$W + bmat(par[[4]]$b, B)
  H <- l$skip * x + l$alpha * O
  post <- if (l$norm == "post") ln_forward(H)
  list(z = if (l$norm == "post") post$y else H, h = H,
       st = list(a = a, kv = kv, Q = Q, K = K, V = V, C = C, P = P, pre = pre, post = post))
}

# Backward: dz = dC/d(output). Returns dC/dx, dC/dh and the units' gradients
# (cross-attention: also dmem, the memory's gradient through this layer).
attention_backward_values <- function(l, par, st, dz) {
  T <- l$seq_len
  B <- nrow(dz)
  dH <- if (l$norm == "post") ln_backward(dz, st$post$y, st$post$r) else dz
  dO <- l$alpha * dH
  gO <- list(W = crossprod(st$C, dO), b = colSums(dO))
  dC <- tcrossprod(dO, par[[4]]$W)
  dQ <- dK <- dV <- matrix(0, B, ncol(st$V))
  k <- 0
  for (s in seq_len(B / T)) {
    r <- seq_rows(s, T)
    for (h in seq_len(l$heads)) {
      k <- k + 1
      cc <- head_cols(h, l$d_k)
      A <- st$P[[k]]
      dA <- dC[r, cc, drop = FALSE] %*% t(st$V[r, cc, drop = FALSE])
      dV[r, cc] <- crossprod(A, dC[r, cc, drop = FALSE])
      dL <- A * (dA - rowSums(dA * A))
      dQ[r, cc] <- l$scale * dL %*% st$K[r, cc, drop = FALSE]
      dK[r, cc] <- l$scale * crossprod(dL, st$Q[r, cc, drop = FALSE])
    }
  }
  g <- list(list(W = crossprod(st$a, dQ), b = colSums(dQ)),
            list(W = crossprod(st$kv, dK), b = colSums(dK)),
            list(W = crossprod(st$kv, dV), b = colSums(dV)), gO)
  dkv <- tcrossprod(dK, par[[2]]$W) + tcrossprod(dV, par[[3]]$W)
  cross <- isTRUE(l$cross)
  da <- tcrossprod(dQ, par[[1]]$W) + if (cross) 0 else dkv
  if (l$norm == "pre") da <- ln_backward(da, st$pre$y, st$pre$r)
  list(dx = l$skip * dH + da, dh = dH, grads = g, dmem = if (cross) dkv)
}

# ---- predictions: the kernel over a sequence's positions --------------------

# The attention matrix of zero logits: uniform over the keys a query sees.
uniform_attention <- function(T, causal) {
  if (!causal) return(matrix(1 / T, T, T))
  A <- matrix(0, T, T)
  for (t in seq_len(T)) A[t, seq_len(t)] <- 1 / t
  A
}

# A M A^T and A^T G A for the uniform attention matrix A of T positions,
# without forming A: 1/T times the mean of M everywhere (bidirectional),
# or with A_ts = 1/t for s <= t (causal) prefix sums of M over rows and
# columns, divided by t t' (and suffix sums of G / (t t') for A^T G A).
# O(T^2) where the matrix products were O(T^3).
uniform_sandwich <- function(M, causal) {
  T <- nrow(M)
  if (!causal) return(matrix(mean(M), T, T))
  if (T == 1) return(M)
  # sums over s <= t, s' <= t', divided by t t' (src/softmax.c)
  .Call(C_prefix2, M + 0, FALSE)
}
uniform_sandwich_t <- function(G, causal) {
  T <- nrow(G)
  if (!causal) return(matrix(sum(G) / T^2, T, T))
  if (T == 1) return(G)
  # sums of G / (s s') over s >= t, s' >= t'
  .Call(C_prefix2, G + 0, TRUE)
}

# Moments of A, the softmax of m iid N(0, sigma^2) logits L: p2 = E[A_1^2],
# p3 = E[A_1^3], q4 = E[A_1^4], q22 = E[A_1^2 A_2^2], q211 = E[A_1^2 A_2
# A_3]. With 1 / S^k = int_0^Inf t^(k-1) exp(-t S) dt / (k-1)! and u = log
# t, y = u + L:
#   E[A_1^k] = int E[exp(k y - e^y)] a(u)^(m-1) du / (k-1)!,
#   E[A_1^2 A_2^2] = int E[exp(2 y - e^y)]^2 a(u)^(m-2) du / 3!,
#   E[A_1^2 A_2 A_3] = int E[exp(2 y - e^y)] E[exp(y - e^y)]^2 a(u)^(m-3) du / 3!,
# a(u) = E[exp(-e^y)]. The integral in u is a trapezoidal rule on the range
# where the integrand exceeds 1e-20 of its peak (the integrand is analytic
# and decays doubly exponentially on one side, so the rule converges
# geometrically). The expectations over L: for sigma <= 1.5 by 80-node
# half-range Gauss-Hermite quadrature in L, u in steps of 1/8; for larger
# sigma, when the Gaussian is wider than the functions of y, by the
# trapezoidal rule in y (step 1/16 on [-50, 5]; a(u) as 1 - E[1 -
# exp(-e^y)], whose integrand vanishes as y -> -Inf, with the mass above y
# = 5, where 1 - exp(-e^y) = 1 to 1e-64, from the normal CDF, and
# Euler-Maclaurin's end correction at 5), and u = sigma v: the functions of
# u are then Gaussian smoothings of width sigma, so v runs over [-9 - 45 /
# sigma, 9 + 6.5 / sigma] in steps of 1 / (8 min(sigma, 4)) (u in steps of
# 1/8 up to sigma = 4, v in steps of 1/32 beyond): a cost that does not
# grow with sigma, and no density below 1 / sigma (no underflow at sigma =
# 1e300). q22 falls as 1 / sigma and q211 as 1 / sigma^2; with `scaled =
# TRUE` the wide branch returns sigma * q22 and sigma^2 * q211, finite as
# sigma -> Inf. As sigma -> Inf the softmax becomes an argmax: p2, p3, q4 ->
# 1 / m and q22, q211 -> 0, the values at sigma = Inf. (E[A^2 (1 - A)^2] =
# p2 - 2 p3 + q4, which cancels at large sigma, is (m - 1) q22 + (m - 1)
# (m - 2) q211, without cancellation.) Checked against stats::integrate, a 3-d grid and Monte Carlo to
# 1e-9 (tests/testthat/test-transformer.R, test-transformer-cost.R); halving
# both steps changes the values by less than 1e-9 at every sigma.
softmax_moments_exact <- function(m, sigma, scaled = FALSE, engine = c("C", "R")) {
  engine <- match.arg(engine)
  out <- matrix(0, length(m), 5, dimnames = list(NULL, softmax_names))
  one <- m == 1
  out[one, ] <- rep(c(1, 1, 1, 0, 0), each = sum(one))
  if (sigma == 0) {
    out[!one, ] <- cbind(1 / m^2, 1 / m^3, 1 / m^4, 1 / m^4, ifelse(m > 2, 1 / m^4, 0))[!one, , drop = FALSE]
  } else if (any(!one)) {
    mm <- m[!one]
    if (sigma <= 1.5) {
      h <- 1 / 8
      gh <- gauss_hermite(40L)
      lz <- sigma * gh$x
      u <- seq(-max(lz) - 45, -min(lz) + 6.5, by = h)
      y <- outer(u, lz, "+")
      ey <- exp(y)
      a <- as.vector(exp(-ey) %*% gh$w)
      E <- cbind(exp(2 * y - ey) %*% gh$w, exp(3 * y - ey) %*% gh$w, exp(4 * y - ey) %*% gh$w,
                 exp(y - ey) %*% gh$w)
      q22_scale <- q211_scale <- 1
    } else {
      hy <- 1 / 16
      yy <- seq(-50, 5, by = hy)
      ey <- exp(yy)
      ny <- length(yy)
      wy <- rep(hy, ny)
      wy[c(1, ny)] <- hy / 2
      h <- 1 / (8 * min(sigma, 4))
      v <- seq(-9 - 45 / sigma, 9 + 6.5 / sigma, by = h)
      Fm <- cbind(-expm1(-ey), exp(2 * yy - ey), exp(3 * yy - ey), exp(4 * yy - ey),
                  exp(yy - ey)) * wy
      # sigma E[g(sigma v + L)] = sum_j g(y_j) w_j phi(y_j / sigma - v)
      G <- if (engine == "C") {
        .Call(C_gauss_smooth, yy / sigma, v, Fm) / sqrt(2 * pi)
      } else {
        z <- outer(yy / sigma, v, "-")
        crossprod(exp(-z * z / 2), Fm) / sqrt(2 * pi)
      }
      # the integral of 1 - exp(-e^y) times the density over [-50, 5],
      # whose integrand is the density alone at 5: the trapezoid with
      # Euler-Maclaurin's end correction -h^2/12 f'(5) (f is ~e^-50 at -50)
      r5 <- 5 / sigma - v
      d5 <- -r5 * stats::dnorm(r5)
      a <- stats::pnorm(v - 5 / sigma, lower.tail = FALSE) - (G[, 1] - hy^2 / 12 * d5 / sigma) / sigma
      a <- pmin(pmax(a, 0), 1)
      E <- G[, 2:5, drop = FALSE]
      q22_scale <- if (scaled) 1 else 1 / sigma
      q211_scale <- if (scaled) 1 else 1 / sigma^2
    }
    # a^(m-1) for every m at once, one matrix product; a^(m-2) and a^(m-3)
    # as a^(m-1) / a and / a^2 (where a < 1e-100 the integrands are below
    # 1e-100 of their peak: dropped)
    big <- a > 1e-100
    r2 <- ifelse(big, E[, 1]^2 / a, 0)
    r3 <- ifelse(big, E[, 1] * E[, 4]^2 / a^2, 0)
    W <- cbind(E[, 1], E[, 2] / 2, E[, 3] / 6, r2 / 6, r3 / 6)
    S <- if (engine == "C") {
      # the powers by repeated multiplication along m ascending (src/softmax.c)
      o <- order(mm)
      S <- h * .Call(C_softmax_powsum, as.double(a), W, as.integer(mm[o]))
      S[order(o), , drop = FALSE]
    } else {
      h * crossprod(exp(outer(log(a), mm - 1)), W)
    }
    out[!one, ] <- cbind(S[, 1:3, drop = FALSE], S[, 4] * q22_scale,
                         ifelse(mm > 2, S[, 5] * q211_scale, 0))
  }
  if (length(m) == 1) return(out[1, ])
  out
}

# The same, as functions of sigma for m logits (cached per m, built for
# several m at once by softmax_prepare(); m = 1 is constant): cubic splines
# of the logarithms (Forsythe, Malcolm and Moler's end conditions) through
# exact values on sigma = -8, ..., -0.05, 0, 0.05, ..., 8 (the moments are
# even in sigma) and, beyond 8, in w = 1 / sigma through exact values at w
# = 0, 1/256, ..., 1/8 of p2, p3, q4 and sigma * q22 (w = 0 is sigma = Inf,
# and sigma^2 * q211 (w = 0 is sigma = Inf, the argmax); q211 = 0 for m =
# 2 is not splined. Both meet at the exact values at sigma = 8. Relative error
# below 5e-6 at every sigma from 0 to Inf for m = 2 to 4096 (measured 2.2e-6
# at worst, near sigma = 1.5 for m = 256 to 4096; 1e-8 beyond sigma = 8;
# tested), at a cost that does not depend on sigma. Built once per session
# and m, the inner sums in C (src/softmax.c): about 0.5 s of CPU for one m
# (a bidirectional sequence), 2 s for the 4095 m of a causal seq_len = 4096
# (was 4 s and 25 s in R).
#
# The tables keep, per m, the logarithms at the knots (a 321 x 5 and a 33 x
# 5 matrix); the splines are evaluated as weights on the knots (the fmm
# spline is linear in the values: the splines of the unit vectors, built
# once per session, at the points), so that the many m of a causal
# sequence share one matrix product instead of one splinefun() each.
softmax_moment_cache <- new.env(parent = emptyenv())
softmax_names <- c("p2", "p3", "q4", "q22", "q211")
softmax_knots <- local({
  g <- seq(0, 8, by = 0.05)
  list(g = g, gg = c(-rev(g[-1]), g), wk = (0:32) / 256)
})
softmax_prepare <- function(ms) {
  ms <- unique(ms[ms > 1])
  ms <- ms[!vapply(as.character(ms), exists, NA, envir = softmax_moment_cache, inherits = FALSE)]
  if (!length(ms)) return(invisible())
  g <- softmax_knots$g
  v <- vapply(g, function(s) softmax_moments_exact(ms, s), matrix(0, length(ms), 5))
  dim(v) <- c(length(ms), 5, length(g))
  wk <- softmax_knots$wk
  vw <- vapply(wk, function(w) softmax_moments_exact(ms, 1 / w, scaled = TRUE),
               matrix(0, length(ms), 5))
  dim(vw) <- c(length(ms), 5, length(wk))
  # even in sigma: mirrored knots give the spline the right slope at 0
  ng <- length(g)
  for (j in seq_along(ms)) {
    nar <- log(t(v[j, , c(ng:2, 1:ng), drop = TRUE]))
    wide <- log(t(vw[j, , , drop = TRUE]))
    if (ms[j] == 2) nar[, 5] <- wide[, 5] <- 0   # q211 = 0: not splined
    softmax_moment_cache[[as.character(ms[j])]] <- list(narrow = nar, wide = wide)
  }
  invisible()
}
# The fmm splines through the unit vectors on the knots (once per session)
softmax_basis <- function() {
  b <- softmax_moment_cache$.basis
  if (is.null(b)) {
    unit <- function(x) lapply(seq_along(x), function(i) {
      stats::splinefun(x, as.numeric(seq_along(x) == i), method = "fmm")
    })
    b <- list(narrow = unit(softmax_knots$gg), wide = unit(softmax_knots$wk))
    softmax_moment_cache$.basis <- b
  }
  b
}
# The weights on the knots of the splines at `x`
softmax_weights <- function(fs, x) {
  if (!length(x)) return(matrix(0, 0, length(fs)))
  matrix(vapply(fs, function(f) f(x), numeric(length(x))), length(x))
}
# The moments for each m in `ms` (one row per m) at the logit scales
# `sigma`, averaged with weights `w` (sum 1); m = 1 is constant.
softmax_moments_mean <- function(ms, sigma, w = rep(1 / length(sigma), length(sigma))) {
  out <- matrix(0, length(ms), 5, dimnames = list(NULL, softmax_names))
  out[ms == 1, ] <- rep(c(1, 1, 1, 0, 0), each = sum(ms == 1))
  mm <- unique(ms[ms > 1])
  if (!length(mm)) return(out)
  softmax_prepare(mm)
  b <- softmax_basis()
  tabs <- mget(as.character(mm), envir = softmax_moment_cache)
  nar <- sigma <= 8
  acc <- matrix(0, length(mm), 5)
  if (any(nar)) {
    Bn <- softmax_weights(b$narrow, sigma[nar])
    Y <- exp(Bn %*% do.call(cbind, lapply(tabs, `[[`, "narrow")))
    acc <- acc + matrix(colSums(Y * w[nar]), length(mm), 5, byrow = TRUE)
  }
  if (any(!nar)) {
    ww <- 1 / sigma[!nar]
    Bw <- softmax_weights(b$wide, ww)
    Y <- exp(Bw %*% do.call(cbind, lapply(tabs, `[[`, "wide")))
    sc <- rep(c(1, 1, 1, 0, 0), each = length(ww)) + c(0, 0, 0, 1, 0) %x% ww + c(0, 0, 0, 0, 1) %x% ww^2
    Y <- Y * as.vector(sc)
    acc <- acc + matrix(colSums(Y * w[!nar]), length(mm), 5, byrow = TRUE)
  }
  acc[mm == 2, 5] <- 0
  out[ms > 1, ] <- acc[match(ms[ms > 1], mm), , drop = FALSE]
  out
}
softmax_moments <- function(m, sigma) {
  stopifnot(length(m) == 1)
  out <- matrix(0, length(sigma), 5, dimnames = list(NULL, softmax_names))
  for (i in seq_along(sigma)) out[i, ] <- softmax_moments_mean(m, sigma[i], 1)[1, ]
  out
}

# The moments averaged over a query's squared norm: sigma^2 = tau2 X / dk,
# X chi-square on dk degrees of freedom (Gauss-Laguerre-free: a 64-point
# Gauss-Legendre rule on the chi-square's probability scale, whose
# quantile transform is smooth).
softmax_moments_chisq <- function(m, tau2, dk) {
  if (tau2 <= 0) return(softmax_moments(m, 0)[1, ])
  gl <- chisq_nodes(dk)
  colSums(softmax_moments(m, sqrt(tau2 * gl$x / dk)) * gl$w)
}
chisq_nodes <- function(dk) {
  gl <- golub_welsch(rep(0, 64), (1:63) / sqrt(4 * (1:63)^2 - 1))
  list(x = stats::qchisq((gl$x + 1) / 2, dk), w = gl$w)
}

# The infinite-width map of a layer normalization on a kernel: the
# correlation (zero-variance positions map to 0).
ln_kernel <- function(K) {
  s <- sqrt(pmax(diag(K), 0))
  inv <- ifelse(s > 0, 1 / s, 0)
  K * outer(inv, inv)
}

# The most distinct position pairs a non-homogeneous FFN activation's
# kernel may need (one bivariate quadrature each, about 20 ms: 10 s).
activation_pairs_max <- 500

abort_pairs <- function(a, T, pairs) {
  abort(sprintf(paste0(
    "`seq_len` must be at most %d with causal attention and the FFN's %s, not %s: an activation ",
    "that is not positively homogeneous (not linear or a ReLU) needs one bivariate quadrature ",
    "per distinct pair of positions, %s here, at most %s (about %s s)."),
    floor((sqrt(8 * activation_pairs_max + 1) - 1) / 2), format(a), format(T), big_number(pairs),
    big_number(activation_pairs_max), format(activation_pairs_max * 0.02)))
}

# E[f(u_t) f(u_t')] and E[f'(u_t) f'(u_t')] for a centred Gaussian vector
# u with kernel K (a matrix), elementwise: closed forms for positively
# homogeneous activations (linear, relu, leaky_relu: the arc-cosine kernel
# of Cho and Saul 2009), else by bivariate quadrature.
activation_kernel <- function(a, K, regime) {
  if (regime == "linear") return(list(f = K, df = matrix(1, nrow(K), ncol(K))))
  slope <- homogeneous_slope(a)
  s <- sqrt(pmax(diag(K), 0))
  ss <- outer(s, s)
  rho <- ifelse(ss > 0, K / ss, 0)
  rho <- pmin(pmax(rho, -1), 1)
  if (!is.null(slope)) {
    # f(x) = x (x > 0), slope x (x < 0): f = (1 + c)/2 x + (1 - c)/2 |x|
    p <- (1 + slope) / 2
    m <- (1 - slope) / 2
    # E[|u||v|] = ss (2/pi)(sqrt(1 - rho^2) + rho asin(rho)); E[u |v|] = 0
    eabs <- ss * (2 / pi) * (sqrt(1 - rho^2) + rho * asin(rho))
    fk <- p^2 * K + m^2 * eabs
    # f' = p + m sign(x): E[sign u sign v] = (2/pi) asin(rho)
    dk <- p^2 + m^2 * (2 / pi) * asin(rho)
    diag(dk) <- ifelse(s > 0, p^2 + m^2, (p + m * sign(0))^2)
    return(list(f = fk, df = dk))
  }
  n <- nrow(K)
  # one bivariate quadrature (about 20 ms) per distinct (s_i, s_j, rho_ij),
  # i >= j: a bidirectional stack's kernel has two (its diagonal and the
  # rest), a causal one up to T (T + 1) / 2
  ij <- which(lower.tri(K, diag = TRUE), arr.ind = TRUE)
  key <- cbind(s[ij[, 1]], s[ij[, 2]], rho[ij])
  first <- !duplicated(key)
  if (sum(first) > activation_pairs_max) abort_pairs(a, n, sum(first))
  u <- which(first)
  vals <- matrix(0, length(u), 2)
  for (r in seq_along(u)) {
    i <- ij[u[r], 1]
    j <- ij[u[r], 2]
    # rescale to unit variances: E[f(s_i Z1) f(s_j Z2)], corr(Z1, Z2) = rho
    fi <- function(x) a$f(s[i] * x)
    fj <- function(x) a$f(s[j] * x)
    di <- function(x) a$df(s[i] * x)
    dj <- function(x) a$df(s[j] * x)
    kn <- if (s[i] > 0) a$kinks / s[i] else numeric()
    vals[r, ] <- bivariate_expectation(list(fi, di), list(fj, dj), 1, rho[i, j], kinks = kn)[1:2]
  }
  # every pair takes the value of its first occurrence
  grp <- match(do.call(paste, as.data.frame(key)), do.call(paste, as.data.frame(key[u, , drop = FALSE])))
  fk <- dk <- matrix(0, n, n)
  fk[ij] <- vals[grp, 1]
  dk[ij] <- vals[grp, 2]
  fk[ij[, 2:1, drop = FALSE]] <- vals[grp, 1]
  dk[ij[, 2:1, drop = FALSE]] <- vals[grp, 2]
  list(f = fk, df = dk)
}

# A prediction that leaves the doubles: an error, not Inf or NaN.
abort_overflow <- function(i, what) {
  abort(sprintf(paste0(
    "The predicted %s overflows at sublayer %d of `net` (beyond %s): its variances grow ",
    "without bound through the stack (fewer blocks, smaller `skip`/`alpha` or gains, ",
    "or `norm = \"pre\"` keep them finite)."), what, i, format(.Machine$double.xmax, digits = 3)))
}

# predict_variance() for transformer nets: the kernel map over the T
# positions of one sequence, forward then backward (see "What is
# predicted" in ?transformer). One row per sublayer.
transformer_predict <- function(net, var_x, var_grad, regime, grad, attention = "logits",
                                default_regime = FALSE) {
  if (regime == "finite_width") {
    abort("`regime = \"finite_width\"` covers networks from `mlp()` and `resmlp()`: `net` is a transformer (use `regime = \"mean_field\"`).")
  }
  if (grad != "normal") {
    abort("`grad = \"softmax\"` needs a dense read-out layer: a `transformer()` has none; use `grad = \"normal\"`.")
  }
  layers <- net_layers(net)
  tr <- net$transformer
  T <- tr$seq_len
  if (default_regime && regime == "linear" && !linear_regime_applies(tr$activation)) {
    message(paste(strwrap(sprintf(paste0(
      "predict_variance(): the default `regime = \"linear\"` is Glorot's linear regime, ",
      "which assumes f(0) = 0 and f'(0) = 1; the FFN's %s does not satisfy it. ",
      "Use `regime = \"mean_field\"` for a prediction exact at infinite width."),
      format(tr$activation))), collapse = "\n"))
  }
  d <- length(layers)
  for (l in layers) {
    for (k in seq_along(l$branch)) {
      b <- l$branch[[k]]
      v <- weight_variance(b$init, b$n_in, b$n_out)
      if (abs(weight_mean(b$init, b$n_in, b$n_out)) > 1e-12 * sqrt(v)) {
        abort("`net` has weights with a non-zero mean: the predictions assume zero-mean weights.")
      }
      if (weight_mean(b$bias) != 0) {
        abort("`net` has biases with a non-zero mean: the predictions assume zero-mean biases.")
      }
    }
  }
  any_causal <- any(vapply(layers, function(l) isTRUE(l$causal), NA))
  if (any_causal && regime != "linear" && is.null(homogeneous_slope(tr$activation)) &&
      T * (T + 1) / 2 > activation_pairs_max) {
    abort_pairs(tr$activation, T, T * (T + 1) / 2)
  }
  if (attention == "logits") softmax_prepare(if (any_causal) seq_len(T) else T)
  K <- input_token_kernel(net, var_x)
  # an encoder-decoder: the memory's kernel (the encoder's output), and
  # the target tokens' at the decoder's start
  Kmem <- NULL
  fw <- vector("list", d)
  for (i in seq_len(d)) {
    l <- layers[[i]]
    if (isTRUE(l$decoder_start)) {
      Kmem <- K
      K <- input_token_kernel(net, var_x)
    }
    cross <- isTRUE(l$cross)
    causal <- isTRUE(l$causal)
    Ka <- if (l$norm == "pre") ln_kernel(K) else K
    u <- l$branch
    vv <- function(k) weight_variance(u[[k]]$init, u[[k]]$n_in, u[[k]]$n_out)
    bv <- function(k) weight_variance(u[[k]]$bias)
    if (l$kind == "attention") {
      hd <- l$heads * l$d_k
      Kkv <- if (cross) Kmem else Ka             # the keys' and values' input
      Kv <- l$n_in * vv(3) * Kkv + bv(3)         # the values, per unit
      Kc <- uniform_sandwich(Kv, causal)          # A V (rows of A sum to 1)
      # the logits a query's softmax sees: given q_t, iid over the keys
      # (their common part, from the keys' correlation and biases, cancels)
      off_mean <- function(M) if (nrow(M) > 1) (sum(M) - sum(diag(M))) / (nrow(M) * (nrow(M) - 1)) else 0
      sq2 <- l$n_in * vv(1) * mean(diag(Ka)) + bv(1)
      sk2 <- l$n_in * vv(2) * max(mean(diag(Kkv)) - off_mean(Kkv), 0)
      # tau = sqrt(tau2), as a product of square roots: finite up to a
      # logit scale of 1e308, where scale^2 overflows at 1e154 (and the
      # moments at sigma = Inf, the argmax, lose the O(1 / sigma) terms
      # that the logit path's gradient, of order scale^2 / sigma, needs)
      tau <- if (attention == "logits" && l$scale > 0 && sq2 > 0 && sk2 > 0) {
        l$scale * sqrt(l$d_k) * sqrt(sq2) * sqrt(sk2)
      } else 0
      if (!is.finite(tau)) abort_overflow(i, "logit standard deviation")
      # query t sees m_t keys (t, causal; else T): the moments per distinct m
      ms <- if (causal) seq_len(T) else rep(T, T)
      mom <- matrix(0, T, 5, dimnames = list(NULL, softmax_names))
      if (tau > 0) {
        gl <- chisq_nodes(l$d_k)
        sig <- tau * sqrt(gl$x / l$d_k)
      }
      mom[] <- if (tau > 0) softmax_moments_mean(ms, sig, gl$w) else softmax_moments_mean(ms, 0, 1)
      # the diagonal: sum_s E[A_ts^2] Kv_ss + sum_{s != s'} E[A_ts A_ts'] Kv_ss'
      # over the keys s, s' <= m_t, from prefix sums
      dsum <- cumsum(diag(Kv))[ms]
      asum <- if (causal) diag(Kc) * ms^2 else rep(sum(Kv), T)
      p2 <- mom[, "p2"]
      e12 <- ifelse(ms > 1, pmax(1 - ms * p2, 0) / (ms * pmax(ms - 1, 1)), 0)
      diag(Kc) <- ifelse(ms > 1, p2 * dsum + e12 * (asum - dsum), diag(Kc))
      # bidirectional: the logits' correlation across queries (see
      # cross_query_same()), off the diagonal: q_same on s = s', q_diff on
      # s != s' (causal: the uniform values are kept)
      qs <- NULL
      if (!causal && T > 1 && T <= cross_query_max && tau > 0) {
        Kq <- l$n_in * vv(1) * Ka + bv(1)
        qs <- cross_query_same(Kq, tau, T, l$d_k, p2)
        qd <- (1 - T * qs) / (T * (T - 1))
        off <- row(Kc) != col(Kc)
        trv <- sum(diag(Kv))
        Kc[off] <- qs[off] * trv + qd[off] * (sum(Kv) - trv)
      }
      Kb <- hd * vv(4) * Kc + bv(4)               # the branch output
      kv_eff <- max(mean(diag(Kv)) - off_mean(Kv), 0)
      st <- list(Kin_last = diag(Kc), mom = mom, sq2 = sq2, sk2 = sk2,
                 kv_eff = kv_eff, tau = tau, qsame = qs)
    } else {
      K1 <- l$n_in * vv(1) * Ka + bv(1)
      ak <- activation_kernel(u[[1]]$activation, K1, regime)
      Kb <- u[[2]]$n_in * vv(2) * ak$f + bv(2)
      st <- list(Kin_last = diag(ak$f), dK1 = ak$df)
    }
    Kh <- l$skip^2 * K + l$alpha^2 * Kb
    Kz <- if (l$norm == "post") ln_kernel(Kh) else Kh
    if (!all(is.finite(diag(Kz)))) abort_overflow(i, "variance")
    fw[[i]] <- c(st, list(Kx = diag(K), Kh = diag(Kh), Kz = Kz))
    K <- Kz
  }
  # backward: the gradients' kernel G (dC/dh) and their input's
  Gz <- diag(var_grad, T)
  Gmem <- matrix(0, T, T)     # the memory's gradient: a sum over cross layers
  var_grad_target <- NULL
  var_g <- var_gw <- numeric(d)
  inv_rms <- function(kd) { s <- sqrt(pmax(kd, 0)); ifelse(s > 0, 1 / s, 0) }
  top_ln_done <- FALSE
  for (i in d:1) {
    l <- layers[[i]]
    f <- fw[[i]]
    # (as in the engine, the output gradient is dC/dh of the last sublayer)
    # LN's Jacobian at infinite width, I / r (as for resmlp()), with two
    # exact 1/n terms (see transformer_regime_check()): the top LN of a
    # stack (the first met going back, the gradient still independent of
    # its y) projects 2 of the n directions off, (n - 2)/n; the LNs below
    # remove only what their branch made new (left out: of order f_i / n).
    # An LN on the raw iid tokens (the first sublayer of a stack), with h
    # ~ skip x, has r^2 ~ Var(h) chi^2_{n-1} / n: E[1 / r^2] = n / (n - 3)
    # of the mean field's 1 / Var(h).
    Gh <- Gz
    if (l$norm == "post" && i < d) {
      n_ln <- l$n_out
      Gh <- Gz * outer(inv_rms(f$Kh), inv_rms(f$Kh))
      if (!top_ln_done) Gh <- Gh * max(n_ln - 2, 0) / n_ln
      top_ln_done <- TRUE
      if (i == 1 || isTRUE(l$decoder_start)) {
        if (n_ln > 3) Gh <- Gh * n_ln / (n_ln - 3)
      } else {
        # a normalized input x (|x - mean x|^2 = n), h = skip x + alpha b,
        # b's share f of Var(h): E[r^2] = Var(h) (1 - f / n) (b's mean is
        # centred off), Var(r^2) / Var(h)^2 = (4 f (1 - f) + 2 f^2) / n
        # (b | x iid over units; the fluctuation of b's own variance, of
        # order f^2 / d_ff, left out): E[1 / r^2] = (1 + (5 f - 2 f^2) / n)
        # / Var(h), per token
        fb <- ifelse(f$Kh > 0, pmin(pmax(1 - l$skip^2 * f$Kx / f$Kh, 0), 1), 0)
        cf <- sqrt(1 + (5 * fb - 2 * fb^2) / n_ln)
        Gh <- Gh * outer(cf, cf)
      }
    }
    var_g[i] <- mean(diag(Gh))
    # the per-token gradient of the last weight matrix: its input times
    # alpha dC/dh, independent (the input of W_O, or of W_2)
    var_gw[i] <- l$alpha^2 * mean(f$Kin_last * diag(Gh))
    u <- l$branch
    vv <- function(k) weight_variance(u[[k]]$init, u[[k]]$n_in, u[[k]]$n_out)
    Gb <- l$alpha^2 * Gh
    if (l$kind == "attention") {
      hd <- l$heads * l$d_k
      cross <- isTRUE(l$cross)
      causal <- isTRUE(l$causal)
      Gc <- l$n_out * vv(4) * Gb                   # dC/d(AV), per unit
      # the value path: A^T Gc A, its diagonal with E[A_ts^2]: key s gets
      # (p2_t - 1 / m_t^2) Gc_tt from every query t that sees it (m_t >= s)
      Ga <- uniform_sandwich_t(Gc, causal)
      ms <- if (causal) seq_len(T) else rep(T, T)
      cd <- (f$mom[, "p2"] - 1 / ms^2) * diag(Gc)
      diag(Ga) <- diag(Ga) + if (causal) rev(cumsum(rev(cd))) else sum(cd)
      if (!is.null(f$qsame)) {
        # bidirectional, with the logits' correlation across queries:
        # (A' Gc A)_ss' = sum_t Gc_tt E[A_ts A_ts'] + sum_{t != t'} Gc_tt'
        # E[A_ts A_t's'], E[A_ts A_ts'] = e12 (s != s'), and q_same, q_diff
        # for t != t'
        off <- row(Gc) != col(Gc)
        p2 <- f$mom[1, "p2"]
        e12 <- (1 - T * p2) / (T * (T - 1))
        qd <- (1 - T * f$qsame) / (T * (T - 1))
        dg <- sum(diag(Gc))
        Ga[] <- e12 * dg + sum(qd[off] * Gc[off])
        diag(Ga) <- p2 * dg + sum(f$qsame[off] * Gc[off])
      }
      Ga <- hd * vv(3) * Ga
      # cross-attention: the value and key paths go to the memory; the
      # decoder's input gets the query path only
      Gkv <- Ga
      if (cross) Ga <- matrix(0, T, T)
      if (f$tau > 0) {
        # the path through the logits: sum_s E[dL_ts^2] = d_k Gc_tt kv R_t,
        # R_t = E[sum A^2 - 2 sum A^3 + (sum A^2)^2] (dA iid over keys)
        # = m E[A^2 (1 - A)^2] + m (m - 1) q22, without the cancellation of
        # p2 - 2 p3 + q4 at large logit scales (R ~ 1 / sigma; scale *
        # (scale * D), not scale^2, which overflows first)
        R <- 2 * ms * (ms - 1) * f$mom[, "q22"] + ms * (ms - 1) * (ms - 2) * f$mom[, "q211"]
        D <- l$d_k * diag(Gc) * f$kv_eff * R
        dq <- hd * vv(1) * f$sk2 * (l$scale * (l$scale * D))       # through W_Q, per query
        dk <- if (causal) rev(cumsum(rev(D / ms))) else rep(sum(D / ms), T)
        dk <- hd * vv(2) * f$sq2 * (l$scale * (l$scale * dk))      # through W_K, per key
        if (cross) {
          Ga <- Ga + diag(dq, T)
          Gkv <- Gkv + diag(dk, T)
        } else {
          Ga <- Ga + diag(dq + dk, T)
        }
      }
      if (cross) Gmem <- Gmem + Gkv
    } else {
      Gu <- l$n_out * vv(2) * Gb
      Ga <- u[[1]]$n_out * vv(1) * (Gu * f$dK1)
    }
    if (l$norm == "pre") Ga <- Ga * outer(inv_rms(f$Kx), inv_rms(f$Kx))
    Gz <- l$skip^2 * Gh + Ga
    if (!all(is.finite(diag(Gz)))) abort_overflow(i, "gradient variance")
    if (isTRUE(l$decoder_start)) {
      # the target tokens' gradient; below, the encoder's output gradient
      # is the memory's
      var_grad_target <- mean(diag(Gz))
      Gz <- Gmem
      top_ln_done <- FALSE
    }
  }
  kinds <- vapply(layers, `[[`, "", "kind")
  is_cross <- vapply(layers, function(l) isTRUE(l$cross), NA)
  kinds[is_cross] <- "cross_attention"
  dstart <- which(vapply(layers, function(l) isTRUE(l$decoder_start), NA))
  part <- rep(if (tr$causal) "decoder" else "encoder", d)
  block <- rep(seq_len(d / 2), each = 2)
  if (length(dstart)) {
    ne <- dstart - 1
    part <- rep(c("encoder", "decoder"), c(ne, d - ne))
    block <- c(rep(seq_len(ne / 2), each = 2), rep(seq_len((d - ne) / 3), each = 3))
  }
  out <- data.frame(layer = seq_len(d), n_in = net$widths[-(d + 1)], n_out = net$widths[-1],
                    var_s = vapply(fw, function(f) mean(f$Kh), 0),
                    var_z = vapply(fw, function(f) mean(diag(f$Kz)), 0),
                    var_grad_s = var_g, var_grad_w = var_gw, mean_s = 0, mean_z = 0,
                    token_cos = vapply(fw, function(f) kernel_token_cos(f$Kz), 0),
                    kind = ifelse(kinds %in% c("attention", "cross_attention"), kinds, "ffn"),
                    block = block, part = part, stringsAsFactors = FALSE)
  # the gradient at the network's input (dC/dx_0), the input of block 1
  attr(out, "var_grad_input") <- mean(diag(Gz))
  # an encoder-decoder's: the gradient at the target tokens (dC/dy_0)
  if (!is.null(var_grad_target)) attr(out, "var_grad_target") <- var_grad_target
  attr(out, "regime") <- regime
  rc <- transformer_regime_check(net, layers, fw)
  attr(out, "regime_check") <- rc
  # the gradient columns' regime, stated in every row
  out$grad_regime <- if (is.na(rc$inside)) "not_measured" else if (rc$inside) "inside" else "outside"
  if (regime == "mean_field" && !is.null(tr$token_kernel) && is.na(rc$inside)) {
    message(paste(strwrap(paste0(
      "predict_variance(): `net` has correlated input tokens (`token_cor`): its gradient ",
      "columns are not measured against simulation there (`grad_regime` is ",
      "\"not_measured\"); the forward columns and `token_cos` are.")), collapse = "\n"))
  }
  if (regime == "mean_field" && isFALSE(rc$inside)) {
    message(paste(strwrap(sprintf(paste0(
      "predict_variance(): `net` (%d sublayers, d_model %d) is outside the regime where the ",
      "transformer gradient prediction is documented to hold: the mean-field Var(dC/dh) is ",
      "expected to be off by about %s at the first sublayer (more than %s%%: 1/d_model terms ",
      "compounding over the normalized sublayers; see \"Where the prediction holds\" in ",
      "?transformer). The forward variances are not affected."),
      d, as.integer(net$widths[1]),
      if (rc$estimated_error < 1) paste0(format(signif(100 * rc$estimated_error, 2)), "%") else
        paste0("a factor of ", format(signif(1 + rc$estimated_error, 2)), " or more"),
      format(100 * rc$bound))), collapse = "\n"))
  }
  attr(out, "kernels") <- list(forward = lapply(fw, `[[`, "Kz"))
  class(out) <- c("initvar_prediction", "data.frame")
  out
}

# Where the mean-field gradient prediction holds (see "Where the prediction
# holds" in ?transformer): the expected relative error of Var(dC/dh) at the
# first sublayer, from the engine's simulation (tools/transformer-gradients.R:
# d_model 32-128, depths 2-100, pre- and post-LN, standard and DeepNet).
#
# What is left out is of order 1/d per normalized sublayer, and compounds.
# Per token, the exact LN Jacobian is J = (I - 11'/n - y y'/n) / r, r the
# root mean square of the centred h, y = (h - mean h) / r; J' g = P g / r,
# P the projection off span(1, y). Three 1/n terms, with the mean-field
# I / r their infinite-width limit:
# (1) the projection: |P g|^2 = |g|^2 - (1'g)^2/n - (y'g)^2/n. For g
#     independent of y, 2/n of the variance goes (the trace factor
#     (n - 2)/n). Below that LN, g stays orthogonal to 1 and to y through the
#     skip path; the next LN down removes only what the branch made new:
#     the part of y_{i-1} orthogonal to y_i (a fraction f_i, the branch's
#     share of Var(h_i)) and the branch Jacobian's component along 1. For an
#     FFN branch with a positively homogeneous activation and no biases,
#     J_b x = b (Euler), so (J_b' g)'x = g'b = -g'x when g is orthogonal to
#     h = x + b: the gradient below an FFN sublayer is exactly orthogonal to
#     its input x, and that LN removes nothing along y. So a DeepNet stack
#     (f_i ~ 1e-4) loses 2/n once, at the top LN, and keeps it: measured
#     0.9689 +- 0.004 of the prediction at depth 12, d 64 (1 - 2/64 =
#     0.9688), the same at depth 100.
# (2) E[1 / r^2] > 1 / E[r^2]: with x normalized (|x - mean x|^2 = n) and
#     h = skip x + alpha b, b | x iid over units of variance v_b,
#     Var(r^2) = (4 skip^2 alpha^2 v_b / n + alpha^4 Var(|b|^2 / n)) and
#     E[1 / r^2] = (1 + Var(r^2) / E[r^2]^2 + ...) / E[r^2]: about 1.5%
#     per standard post-LN FFN sublayer at d 64 (Var(|f|^2) / E^2 = 5 /
#     d_ff for a ReLU). At the first sublayer on raw iid tokens (h ~ skip
#     x), r^2 ~ skip^2 chi^2_{n-1} / n and E[1 / r^2] = n / (n - 3).
# (3) the correlation of g with the sublayer's own weights and with r
#     (the gradient below depends on h), of the same order.
# Carried in the backward pass: (1) at the top LN only, (n - 2)/n; (2) at
# every post-LN, n / (n - 3) on raw tokens, else 1 + (5 f - 2 f^2)/n (f the
# branch's share of Var(h), Var(r^2) / E[r^2]^2 = (4 f (1 - f) + 2 f^2)/n,
# the centring's f / n). DeepNet then agrees at every sublayer (depth 12,
# d 64: |z| < 0.35 at all 24); standard post-LN's first-sublayer gradient
# went from a factor 2.0 low to 9.6 +- 7% low at depth 12, d 64 (10.6 +-
# 7.5% at d 256: a part that does not shrink with d); left out, the LN
# projections below the top (of order f / n each, which overshoots at
# depth 100: 46 predicted against 2.7 +- 1.5) and the logits' correlation
# across queries. Pre-LN, the inputs' r grows with depth and the error grows
# like N^0.6 / d at depth 12 (6.5 +- 2% at d 64, 3.2 +- 1.3% at d 256), with
# a part that does not shrink with d at depth 100 (28 +- 14% at d 64,
# 19.8 +- 2% at d 256). The logits' correlation across queries (tokens
# correlated after attention), an infinite-width term, is now carried for
# bidirectional attention (cross_query_same()): post-LN depth 12, d 256
# went from -9.7 +- 2.4% to -2.3 +- 2.4%, but at d 64 from +3.3 to +11.8 +-
# 3.4% (the 1/n terms above no longer cancel against it). The table of
# 2026-12-08 (tools/transformer-gradients.R 400 regime) is in ?transformer;
# until the 1/n terms are carried, the call says when the expected error
# exceeds `bound`.
transformer_regime_check <- function(net, layers, fw, bound = 0.05) {
  n <- net$widths[1]
  d <- length(layers)
  norm <- vapply(layers, `[[`, "", "norm")
  if (all(norm == "none")) {
    return(list(estimated_error = NA_real_, bound = bound, inside = NA,
                note = "no normalization: not measured"))
  }
  if (!is.null(net$transformer$token_kernel)) {
    return(list(estimated_error = NA_real_, bound = bound, inside = NA,
                note = "correlated input tokens: not measured"))
  }
  post <- which(norm == "post")
  post <- post[post < d]          # the last post-LN is not back-propagated
  f <- vapply(post, function(i) {
    vh <- mean(fw[[i]]$Kh)
    if (vh > 0) max(1 - layers[[i]]$skip^2 * mean(fw[[i]]$Kx) / vh, 0) else 0
  }, 0)
  # after the 1/n terms carried (top LN's projection, E[1 / r^2]): the
  # projections of the LNs below it, left out, compound as exp(sum f / n);
  # an error of about 1.3% per unit of sum f at any width (with the
  # logits' correlation across queries carried, measured -3.6 +- 1.4% at
  # depth 6, d 256, sum f = 3.9; +11.8 +- 3.4% at depth 12, d 64)
  est_post <- if (length(post)) expm1(sum(f) / n) + 0.013 * sum(f) else 0
  n_pre <- sum(norm == "pre") / 2
  # measured (tools/transformer-gradients.R "regime", 400 networks at d 64,
  # 100 at d 256): -1.2, -5.8, -10.2% at depths 2, 6, 12 (d 64), -0.5,
  # -3.8% at depths 2, 12 (d 256), -20% at depth 100 (d 256): an a N / d +
  # b N fit (a part that does not shrink with d), 1.3 times its
  # coefficients
  est_pre <- if (n_pre > 0) 0.6 * n_pre / n + 0.0018 * n_pre else 0
  est <- est_post + est_pre
  list(estimated_error = est, bound = bound, inside = est <= bound,
       note = "estimated relative error of the mean-field Var(dC/dh) at the first sublayer")
}

# A plain-R reference of a whole transformer net, independent of the C
# engine and of first_step()'s walk: given the units' weights `par` (a list
# of list(W, b), in the engine's order), the input X (B x d) and the output
# gradient dz, per layer the sum h (s), the output z and dC/dh (g), the
# gradient at the input (dx) and the units' gradients. As in the engine,
# the output gradient is dC/dh of the last layer (as it is dC/ds of a
# dense stack's last layer): a last post-normalization is not
# back-propagated through.
transformer_reference <- function(net, par, X, dz) {
  layers <- net_layers(net)
  d <- length(layers)
  s <- z <- g <- st <- vector("list", d)
  first <- cumsum(c(0, vapply(layers, function(l) length(l$branch), 0L)))
  bmat <- function(b, n) matrix(b, n, length(b), byrow = TRUE)
  # an encoder-decoder's input is source | target (net_input_width())
  n0 <- layers[[1]]$n_in
  x <- X[, seq_len(n0), drop = FALSE]
  mem <- NULL
  for (i in seq_len(d)) {
    l <- layers[[i]]
    p <- par[first[i] + seq_along(l$branch)]
    if (isTRUE(l$decoder_start)) {
      mem <- x
      x <- X[, n0 + seq_len(n0), drop = FALSE]
    }
    if (l$kind == "attention") {
      r <- attention_forward_values(l, p, x, mem)
      st[[i]] <- r$st
      s[[i]] <- r$h
      z[[i]] <- r$z
    } else {
      pre <- if (l$norm == "pre") ln_forward(x)
      a <- if (l$norm == "pre") pre$y else x
      t1 <- a %*% p[[1]]$W + bmat(p[[1]]$b, nrow(a))
      f1 <- l$branch[[1]]$activation
      u <- f1$f(t1)
      dim(u) <- dim(t1)
      D <- f1$df(t1)
      dim(D) <- dim(t1)
      H <- l$skip * x + l$alpha * (u %*% p[[2]]$W + bmat(p[[2]]$b, nrow(a)))
      post <- if (l$norm == "post") ln_forward(H)
      st[[i]] <- list(a = a, u = u, D = D, pre = pre, post = post)
      s[[i]] <- H
      z[[i]] <- if (l$norm == "post") post$y else H
    }
    x <- z[[i]]
  }
  grads <- vector("list", length(par))
  gmem <- 0
  for (i in d:1) {
    l <- layers[[i]]
    us <- first[i] + seq_along(l$branch)
    p <- par[us]
    if (l$kind == "attention") {
      if (i == d && l$norm == "post") l$norm <- "post_top"   # dz is dC/dh
      r <- attention_backward_values(l, p, st[[i]], dz)
      g[[i]] <- r$dh
      grads[us] <- r$grads
      dz <- r$dx
      if (isTRUE(l$cross)) gmem <- gmem + r$dmem
      # below the decoder: the encoder's output gradient is the memory's
      if (isTRUE(l$decoder_start)) dz <- gmem
    } else {
      q <- st[[i]]
      dH <- if (l$norm == "post" && i < d) ln_backward(dz, q$post$y, q$post$r) else dz
      g[[i]] <- dH
      d2 <- l$alpha * dH
      grads[[us[2]]] <- list(W = crossprod(q$u, d2), b = colSums(d2))
      d1 <- tcrossprod(d2, p[[2]]$W) * q$D
      grads[[us[1]]] <- list(W = crossprod(q$a, d1), b = colSums(d1))
      da <- tcrossprod(d1, p[[1]]$W)
      if (l$norm == "pre") da <- ln_backward(da, q$pre$y, q$pre$r)
      dz <- l$skip * dH + da
    }
  }
  list(s = s, z = z, g = g, dx = dz, grads = grads)
}

# The engine's code of an attention layer's mask (src/engine.h, ATT_*).
attention_mask_code <- function(l) {
  if (isTRUE(l$cross)) 2 else if (isTRUE(l$decoder_start)) 3 else as.double(l$causal)
}

# The columns of a network's input: an encoder-decoder's is source |
# target (two d_model-wide halves, the same rows).
net_input_width <- function(net) {
  w <- net$widths[1]
  if (inherits(net, "initvar_transformer") && identical(net$transformer$architecture, "encoder_decoder")) 2 * w else w
}

# A transformer's batch is whole sequences.
check_sequence_batch <- function(net, rows, arg) {
  if (inherits(net, "initvar_transformer") && rows %% net$transformer$seq_len != 0) {
    abort(sprintf("`%s` must be a multiple of the transformer's `seq_len` (%s), not %s: the batch is whole sequences.",
                  arg, format(net$transformer$seq_len), format(rows)))
  }
  invisible(TRUE)
}

# The identity activation, from a function whose `activation` is the
# package's (in transformer() and resmlp() an argument of that name, when
# it is an R function, would be called instead).
linear_activation <- function() activation("linear")

# The mean cosine similarity of a sequence's distinct tokens for a kernel K
# over its T positions (the infinite-width cosine K_ts / sqrt(K_tt K_ss),
# averaged over t != s; 1 for T = 1).
kernel_token_cos <- function(K) {
  T <- nrow(K)
  if (T < 2) return(1)
  s <- sqrt(pmax(diag(K), 0))
  C <- K / outer(s, s)
  C[!is.finite(C)] <- 0
  (sum(C) - sum(diag(C))) / (T * (T - 1))
}

# One network's per-sequence mean token cosine at every sublayer output:
# a layers x sequences matrix, from the rows of z (B x n, sequences of T
# consecutive rows).
trace_token_cos <- function(z, T) {
  B <- nrow(z)
  S <- B %/% T
  vapply(seq_len(S), function(s) {
    x <- z[seq_rows(s, T), , drop = FALSE]
    nr <- sqrt(rowSums(x^2))
    C <- tcrossprod(x) / outer(nr, nr)
    C[!is.finite(C)] <- 0
    (sum(C) - sum(diag(C))) / (T * (T - 1))
  }, 0)
}

#' Token similarity through a transformer: predicted against simulated
#'
#' The mean cosine similarity of distinct tokens of a sequence,
#' \eqn{\cos(z_t, z_s) = z_t \cdot z_s / (|z_t| |z_s|)} averaged over
#' \eqn{t \ne s}, at every sublayer's output: predicted from the
#' transformer kernel of [predict_variance()] (its column `token_cos`,
#' \eqn{K_{ts} / \sqrt{K_{tt} K_{ss}}} at infinite width) and simulated by
#' the engine's own networks, with the input tokens correlated as
#' `transformer(token_cor = )` sets. Rank collapse (Dong et al. 2021,
#' Noci et al. 2022) is the cosine's approach to 1.
#'
#' The simulation is one network at a time through the engine's trace (all
#' its activations kept), so it is meant for small networks; each network's
#' value is its mean over `sequences` sequences, and the MCSE is the
#' standard error over networks.
#' @param net A network from [transformer()] (not an encoder-decoder).
#' @param networks Number of networks (at least 2).
#' @param sequences Sequences per network (at least 1).
#' @param var_x Variance of each input feature.
#' @return A data frame, one row per sublayer: `layer`, `block`, `kind`,
#'   `predicted`, `simulated`, `mcse`, and `z` (predicted less simulated,
#'   in MCSE).
#' @references
#' Dong, Y., Cordonnier, J.-B. and Loukas, A. (2021). Attention is not all
#' you need: pure attention loses rank doubly exponentially with depth.
#' ICML.
#'
#' Noci, L. et al. (2022). Signal propagation in transformers: theoretical
#' perspectives and the role of rank collapse. NeurIPS.
#' @examples
#' set.seed(1)
#' net <- transformer(32, 4, depth = 2, seq_len = 4, norm = "post", token_cor = 0.5)
#' token_similarity(net, networks = 4, sequences = 2)
#' @export
token_similarity <- function(net, networks = 20, sequences = 8, var_x = 1) {
  if (!inherits(net, "initvar_transformer")) abort_arg("net", "a network from transformer()", net)
  if (identical(net$transformer$architecture, "encoder_decoder")) {
    abort_arg("net", "a transformer() that is not an encoder-decoder", net)
  }
  check_whole(networks, "networks", min = 2, max = 1e6)
  check_whole(sequences, "sequences", min = 1, max = 1e5)
  check_number(var_x, "var_x", min = 0, min_open = TRUE)
  T <- net$transformer$seq_len
  p <- suppressMessages(predict_variance(net, var_x = var_x, regime = "mean_field"))
  setup <- suppressMessages(sim_setup(net, sequences * T, "normal", var_x, NULL, "normal", 1, 10))
  d <- nrow(p)
  vals <- matrix(0, d, networks)
  for (k in seq_len(networks)) {
    tr <- .Call(C_test_network_trace, setup$spec, k - 1)
    vals[, k] <- vapply(tr$z, function(z) mean(trace_token_cos(z, T)), 0)
  }
  est <- rowMeans(vals)
  mcse <- apply(vals, 1, stats::sd) / sqrt(networks)
  pred <- p$token_cos
  data.frame(layer = p$layer, block = p$block, kind = p$kind, predicted = pred,
             simulated = est, mcse = mcse,
             z = ifelse(mcse > 0, (pred - est) / mcse, NA_real_), stringsAsFactors = FALSE)
}

# ---- the logits' correlation across queries --------------------------------
#
# Two queries t, t' of correlation rho (their kernel Kq_tt' / sqrt(Kq_tt
# Kq_t't')) see the same keys: given the queries, the logits (L_ts, L_t's)
# are iid over the keys s (the keys' common part cancels in the softmax),
# Gaussian with covariance c^2 s_K^2 G, G the 2 x 2 Gram matrix of the
# queries (a Wishart matrix with d_k degrees of freedom: G = s_Q^2 (L A)(L
# A)', L the Cholesky factor of [1 rho; rho 1] and A Bartlett's factor,
# A_11^2 ~ chi^2_{d_k}, A_22^2 ~ chi^2_{d_k - 1}, A_21 ~ N(0, 1)). So
# (L_ts, L_t's) = (tau / sqrt(d_k)) (L A) Z_s, Z_s ~ N(0, I_2), tau^2 = c^2
# d_k s_Q^2 s_K^2 as for one query. For t != t', E[A_ts A_t's'] is
# q_same (s = s') or q_diff = (1 - m q_same) / (m (m - 1)) (rows sum to
# 1), and m q_same = m p2 - D(rho), with D = E[sum_s (A_ts - A_t's)^2] / 2
# (p2 = E[A_ts^2], the same for both rows): D by Monte Carlo over fixed
# draws made once per session (common to every rho and tau, so that D is
# smooth in both and vanishes like 1 - rho as rho -> 1, with a relative
# error of about 1 / sqrt(N)), p2 by its exact integral. rho = 0 gives the
# uniform value 1 / m^2 (independent rows); rho = 1, q_same = p2 (the same
# row).
cross_query_cache <- new.env(parent = emptyenv())
# the longest sequence for which the term is carried (beyond it, left out)
cross_query_max <- 64
cross_query_draws <- function(m, dk) {
  key <- paste(m, dk)
  if (!is.null(cross_query_cache[[key]])) return(cross_query_cache[[key]])
  N <- as.integer(min(2^15, 2^20 / m))
  # a private stream: the user's RNG state and kinds are restored
  had <- exists(".Random.seed", envir = globalenv(), inherits = FALSE)
  old <- if (had) get(".Random.seed", envir = globalenv(), inherits = FALSE)
  kinds <- RNGkind()
  on.exit({
    RNGkind(kinds[1], kinds[2], kinds[3])
    if (had) assign(".Random.seed", old, envir = globalenv()) else
      rm(".Random.seed", envir = globalenv())
  })
  suppressWarnings(RNGkind("Mersenne-Twister", "Inversion", "Rejection"))
  set.seed(20261208)
  out <- list(Z1 = matrix(stats::rnorm(N * m), N), Z2 = matrix(stats::rnorm(N * m), N),
              a11 = sqrt(stats::rchisq(N, dk)), a21 = stats::rnorm(N),
              a22 = sqrt(if (dk > 1) stats::rchisq(N, dk - 1) else numeric(N)), dk = dk)
  cross_query_cache[[key]] <- out
  out
}
softmax_rows <- function(L) {
  E <- exp(L - L[cbind(seq_len(nrow(L)), max.col(L, "first"))])
  E / rowSums(E)
}
# D(rho) for logit scale tau (tau^2 the logits' variance), m keys, d_k.
cross_query_gap <- function(rho, tau, m, dk) {
  if (m < 2 || tau == 0) return(rep(0, length(rho)))
  dr <- cross_query_draws(m, dk)
  f <- tau / sqrt(dk)
  A1 <- softmax_rows(f * dr$a11 * dr$Z1)
  gap <- function(r) {
    if (r >= 1) return(0)
    s <- sqrt(max(1 - r^2, 0))
    A2 <- softmax_rows(f * ((r * dr$a11 + s * dr$a21) * dr$Z1 + s * dr$a22 * dr$Z2))
    sum((A1 - A2)^2) / (2 * nrow(A1))
  }
  # the draws' error, common to every rho, scaled out: D(0) is exact, m p2
  # - 1/m (independent rows)
  gl <- chisq_nodes(dk)
  p2 <- softmax_moments_mean(m, tau * sqrt(gl$x / dk), gl$w)[1, "p2"]
  g0 <- gap(0)
  ratio <- if (g0 > 0) (m * p2 - 1 / m) / g0 else 1
  vapply(rho, function(r) if (r == 0) m * p2 - 1 / m else gap(r) * ratio, 0)
}
# q_same per pair of queries (a T x T matrix, diagonal NA) for the queries'
# kernel Kq, from p2 (per query, m keys each); at most 24 distinct rho are
# evaluated, more on a grid in rho with a spline.
cross_query_same <- function(Kq, tau, m, dk, p2) {
  T <- nrow(Kq)
  s <- sqrt(pmax(diag(Kq), 0))
  R <- Kq / outer(s, s)
  R[!is.finite(R)] <- 0
  R <- pmin(pmax(R, -1), 1)
  off <- row(R) != col(R)
  r <- round(R[off], 8)
  u <- unique(r)
  D <- if (length(u) <= 24) {
    cross_query_gap(u, tau, m, dk)[match(r, u)]
  } else {
    g <- seq(min(u), max(u), length.out = 33)
    stats::splinefun(g, cross_query_gap(g, tau, m, dk))(r)
  }
  Q <- matrix(NA_real_, T, T)
  Q[off] <- p2[1] - D / m
  Q
}
