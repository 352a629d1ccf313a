# Per-layer variance predictions: Glorot & Bengio's linear regime and the
# infinite-width (mean-field) recursion.

#' Predicted per-layer variances of a random network
#'
#' For a network from [mlp()] at initialization, predicts layer by layer the
#' variance of the pre-activations \eqn{s}, of the activations \eqn{z}, of
#' the back-propagated gradients \eqn{\partial C / \partial s} and of the
#' per-example weight gradients \eqn{\partial C / \partial W}. Variances are
#' over the randomness of the weights, biases and inputs, for one neuron (see
#' `vignette("what-var-means", package = "initvar")`, and [simulate_network()]
#' for the across-neuron variance of one fixed network).
#'
#' Row \eqn{i} (1-based) is the layer holding \eqn{W^{i-1}}, of size
#' \eqn{n_{i-1} \times n_i}: it takes \eqn{z^{i-1}} to \eqn{s^{i-1}} and
#' outputs \eqn{z^i = f(s^{i-1})}, with \eqn{z^0 = x}. Write
#' \eqn{v_i = Var(W^{i-1})} ([weight_variance()]) and
#' \eqn{g_i = \partial C / \partial s^{i-1}}.
#'
#' @section `regime = "linear"`: Glorot and Bengio (2010), with
#'   \eqn{f'(0) = 1} and zero-mean weights, so that every layer is linear:
#'   \deqn{Var(z^i) = Var(x) \prod_{i'=1}^{i} n_{i'-1} v_{i'}}
#'   (their eq. 5, indices shifted by one: their \eqn{\prod_{i'=0}^{i-1}
#'   n_{i'} Var(W^{i'})});
#'   \deqn{Var(g_i) = Var(g_d) \prod_{i'=i+1}^{d} n_{i'} v_{i'}}
#'   (their eq. 6, whose product runs one layer too far: the gradient at
#'   layer \eqn{i} has passed through the weights *above* it only, each
#'   summing \eqn{n_{i'}} terms);
#'   \deqn{Var(\partial C / \partial W^{i-1}) = Var(z^{i-1}) Var(g_i)}
#'   (their eq. 7). Their eq. 13 prints \eqn{Var[x]} where
#'   \eqn{Var[\partial C / \partial s^d]} is meant. A bias variance, if any,
#'   is added to each \eqn{Var(s)}.
#'
#' @section `regime = "mean_field"`: the exact recursion of an infinitely wide
#'   network (Poole et al. 2016; Schoenholz et al. 2017), for any activation
#'   and bias: with \eqn{s^{i-1} \sim N(\mu_b, q_i)},
#'   \deqn{q_i = n_{i-1} v_i E[(z^{i-1})^2] + \sigma_b^2, \quad
#'   E[(z^i)^k] = E[f(\mu_b + \sqrt{q_i} Z)^k],}
#'   \deqn{Var(g_i) = E[f'(s^{i-1})^2] \, n_{i+1} v_{i+1} Var(g_{i+1}),
#'   \quad Var(\partial C / \partial W^{i-1}) = E[(z^{i-1})^2] Var(g_i),}
#'   the expectations by half-range Gauss-Hermite quadrature (see [gain()]).
#'   Note \eqn{E[z^2]}, not \eqn{Var(z)}, drives the next layer: they differ
#'   when \eqn{f} has a non-zero mean (sigmoid). For ReLU, \eqn{E[f(s)^2] =
#'   q/2}: He et al.'s factor 1/2 exactly. The backward pass assumes the
#'   gradients independent of the forward activations, as is standard; it is
#'   exact for linear networks.
#'
#' @section `regime = "finite_width"`: the mean field plus the leading
#'   \eqn{1/n} correction to `var_s`, `var_z` and `mean_z` at every layer,
#'   for any activation and bias (Roberts, Yaida and Hanin 2022, chapter 4,
#'   sections 4.3-4.4: the single-input recursions of the four-point vertex
#'   \eqn{V} and of the next-to-leading-order metric \eqn{G^{\{1\}}};
#'   extended here to non-Gaussian weights and random inputs). The
#'   prediction is the mean over networks (and inputs) of a layer's second
#'   central moment, \eqn{E[(s - \mu_b)^2]}, what [simulate_network()]
#'   estimates; its error is \eqn{O(1/n^2)}. Write the pre-activation of
#'   layer \eqn{i} as \eqn{s = \mu_b + u}: at finite width \eqn{u} is
#'   symmetric, with variance \eqn{K + \Delta G} (\eqn{K = q_i} the
#'   mean-field value), fourth cumulant \eqn{\kappa}, and covariance
#'   \eqn{c} between the squares of two distinct units, all \eqn{O(1/n)}.
#'   The Edgeworth expansion gives, with \eqn{\langle g \rangle_K =
#'   E[g(\mu_b + \sqrt{K} Z)]},
#'   \deqn{E[g(s)] = \langle g \rangle_K + \Delta G \, \partial_K \langle g
#'   \rangle_K + \frac{\kappa}{6} \partial_K^2 \langle g \rangle_K \qquad (FW1)}
#'   (equivalently \eqn{\frac{1}{2} \Delta G \langle g'' \rangle + \frac{1}{24}
#'   \kappa \langle g'''' \rangle}; for Gaussian weights \eqn{\kappa = 3 V / n},
#'   so the last term is RYH's \eqn{\frac{1}{8} (V / n) \langle g'''' \rangle}),
#'   and \eqn{Cov(g(s_a), g(s_b)) = c \, (\partial_K \langle g \rangle_K)^2}
#'   (FW2). The derivatives are Gaussian expectations,
#'   \eqn{\partial_K \langle g \rangle = E[g \, He_2(Z)] / (2K)},
#'   \eqn{\partial_K^2 \langle g \rangle = E[g \, He_4(Z)] / (4K^2)}
#'   (\eqn{He_2 = Z^2 - 1}, \eqn{He_4 = Z^4 - 6Z^2 + 3}), by the quadrature
#'   of the mean field: no derivative of \eqn{f} is needed and kinks are
#'   fine. Layer \eqn{i+1} sums \eqn{n = n_i} units with weights of
#'   variance \eqn{v} and excess kurtosis \eqn{e} (\eqn{E[W^4] = (3 + e)
#'   v^2}: 0 normal, \eqn{-6/5} uniform); with \eqn{A = E[f(s)^2]}:
#'   \deqn{\Delta G_{i+1} = n v (\Delta G_i \, \partial_K \langle f^2
#'   \rangle + \frac{\kappa_i}{6} \partial_K^2 \langle f^2 \rangle)
#'   \qquad (FW3)}
#'   (exact, as \eqn{E[s^2] = \sigma_b^2 + n v A} at any width, with (FW1)
#'   for \eqn{A});
#'   \deqn{c_{i+1} = v^2 (n \, Var(f^2) + n (n - 1) \, c_i \, (\partial_K
#'   \langle f^2 \rangle)^2) \qquad (FW4)}
#'   (the variance of the conditional variance \eqn{\sigma_b^2 + v
#'   \sum_j f(s_j)^2}, by (FW2): for Gaussian weights RYH's
#'   \eqn{V^{(l+1)} = C_W^2 (\langle \sigma^4 \rangle - \langle \sigma^2
#'   \rangle^2) + \chi_\parallel^2 (n_l / n_{l-1}) V^{(l)}}, \eqn{c = V / n});
#'   \deqn{\kappa_{i+1} = 3 c_{i+1} + e \, v^2 n \langle f^4 \rangle \qquad (FW5)}
#'   (the conditionally Gaussian part, and the weights' own fourth cumulant,
#'   which enters the layer's marginal but not the cross-unit \eqn{c}).
#'   Then `var_s` is \eqn{K + \Delta G}, `mean_z` and `var_z` come from
#'   (FW1) with \eqn{g = f} and \eqn{f^2} (\eqn{Var(z) = E[z^2] - E[z]^2}).
#'   For linear networks, and for ReLU and leaky ReLU with zero bias means,
#'   \eqn{\partial_K^2 \langle f^2 \rangle = 0} and \eqn{\Delta G_1 = 0}:
#'   the correction to `var_s` is exactly 0, as it must be (mean field is
#'   exact there in expectation); `var_z` of ReLU still moves, since
#'   \eqn{E[relu(s)]} depends on the law of \eqn{|s|}.
#'
#'   Input convention (`input`): the input counts as layer 0 with \eqn{f}
#'   the identity. `"gaussian"` (the default, as [simulate_network()]'s
#'   `input = "normal"`): \eqn{x \sim N(0, \sigma_x^2 I)} drawn per input,
#'   \eqn{Var(x^2) = 2 \sigma_x^4}, \eqn{E[x^4] = 3 \sigma_x^4}, so the first
#'   layer already has \eqn{c_1 = 2 (n_0 v)^2 \sigma_x^4 / n_0}; `"uniform"`:
#'   \eqn{0.8 \sigma_x^4} and \eqn{1.8 \sigma_x^4}; `"fixed"`: one fixed
#'   input whose entries all have the same magnitude (\eqn{\pm \sigma_x}),
#'   \eqn{c_1 = 0}, \eqn{E[x^4] = \sigma_x^4}: with Gaussian weights the
#'   first layer is then exactly Gaussian.
#'
#'   Requirements: iid weights symmetric about 0 (normal, uniform,
#'   symmetric truncated normal; not orthogonal, sparse or identity, whose
#'   entries are dependent) and normal or constant biases (a uniform bias is
#'   non-Gaussian at \eqn{O(1)}, not \eqn{O(1/n)}).
#'
#'   Gradients: with Gaussian weights and `grad = "normal"` (an output
#'   gradient \eqn{g} independent of the network), `var_grad_s` is
#'   corrected too. \eqn{\partial C / \partial s_i = J^T g} with \eqn{J =
#'   \partial s_d / \partial s_i}, so \eqn{Var(\partial C / \partial s_{i,a}) =
#'   Var(g) E|J e_a|^2}, a forward quantity: the tangent \eqn{t = J e_a}
#'   propagates beside \eqn{s}. Given the layer below, a unit's \eqn{(s, t)}
#'   is Gaussian with covariance \eqn{(G, C; C, H)}, so \eqn{E[f'(s)^2 t^2]
#'   = H \langle f'^2 \rangle_G + 2 C^2 \partial_G \langle f'^2 \rangle_G}
#'   (FW6); over the layers below, with \eqn{T = E[H]}, \eqn{X = Cov(H, G)},
#'   \eqn{Y = E[C^2]}, \eqn{h = \langle f'^2 \rangle}, \eqn{A = \langle f^2
#'   \rangle} and primes for \eqn{\partial_K}: \eqn{E[f'^2 t^2] = T (h +
#'   \Delta G h' + c h'' / 2) + h' X + 2 h' Y}, \eqn{T' = n v E[f'^2 t^2]},
#'   \eqn{X' = v^2 (n T (\langle f'^2 f^2 \rangle - h A) + n (n - 1) (h A' X
#'   + T h' A' c))}, \eqn{Y' = v^2 (n T \langle f^2 f'^2 \rangle + n (n - 1)
#'   Y A'^2)} (FW7), from the one-hot tangent at layer \eqn{i}. The mean
#'   field is the gradient-independence assumption \eqn{X = Y = 0}, \eqn{c =
#'   \Delta G = 0}. This is exact (correction 0) for ReLU and linear
#'   networks. Otherwise (uniform weights, whose fourth cumulant adds terms
#'   not included here, or a softmax output gradient, which depends on the
#'   network) `var_grad_s` is the mean-field value. `var_grad_w` is
#'   corrected in the same cases: \eqn{\partial C / \partial W_{ab} = z_a
#'   (\partial C / \partial s_i)_b}, so its variance is \eqn{Var(g)
#'   E[z_a^2 |t|^2]}, and at finite width \eqn{z_a^2} and \eqn{|t|^2} are
#'   correlated through the shared squared norms: with \eqn{P_m = Cov(z_a^2,
#'   G_m)}, \eqn{P_i = v_i (Var(z^2) + (n_{i-1} - 1) Cov(z_a^2, z_c^2))},
#'   \eqn{P_{m+1} = n_m v_{m+1} A'_m P_m}, \eqn{Var(\partial C / \partial
#'   W^{(i-1)}) = Var(\partial C / \partial s_i) (E[z^2] + \Delta A +
#'   \sum_{m \ge i} (h'_m / h_m) P_m)} (FW8; 0 correction beyond
#'   \eqn{E[z^2]} at the top layer, and none for ReLU and linear networks).
#'   Measured against [simulate_network()] at widths 16 and 32 (tanh stacks
#'   of depths 3-8, with and without biases, and ReLU): within 3.5 MCSE over
#'   40 layers (Holm at 0.99), where the mean field is off by up to 20 MCSE
#'   (1-6\% at width 16). For GELU the correction of `var_grad_s` keeps an
#'   \eqn{O(1/n)} gap at these widths (5-9 MCSE at width 16, 6 layers, He
#'   weights), which `var_grad_w` inherits.
#'
#'   Accuracy, tested (tests/testthat/test-finite-width.R): against exact
#'   layer-1 moments (chi-square mixtures; sums of uniforms) the residual
#'   falls like \eqn{n^{-2}} (fitted slopes -2.00 to -2.05 for tanh, sigmoid
#'   and GELU with biases, widths 16-256), where the mean-field gap falls
#'   like \eqn{n^{-1}}; against [simulate_network()] it agrees at level 0.99
#'   (Holm over the grid) for tanh and GELU stacks of widths 16-1000 and
#'   depths 5-10, normal and uniform weights, where the mean field is off by
#'   up to 36 MCSE; `var_grad_s` likewise (tanh, GELU; mean field off by up
#'   to 56 MCSE in a 24-wide GELU stack, finite width within 3.4). In a
#'   width-32, 10-layer tanh stack (Glorot normal weights) the correction
#'   of `var_s` at layer 10 is about -6\% (the last example computes it:
#'   -5.97\% with this version); simulated, 10,000 networks of 16 inputs,
#'   the gap to the mean field is -5.9\% with an MCSE of 0.24\% (another
#'   seed: -6.16\%, MCSE 0.16\%), and the remaining gap times \eqn{n^2}
#'   stays near -0.5 from width 4 to 16.
#'
#'   Residual blocks ([resmlp()], no normalization, pre- or post-LN): the
#'   branch's layers follow (FW3)-(FW5) from the block's input (after
#'   \eqn{LN}, whose rows have mean square exactly 1: \eqn{E[y^2] = 1} with
#'   no correction and \eqn{Cov(y_a^2, y_b^2) = -Var(y^2) / (n - 1)}); the
#'   sum \eqn{h = \mathrm{skip}\, x + \alpha t} (\eqn{t} the branch's last,
#'   linear, layer) has \eqn{Var(h) = \mathrm{skip}^2 Var(x) + \alpha^2
#'   Var(t)} exactly, and \eqn{Cov(h_a^2, h_b^2) = \mathrm{skip}^4 c_x +
#'   \alpha^4 c_t + 2 \mathrm{skip}^2 \alpha^2 D}, where \eqn{D =
#'   Cov(t_a^2, x_b^2)} (the same for \eqn{a = b}: given the branch's last
#'   input \eqn{u}, \eqn{E[t_a^2 | u] = v |u|^2 + \sigma_b^2}) follows the
#'   branch, \eqn{Cov(|x|^2, x_b^2) = Var(x^2) + (n - 1) c_x} (0 after
#'   \eqn{LN}), times \eqn{n v \partial_K \langle f^2 \rangle} per hidden
#'   layer and \eqn{v} for the last. The skip path keeps the input's own
#'   non-Gaussianity, \eqn{E[h^4] = \mathrm{skip}^4 E[x^4] + 6
#'   \mathrm{skip}^2 \alpha^2 E[x^2] E[t^2] + 3 \alpha^4 E[t^2]^2}. The
#'   blocks' biases may have a mean inside the branch, not in its last layer
#'   (the skip path would carry it); their gradients stay mean-field.
#'   Tested against [simulate_network()] at widths 24-32 (tanh and GELU
#'   branches of 2-3 layers, uniform weights, every normalization, input and
#'   read-out projections): within 2.8 MCSE where mean field is off by up to
#'   9.9; the mean-field gap halves from width 8 to 16 and the remaining gap
#'   falls by 4 (\eqn{n^{-2}}; about \eqn{-0.8 / n^2} at depth 4).
#'
#' In all regimes the weights must have mean zero.
#'
#' @section Finite width: what is exact:
#' * Linear networks: every value, at any width.
#' * ReLU and leaky ReLU with symmetric zero-mean weights and zero-mean
#'   biases: `var_s` is exact at any width (the pre-activations are
#'   symmetric about 0, so \eqn{E[relu(s)^2] = E[s^2]/2} whatever their
#'   distribution). `var_grad_s` and `var_grad_w` are exact as long as no
#'   unit is exactly dead: a layer whose inputs are all 0 has \eqn{s = 0}
#'   exactly, where \eqn{f'(0) = 0}, so \eqn{P(s > 0) < 1/2}; that happens
#'   only in narrow networks (at width 4, `mlp(rep(4, 7), "relu",
#'   init_he())`, the back-propagated gradient variance at the fifth layer
#'   is 0.777 of the prediction, MCSE 0.003, simulated with 40,000 networks
#'   of 16 inputs; tests/testthat/test-first-hour.R checks it in the full
#'   tier). `var_z` and `mean_z` are not exact:
#'   \eqn{E[relu(s)]} depends on the distribution of \eqn{|s|}, which is not
#'   Gaussian at finite width (at width 4 the simulated Var(z) is 5-38\%
#'   above the prediction). With a non-zero bias mean nothing is exact.
#' * Other activations: exact only as the width grows: the pre-activations
#'   of a finite layer are not exactly Gaussian, and for deep tanh networks
#'   the simulated variance sits below the prediction by a relative amount
#'   of order \eqn{1/n} per layer (about \eqn{2/n} after 15 layers of width
#'   \eqn{n}). A long [simulate_network()] run, whose MCSE shrinks, will
#'   then flag deep layers; widen the network to see the gap close, or use
#'   `regime = "finite_width"`, which predicts that gap.
#'
#' @section Accuracy:
#' The mean-field expectations are computed by adaptive Gauss-Kronrod
#' quadrature split at the activation's kinks and resolved on the scale
#' \eqn{1/\sqrt{q}} (see `vignette("beyond-linear", package = "initvar")`),
#' to a relative error below 1e-10 for \eqn{q} from 1e-6 to 1e4 and bias
#' means from -3 to 3 (tested against independent references); central
#' moments are computed centrally, so a bias mean of 1e8 costs no digits.
#' A value whose whole mass lies more than 37.5 standard deviations away
#' (below 1e-300 of the integrand's scale) is returned as 0.
#'
#' For [transformer()] nets the gradient's mean field is documented to
#' hold (to 5%) only where its 1/d_model errors, compounding over the
#' normalized sublayers, stay small (pre-LN depth 12 needs d_model 256;
#' DeepNet holds at d_model 64 up to depth 100; standard post-LN does not
#' hold at d_model 64): see "Where the prediction holds" in
#' [transformer()]. The result's attribute `regime_check` gives the
#' expected error, its column `grad_regime` the verdict (`"inside"`,
#' `"outside"`, `"not_measured"`) in every row, and a message says when a
#' call is outside. A transformer's result also has the column
#' `token_cos`: the mean cosine similarity of distinct tokens at each
#' sublayer's output, at infinite width (see [token_similarity()]).
#'
#' @param net A network from [mlp()].
#' @param var_x Variance of each input feature (zero mean).
#' @param var_grad Variance of the output gradient \eqn{\partial C /
#'   \partial s^{d-1}} when `grad = "normal"`.
#' @param regime `"linear"`, `"mean_field"` or `"finite_width"`.
#' @param grad `"normal"`: the output gradient is drawn iid with variance
#'   `var_grad`; `"softmax"`: it comes from a softmax cross-entropy cost on
#'   uniformly random labels, \eqn{(p - y) f'(s^{d-1})}, whose variance is
#'   \eqn{1/n_d - 1/n_d^2} for small logits (linear regime) and is computed
#'   exactly for independent Gaussian pre-activations in the mean-field
#'   regime (a one-dimensional integral).
#' @param input The input convention of `regime = "finite_width"`:
#'   `"gaussian"`, `"uniform"` (random inputs, drawn per input, as
#'   [simulate_network()] does) or `"fixed"`; see that section. Ignored by
#'   the other regimes.
#' @return A data frame of class `initvar_prediction` with one row per layer:
#'   `layer`, `n_in`, `n_out`, `var_s`, `var_z`, `var_grad_s`, `var_grad_w`,
#'   `mean_s`, `mean_z`; `plot()` draws the variances by layer.
#' @references
#' Glorot, X. and Bengio, Y. (2010). Understanding the difficulty of training
#' deep feedforward neural networks. AISTATS.
#'
#' Roberts, D. A., Yaida, S. and Hanin, B. (2022). The Principles of Deep
#' Learning Theory. Cambridge University Press (arXiv:2106.10165), chapter 4.
#'
#' Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J. and Ganguli, S.
#' (2016). Exponential expressivity in deep neural networks through transient
#' chaos. NeurIPS.
#' @examples
#' net <- mlp(c(1000, rep(1000, 5)), "tanh", init_glorot_standard())
#' predict_variance(net)                       # shrinks by 1/3 per layer
#' predict_variance(net, regime = "mean_field")
#' relu <- mlp(rep(500, 11), "relu", init_he())
#' predict_variance(relu, regime = "mean_field")$var_s   # constant: He's factor 2
#' # a narrow deep tanh stack: the 1/n correction, in % of the mean field
#' narrow <- mlp(rep(32, 11), "tanh", init_glorot("normal"))
#' mf <- predict_variance(narrow, regime = "mean_field")$var_s
#' fw <- predict_variance(narrow, regime = "finite_width")$var_s
#' round(100 * (fw / mf - 1), 2)   # layer 10: about -6%
#' @export
predict_variance <- function(net, var_x = 1, var_grad = 1,
                             regime = c("linear", "mean_field", "finite_width"),
                             grad = c("normal", "softmax"),
                             input = c("gaussian", "uniform", "fixed")) {
  check_mlp(net)
  check_number(var_x, min = 0)
  check_number(var_grad, min = 0)
  default_regime <- missing(regime)
  regime <- check_choice(regime, c("linear", "mean_field", "finite_width"), "regime")
  grad <- check_choice(grad, c("normal", "softmax"), "grad")
  input <- check_choice(input, c("gaussian", "uniform", "fixed"), "input")
  # transformers: the kernel over a sequence's positions (R/net-transformer.R)
  if (inherits(net, "initvar_transformer")) {
    return(transformer_predict(net, var_x, var_grad, regime, grad, default_regime = default_regime))
  }
  # convolutional networks: position by position (R/net-conv.R)
  if (inherits(net, "initvar_cnn")) return(cnn_predict(net, var_x, var_grad, regime, grad))
  check_softmax_output(net, grad)
  w <- net$widths
  d <- length(w) - 1
  if (default_regime) {
    off <- Filter(Negate(linear_regime_applies), net$activation)
    if (length(off)) {
      message(sprintf(paste0(
        "predict_variance(): the default `regime = \"linear\"` is Glorot's linear regime, ",
        "which assumes f(0) = 0 and f'(0) = 1; %s does not satisfy it. ",
        "Use `regime = \"mean_field\"` for a prediction exact at infinite width."),
        format(off[[1]])))
    }
  }
  v <- vapply(seq_len(d), function(i) weight_variance(net$init[[i]], w[i], w[i + 1]), 0)
  wm <- vapply(seq_len(d), function(i) weight_mean(net$init[[i]], w[i], w[i + 1]), 0)
  if (any(abs(wm) > 1e-12 * sqrt(v))) {
    abort(paste0(
      "`net` has weights with a non-zero mean (layer ", which(abs(wm) > 1e-12 * sqrt(v))[1],
      "): the predictions assume zero-mean weights."))
  }
  layers <- net_layers(net)
  bm <- vapply(net$bias, function(s) weight_mean(s), 0)
  bv <- vapply(net$bias, function(s) weight_variance(s), 0)
  if (regime == "finite_width") {
    # checked before any quadrature: iid symmetric weights, Gaussian biases
    # (of every dense layer and of every branch layer of a residual block)
    e <- vapply(seq_len(d), function(i) {
      l <- layers[[i]]
      if (l$kind == "residual") {
        for (k in seq_along(l$branch)) {
          b <- l$branch[[k]]
          weight_excess_kurtosis(b$init, b$n_in, b$n_out, i,
                                 sprintf("`regime = \"finite_width\"` (branch layer %d)", k))
        }
        return(0)
      }
      weight_excess_kurtosis(net$init[[i]], w[i], w[i + 1], i)
    }, 0)
    for (i in seq_len(d)) {
      l <- layers[[i]]
      bl <- if (l$kind == "residual") lapply(l$branch, `[[`, "bias") else list(net$bias[[i]])
      for (bs in bl) {
        b <- resolve_scheme(bs, 1, 1)
        if (!(b$family %in% c("normal", "constant"))) {
          abort(sprintf(paste0(
            "`regime = \"finite_width\"` needs normal or constant biases: layer %d draws its ",
            "biases from %s, whose own non-Gaussianity is not small in 1/n."),
            i, scheme_distribution_text(b)))
        }
      }
      if (l$kind == "residual" && weight_mean(l$branch[[length(l$branch)]]$bias) != 0) {
        abort(sprintf(paste0(
          "`regime = \"finite_width\"` needs zero-mean biases in the last layer of a residual ",
          "branch (layer %d): the skip path would carry the mean to every later block."), i))
      }
    }
  }
  var_s <- var_z <- mean_s <- mean_z <- m2_z <- dfd2 <- numeric(d)
  fwd <- vector("list", d)
  m2_prev <- var_x
  mean_prev <- 0
  for (i in seq_len(d)) {
    l <- layers[[i]]
    m <- if (regime == "finite_width") {
      tryCatch(layer_kinds[[l$kind]]$forward(l, m2_prev, mean_prev, regime),
               error = finite_width_overflow(i, m2_prev))
    } else {
      layer_kinds[[l$kind]]$forward(l, m2_prev, mean_prev, regime)
    }
    fwd[[i]] <- m
    var_s[i] <- m$var_s
    mean_s[i] <- m$mean_s
    var_z[i] <- m$var_z
    mean_z[i] <- m$mean_z
    m2_z[i] <- m$m2_z
    dfd2[i] <- m$dfd2
    m2_prev <- m2_z[i]
    mean_prev <- mean_z[i]
  }
  var_g <- numeric(d)
  var_g[d] <- if (grad == "normal") var_grad else
    softmax_grad_var(net, var_s[d], mean_s[d], regime) * dfd2[d]
  if (d > 1) {
    for (i in (d - 1):1) {
      l <- layers[[i + 1]]
      var_g[i] <- dfd2[i] * layer_kinds[[l$kind]]$backward(l, var_g[i + 1], fwd[[i + 1]])
    }
  }
  m2_in <- c(var_x, m2_z[-d])
  # a layer kind may say which input its weight gradients see (a residual
  # block: its last branch layer's)
  m2_w <- vapply(seq_len(d), function(i) if (is.null(fwd[[i]]$m2_w)) m2_in[i] else fwd[[i]]$m2_w, 0)
  if (regime == "finite_width") {
    fw <- finite_width_forward(net, v, bv, bm, e, var_x, input)
    # E[z] and E[z^2] corrected to O(1/n): Var(z) = E[z^2] - E[z]^2
    var_s <- var_s + fw$dG
    var_z <- var_z + fw$dA - 2 * mean_z * fw$dm
    mean_z <- mean_z + fw$dm
  }
  var_gw <- m2_w * var_g
  if (regime == "finite_width" && grad == "normal" && all(e == 0) &&
      all(vapply(layers, `[[`, "", "kind") == "dense")) {
    # Gaussian weights, an output gradient independent of the network: the
    # back-propagated variances' own 1/n correction (not derived through
    # residual blocks, whose gradients stay mean-field)
    var_g <- var_g * finite_width_grad_ratio(net, v, bm, fw)
    # and the weight gradients': E[z^2 (dC/ds)^2] with the correlation of
    # the two through the shared squared norms
    var_gw <- var_g * finite_width_grad_w_factor(net, bm, fw, m2_w)
  }
  out <- data.frame(layer = seq_len(d), n_in = w[-(d + 1)], n_out = w[-1],
                    var_s = var_s, var_z = var_z, var_grad_s = var_g,
                    var_grad_w = var_gw, mean_s = mean_s, mean_z = mean_z)
  attr(out, "regime") <- regime
  class(out) <- c("initvar_prediction", "data.frame")
  out
}

# Var(p_k - y_k) for a softmax over n logits L = f(s), s ~ N(mu, q) iid
# across units (the infinite-width limit), with uniformly random labels:
# E[p^2] - 2 / n^2 + 1 / n. Linear regime: small logits, p = 1/n. Mean
# field: exactly, with 1 / a^2 = int_0^Inf t exp(-a t) dt,
#   E[p_1^2] = int_0^Inf t E[exp(2 L - t e^L)] E[exp(-t e^L)]^(n - 1) dt,
# a one-dimensional integral of one-dimensional Gaussian expectations.
softmax_grad_var <- function(net, q, mu, regime) {
  n <- net$widths[length(net$widths)]
  if (n == 1) return(0)   # one class: p = y = 1, no gradient
  if (regime == "linear") return(1 / n - 1 / n^2)
  act <- net$activation[[length(net$activation)]]
  f <- act$f
  sd_q <- sqrt(q)
  integrand <- function(t) {
    vapply(t, function(tt) {
      a <- normal_expectation(function(x) { l <- f(x); exp(2 * l - tt * exp(l)) }, sd_q, mu,
                              kinks = act$kinks)
      b <- normal_expectation(function(x) exp(-tt * exp(f(x))), sd_q, mu, kinks = act$kinks)
      tt * a * b^(n - 1)
    }, 0)
  }
  Ep2 <- stats::integrate(integrand, 0, Inf, rel.tol = 1e-10)$value
  max(Ep2 - 2 / n^2 + 1 / n, 0)
}

check_mlp <- function(net, arg = "net") {
  if (!inherits(net, "initvar_mlp")) abort_arg(arg, "a network from `mlp()`", net)
  why <- network_problem(net)
  if (!is.null(why)) {
    abort(sprintf(
      "`%s` must be a network from `mlp()`, `resmlp()`, `cnn()` or `transformer()`, not a forged <%s> (%s).",
      arg, class(net)[1], why))
  }
  invisible(net)
}

# Why an object of class initvar_mlp is not a network the constructors make
# (NULL when it is). Its `layers` must be a non-empty list of layers of
# known kinds (`layer_kinds`), each with finite positive sizes, a real
# `init` scheme and, where present, a real activation and bias; consecutive
# layers must chain (n_out of one = n_in of the next) and `widths` must be
# the sizes along the chain. A plain mlp without `layers` (made before
# layers existed) is read from its per-layer summaries, which must then
# make such layers. resmlp(), cnn() and transformer() networks must carry
# their own description (`residual`, `cnn`, `transformer`).
network_problem <- function(net) {
  if (!is.list(net)) return("not a list")
  layers <- net$layers
  if (is.null(layers)) {
    if (!identical(class(net), "initvar_mlp")) return("it has no `layers`")
    w <- net$widths
    if (!is.numeric(w) || length(w) < 2 || !is.list(net$activation) ||
        length(net$activation) != length(w) - 1 || !is.list(net$init) ||
        length(net$init) != length(w) - 1 || !is.list(net$bias) ||
        length(net$bias) != length(w) - 1) {
      return("it has no `layers`, and no `widths`, `activation`, `init` and `bias` of one per layer")
    }
    layers <- tryCatch(net_layers(net), error = function(e) NULL)
    if (is.null(layers)) return("its per-layer summaries do not make layers")
  }
  if (!is.list(layers) || inherits(layers, "initvar_net_layer") || length(layers) == 0) {
    return("its `layers` is not a non-empty list of layers")
  }
  for (i in seq_along(layers)) {
    why <- layer_problem(layers[[i]])
    if (!is.null(why)) return(sprintf("its layer %d %s", i, why))
  }
  n_in <- vapply(layers, function(l) l$n_in, 0)
  n_out <- vapply(layers, function(l) l$n_out, 0)
  if (length(layers) > 1 && any(n_out[-length(layers)] != n_in[-1])) {
    i <- which(n_out[-length(layers)] != n_in[-1])[1]
    return(sprintf("its layer %d outputs %s units but layer %d takes %s", i,
                   format(n_out[i]), i + 1, format(n_in[i + 1])))
  }
  w <- net$widths
  if (!is.numeric(w) || length(w) != length(layers) + 1 || anyNA(w) ||
      any(w != c(n_in[1], n_out))) {
    return("its `widths` are not the sizes of its layers")
  }
  for (sub in c("residual", "cnn", "transformer")) {
    if (inherits(net, paste0("initvar_", sub)) && !is.list(net[[sub]])) {
      return(sprintf("it has no `%s` description", sub))
    }
  }
  NULL
}

layer_problem <- function(l, depth = 0) {
  if (!is.list(l) || !inherits(l, "initvar_net_layer")) return("is not a layer")
  if (!is.character(l$kind) || length(l$kind) != 1 || !l$kind %in% names(layer_kinds)) {
    return("is not of a known kind")
  }
  for (nm in c("n_in", "n_out")) {
    v <- l[[nm]]
    if (!is.numeric(v) || length(v) != 1 || is.na(v) || !is.finite(v) || v <= 0) {
      return(sprintf("has no positive `%s`", nm))
    }
  }
  if (!inherits(l$init, "initvar_scheme") || !is.null(scheme_problem(l$init))) {
    return("has no real `init` scheme")
  }
  if (!is.null(l$bias) && (!inherits(l$bias, "initvar_scheme") || !is.null(scheme_problem(l$bias)))) {
    return("has no real `bias` scheme")
  }
  if (l$kind %in% c("dense", "residual") &&
      (!inherits(l$activation, "initvar_activation") || !is.null(activation_problem(l$activation)))) {
    return("has no real activation")
  }
  if (l$kind == "conv" && !is.list(l$conv)) return("has no `conv` description")
  if (l$kind == "residual" && depth == 0) {
    if (!is.list(l$branch) || length(l$branch) == 0) return("has no branch")
    for (b in l$branch) {
      why <- layer_problem(b, depth + 1)
      if (!is.null(why)) return(paste("has a branch layer that", why))
    }
  }
  NULL
}

# Whether Glorot's linear regime describes activation `a` near 0: f(0) = 0,
# f'(0) = 1 and no kink at 0.
linear_regime_applies <- function(a) {
  if (0 %in% a$kinks) return(FALSE)
  f0 <- a$f(0)
  d0 <- a$df(0)
  isTRUE(abs(f0) < 1e-12 && abs(d0 - 1) < 1e-8)
}
