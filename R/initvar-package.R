#' initvar: neural network weight initialization, sampled and checked
#'
#' `initvar` is about the variance arguments behind weight initialization
#' (Glorot and Bengio 2010, He et al. 2015): it samples the weights, predicts
#' what they do to a network's variances, simulates the network to check the
#' predictions, and verifies each identity the derivation rests on. Start
#' with [glorot_report()], the package's main job, and
#' `vignette("glorot-derivation", package = "initvar")`.
#'
#' @section Sample (1 of 6):
#' Every common scheme, with the exact conventions of torch, Keras, JAX and
#' TensorFlow.js: [init_glorot()], [init_glorot_standard()], [init_he()],
#' [init_lecun()], [init_variance_scaling()], [init_torch_default()],
#' [init_orthogonal()], [init_sparse()], [init_identity()], torch's names
#' [init_xavier()] and [init_kaiming()], and the elementary [init_normal()],
#' [init_uniform()], [init_truncated_normal()], [init_constant()],
#' [init_zeros()], [init_ones()]. [sample_weights()] draws a matrix;
#' [weight_variance()] and [weight_mean()] give the exact moments a scheme
#' realizes; [fans()] reads the fans of a torch or Keras shape or of a layer
#' described by [dense_layer()], [conv_layer()] or [attention_layer()];
#' [compare_fans()] puts each framework's fans beside the real ones;
#' [gain()] gives the gain for an activation; [compare_schemes()] checks the
#' exact variances against sampled matrices (of [default_schemes()] or
#' yours). `plot()` of a scheme draws its density.
#'
#' @section Predict (2 of 6):
#' [mlp()] describes a dense network with [activation()]s (built-in, or any
#' R function), [resmlp()] a residual one and [transformer()] a stack of
#' attention and feed-forward blocks; [predict_variance()] predicts per layer the variance of the
#' activations, the back-propagated gradients and the weight gradients, in
#' Glorot's linear regime (their eqs. 5-7) or exactly at infinite width
#' (the mean-field recursion); [linear_regime()] says when the linear
#' regime holds. [token_similarity()] gives a transformer's mean token
#' cosine per sublayer (rank collapse), predicted and simulated, for inputs
#' whose tokens are correlated as `transformer(token_cor = )` sets.
#'
#' @section Simulate (3 of 6):
#' [simulate_network()] pushes random inputs forward and gradients backward
#' through many random networks in C, with Monte Carlo standard errors,
#' next to the predictions; `plot()` draws variance by layer and Glorot and
#' Bengio's histograms (figures 6-8); [plot_simulations()] compares several
#' runs, [width_sweep()] shows the finite-width gap close. [explore()] opens
#' all of it live in the browser (a shiny app): move a control, watch the
#' signal die or explode next to its predictions.
#' [glorot_report()] runs the paper's experiment end to end.
#' [initvar_blas()] names the BLAS in use; [last_partial()] returns what an
#' interrupted run had done.
#'
#' @section Beyond the linear regime (order, chaos, finite width; 4 of 6):
#' [fixed_point()] gives the fixed points, phase and depth scales of signal
#' propagation, [critical_line()] the edge of chaos and [phase_diagram()]
#' the whole picture; [predict_correlation()] and [simulate_correlation()]
#' follow the correlation of two inputs; [predict_kurtosis()] the
#' non-Gaussianity of a finite network; [network_norms()] the spread of
#' the squared norms over networks; [jacobian_spectrum()] the singular
#' values of the input-output Jacobian (of dense and convolutional
#' networks), [jacobian_log_spectrum()] their logs at depths of thousands
#' of layers.
#'
#' @section Today's networks (residual depth, attention, convolutions; 5 of 6):
#' [scaling_rule()] and [scaling_rules()] give the residual depth-scaling
#' rules (Fixup, SkipInit, ReZero, DeepNet, depth-muP);
#' [residual_growth()] and [residual_depth_profile()] show the variance and
#' gradient growth through a residual network; [attention_logits()] checks
#' attention's \eqn{1/\sqrt{d_k}}{1/sqrt(d_k)}; [first_step()] takes one optimizer step
#' at initialization and [coordinate_check()] tests muP's claim with a null
#' hypothesis; [parametrization()] tabulates SP, NTK, muP, depth-muP and
#' CompleteP as width and depth exponents per parameter group, which
#' `coordinate_check(parametrization = )` applies to a base network over
#' widths or depths and a few steps, with a Holm verdict; [mup_bugs()] is
#' the set of injected muP and CompleteP bugs the check is measured on. [cnn()] builds convolutional networks (1-D and 2-D, zero,
#' circular or valid padding, strides, dilations, groups) that the engine
#' runs and [predict_variance()] predicts position by position;
#' [position_map()] and [plot_position_map()] show the border's effect;
#' [init_delta_orthogonal()] draws Xiao et al.'s delta-orthogonal kernels,
#' [init_conv_orthogonal()] their Algorithm-1 orthogonal kernels,
#' and [fan_conformance()] tabulates the fans every framework uses for
#' convolutions against the real ones.
#'
#' @section Verify (6 of 6):
#' [identities()] lists the identities the derivation rests on (with their
#' assumptions); [verify()] checks one by simulation, with a counterexample
#' when an assumption is dropped, or any identity you write as a formula
#' over `E()`, `Var()` and `Cov()` ([new_identity()] makes a reusable one,
#' [register_identity()] adds it to the list);
#' [verify_all()] checks them all, with Holm's family-wise verdict, and
#' `plot()` of its result is a forest plot of estimates against theory.
#' [read_weights()] reads a saved model's tensors (safetensors, NumPy `.npy`
#' and `.npz`, or R arrays) with their names, shapes and stored types, and
#' [audit_init()] tests each against the scheme it claims, with Holm's
#' family-wise verdict and the framework default it looks like best;
#' [init_mamba_dt()] and [init_s4d()] declare Mamba's dt bias and S4D's A,
#' so that a wiped or mis-derived special initialization is caught.
#'
#' @section Vignettes, in reading order:
#' 1. `vignette("fan-in", package = "initvar")`: why sd = 1/sqrt(fan_in).
#' 2. `vignette("what-var-means", package = "initvar")`: what Var(z) is
#'    a variance over.
#' 3. `vignette("glorot-derivation", package = "initvar")`: the derivation
#'    step by step, each step checked.
#' 4. `vignette("glorot-figures", package = "initvar")`: the paper's figures
#'    6-8 at initialization.
#' 5. `vignette("beyond-linear", package = "initvar")`: tanh, sigmoid, ReLU
#'    and the mean-field recursion.
#' 6. `vignette("sampling", package = "initvar")`: the schemes and the
#'    frameworks' conventions.
#' 7. `vignette("verify-your-own", package = "initvar")`: any E/Var/Cov
#'    identity checked by simulation.
#' 8. `vignette("order-and-chaos", package = "initvar")`: the q-map and
#'    c-map, the phase diagram and the edge of chaos.
#' 9. `vignette("finite-width", package = "initvar")`: the 1/n gap to the
#'    mean field in a real network, kurtosis and norms.
#' 10. `vignette("residual-and-attention", package = "initvar")`: residual
#'    depth scaling, attention and the first step of training.
#' 11. `vignette("convolutions", package = "initvar")`: He's fan for a
#'    convolution, the zero border position by position, the frameworks'
#'    grouped fans and delta-orthogonal kernels at depth.
#' 12. `vignette("audit", package = "initvar")`: auditing a saved
#'    model's initialization with [audit_init()].
#'
#' @section Conventions:
#' A weight matrix has `fan_in` rows and `fan_out` columns, as in Glorot and
#' Bengio's \eqn{s = zW + b} with \eqn{z} a row vector, so that a batch of
#' inputs `X` (`batch x fan_in`) maps to `X %*% W`. [fans()] translates the
#' array shapes used by torch and Keras. Layer \eqn{i} of a network holds
#' \eqn{W^{i-1}} and outputs \eqn{z^i}.
#'
#' @section Randomness:
#' Every random draw is reproducible from [set.seed()]. Each call takes 64
#' bits of seed material from R's random number generator, then generates in
#' C with xoshiro256++ streams, one per fixed chunk of work, seeded with
#' splitmix64. Normal deviates come from an exact 256-layer ziggurat. The
#' result of a call depends on the seed only, never on the number of threads
#' (see [initvar_threads()]).
#'
#' @examples
#' net <- mlp(c(784, rep(1000, 5), 10), c(rep("tanh", 5), "linear"), init_glorot())
#' predict_variance(net, regime = "mean_field")
#' @keywords internal
"_PACKAGE"
