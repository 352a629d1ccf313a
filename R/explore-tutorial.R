# The learnr tutorial's exercise checker (inst/tutorials/initvar-init/):
# each exercise's right answer is computed by the package's own functions,
# so the tutorial, the vignettes and the app agree. learnr calls
# tutorial_checker() (set with tutorial_options(exercise.checker = )); the
# tests call it directly (tests/testthat/test-explore-tutorial.R).

# A number close to `want` (relative tolerance `tol`).
tutorial_close <- function(x, want, tol = 1e-6) {
  is.numeric(x) && length(x) == 1 && is.finite(x) && abs(x - want) <= tol * abs(want)
}
tutorial_ok <- function(correct, message) list(correct = correct, message = message)
tutorial_number <- function(x) format(signif(x, 6))

# One entry per exercise label: `answer()` computes the right answer with
# the package's functions, `check(x)` judges the learner's last value.
tutorial_exercises <- list(
  # Glorot's eq. 5 on a linear stack: Var(z^i) = Var(x) prod n_i' Var(W^i')
  linear_stack = list(
    answer = function() {
      net <- mlp(c(784, 256, 128, 10), "linear", init_glorot_standard())
      predict_variance(net, var_x = 1, regime = "linear")$var_z[3]
    },
    check = function(x) {
      want <- tutorial_exercises$linear_stack$answer()
      if (tutorial_close(x, want)) {
        return(tutorial_ok(TRUE, sprintf(paste0(
          "Right: Var(z^3) = %s. Each layer multiplies the variance by n Var(W) = n / (3n) = 1/3, ",
          "whatever its width."), tutorial_number(want))))
      }
      tutorial_ok(FALSE, paste0(
        "Not yet. Under U[-1/sqrt(n), 1/sqrt(n)] a weight has variance 1/(3n), with n the ",
        "layer's fan-in; multiply Var(x) by n Var(W) once per layer (three layers)."))
    }),
  # the gain that keeps ReLU's variance: N(0, g^2 / fan_in)
  relu_gain = list(
    answer = function() gain("relu"),
    check = function(x) {
      want <- gain("relu")
      if (tutorial_close(x, want)) {
        return(tutorial_ok(TRUE, sprintf(paste0(
          "Right: g = %s. ReLU keeps half of a symmetric input's second moment, so the ",
          "weights must double it: g^2 = 2 (He et al., 2015)."), tutorial_number(want))))
      }
      if (tutorial_close(x, 2)) {
        return(tutorial_ok(FALSE, "That is g^2: the gain is its square root."))
      }
      tutorial_ok(FALSE, paste0(
        "Not yet. E[relu(s)^2] = Var(s) / 2 for a symmetric s: which factor g^2 in ",
        "Var(W) = g^2 / fan_in makes up for it?"))
    }),
  # where tanh's gradients vanish: the mean-field recursion
  tanh_vanish = list(
    answer = function() {
      net <- mlp(rep(200, 51), "tanh", init_variance_scaling(0.8, "fan_in", "normal"))
      g <- predict_variance(net, regime = "mean_field")$var_grad_s
      max(which(g < g[length(g)] / 100))
    },
    check = function(x) {
      want <- tutorial_exercises$tanh_vanish$answer()
      if (is.numeric(x) && length(x) == 1 && isTRUE(x == want)) {
        return(tutorial_ok(TRUE, sprintf(paste0(
          "Right: layer %d. With sigma_w^2 = 0.8 (the ordered phase) each layer back multiplies ",
          "Var(dC/ds) by about chi_1 = 0.8, and 0.8^21 < 1/100."), want)))
      }
      tutorial_ok(FALSE, paste0(
        "Not yet. Compute predict_variance(net, regime = \"mean_field\")$var_grad_s and find ",
        "the last layer (counting from the input) where it is below 1/100 of its value at ",
        "layer 50."))
    }),
  # an identity checked by simulation with verify()
  verify_identity = list(
    answer = function() verify("product_zero_mean", n = 1e4, threads = 1),
    check = function(x) {
      if (!inherits(x, "initvar_verification") || !identical(x$id, "product_zero_mean")) {
        return(tutorial_ok(FALSE, paste0(
          "Not yet: the last value must be the result of verify(\"product_zero_mean\", ",
          "n = ...), the identity Var(XY) = Var(X) Var(Y) for independent zero-mean X, Y.")))
      }
      if (x$n < 1e4) {
        return(tutorial_ok(FALSE, "Use at least n = 1e4 draws: fewer cannot be calibrated."))
      }
      if (!isTRUE(x$consistent)) {
        return(tutorial_ok(FALSE, paste0(
          "The simulation disagrees with the identity this time: at level 0.99 that happens ",
          "once in 100 runs of a true identity. Run it again with another seed.")))
      }
      tutorial_ok(TRUE, sprintf(paste0(
        "Right: the estimate %s (MCSE %s) agrees with Var(X) Var(Y) = %s. Drop the zero means ",
        "(verify(\"product_zero_mean\", drop = \"zero_mean\")) to watch it fail."),
        tutorial_number(x$estimate), tutorial_number(x$mcse), tutorial_number(x$theoretical)))
    }),
  # a transposed convolution's He initialization from its real fan-in
  transposed_conv = list(
    answer = function() {
      l <- conv_layer(16, 32, c(3, 3), stride = 2, transposed = TRUE)
      sqrt(2 / fans(l)[["fan_in"]])
    },
    check = function(x) {
      want <- tutorial_exercises$transposed_conv$answer()
      if (tutorial_close(x, want)) {
        return(tutorial_ok(TRUE, sprintf(paste0(
          "Right: sd = %s. Each output of a stride-2 transposed convolution sums 16 x 9 / 4 = 36 ",
          "inputs, not 288."), tutorial_number(want))))
      }
      if (tutorial_close(x, sqrt(2 / 288))) {
        return(tutorial_ok(FALSE, paste0(
          "That is torch's sd: it reads fan_in = 32 x 9 = 288 off the (in, out, k, k) shape. ",
          "Ask fans(conv_layer(...)) for the layer's real fan-in.")))
      }
      tutorial_ok(FALSE, "Not yet: He's sd is sqrt(2 / fan_in), with the layer's real fan-in.")
    })
)

# learnr's exercise checker. Only the "check" stage is judged (learnr's
# own handling of code that does not parse or fails is kept); an exercise
# the table does not know gets no verdict (NULL).
tutorial_checker <- function(label = NULL, user_code = NULL, solution_code = NULL,
                             check_code = NULL, envir_result = NULL, evaluate_result = NULL,
                             envir_prep = NULL, last_value = NULL, stage = NULL, ...) {
  if (!is.null(stage) && !identical(stage, "check")) return(NULL)
  ex <- if (is.character(label) && length(label) == 1) tutorial_exercises[[label]]
  if (is.null(ex)) return(NULL)
  r <- tryCatch(ex$check(last_value), error = function(e) {
    tutorial_ok(FALSE, paste("The checker could not read this answer:", conditionMessage(e)))
  })
  list(message = r$message, correct = isTRUE(r$correct),
       type = if (isTRUE(r$correct)) "success" else "error", location = "append")
}
