#' initvar: neural network weight initialization, sampled and checked
#'
#' `initvar` is about the variance arguments behind weight initialization
#' (Glorot and Bengio 2010, He et al. 2015): it samples the weights, predicts
#' what they do to a network's variances, simulates the network to check the
#' predictions, and verifies each identity the derivation rests on. Start
#' with [glorot_report()], the package's main job, and
#' `vignette("glorot-derivation", package = "initvar")`.
#'
#' @section Sample (1 of 4):
#' Every common scheme, with the exact conventions of torch, Keras, JAX and
#' TensorFlow.js: [init_glorot()], [init_glorot_standard()], [init_he()],
#' [init_lecun()], [init_variance_scaling()], [init_torch_default()],
#' [init_orthogonal()], [init_sparse()], [init_identity()] and the
#' elementary [init_normal()], [init_uniform()], [init_truncated_normal()],
#' [init_constant()]. [sample_weights()] draws a matrix;
#' [weight_variance()] and [weight_mean()] give the exact moments a scheme
#' realizes; [fans()] reads the fans of a torch or Keras shape; [gain()]
#' gives the gain for an activation; [compare_schemes()] checks the exact
#' variances against sampled matrices. `plot()` of a scheme draws its
#' density.
#'
#' @section Predict (2 of 4):
#' [mlp()] describes a dense network with [activation()]s (built-in, or any
#' R function); [predict_variance()] predicts per layer the variance of the
#' activations, the back-propagated gradients and the weight gradients, in
#' Glorot's linear regime (their eqs. 5-7) or exactly at infinite width
#' (the mean-field recursion); [linear_regime()] says when the linear
#' regime holds.
#'
#' @section Simulate (3 of 4):
#' [simulate_network()] pushes random inputs forward and gradients backward
#' through many random networks in C, with Monte Carlo standard errors,
#' next to the predictions; `plot()` draws variance by layer and Glorot and
#' Bengio's histograms (figures 6-8); [plot_simulations()] compares several
#' runs, [width_sweep()] shows the finite-width gap close.
#' [glorot_report()] runs the paper's experiment end to end.
#'
#' @section Verify (4 of 4):
#' [identities()] lists the identities the derivation rests on (with their
#' assumptions); [verify()] checks one by simulation, with a counterexample
#' when an assumption is dropped, or any identity you write as a formula
#' over `E()`, `Var()` and `Cov()` ([new_identity()] makes a reusable one);
#' [verify_all()] checks them all, with Holm's family-wise verdict, and
#' `plot()` of its result is a forest plot of estimates against theory.
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
