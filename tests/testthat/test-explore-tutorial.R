# The learnr tutorial (inst/tutorials/initvar-init/): its exercise checker
# (initvar:::tutorial_checker(), learnr's exercise.checker) accepts a right
# answer and rejects a wrong one, the right answers being independent
# plain-R computations; the tutorial's exercises are the checker's; and,
# with learnr installed, the tutorial renders.

ns <- asNamespace("initvar")
tutorial <- system.file("tutorials", "initvar-init", "initvar-init.Rmd", package = "initvar")
check <- function(label, value, stage = "check") {
  ns$tutorial_checker(label = label, user_code = "", last_value = value, stage = stage)
}

test_that("each checker accepts the right answer and rejects wrong ones", {
  # plain-R answers
  right <- list(
    linear_stack = (1 / 3)^3,                       # n Var(W) = 1/3 per layer
    relu_gain = sqrt(2),
    tanh_vanish = NULL,                             # below, from the recursion
    transposed_conv = sqrt(2 / (16 * 9 / 4)))       # fan-in 16 x 3 x 3 / stride^2
  wrong <- list(linear_stack = list(1, 1 / 3, "0.037", c(1, 2)),
                relu_gain = list(2, 1, NA, NULL),
                tanh_vanish = list(50, 1, 28.5, "29"),
                transposed_conv = list(sqrt(2 / 288), sqrt(2 / 16), NULL))
  for (lab in c("linear_stack", "relu_gain", "transposed_conv")) {
    r <- check(lab, right[[lab]])
    expect_true(r$correct, label = lab)
    expect_identical(r$type, "success")
    expect_match(r$message, "^Right")
    # a right answer within rounding
    expect_true(check(lab, right[[lab]] * (1 + 1e-9))$correct, label = lab)
    for (w in wrong[[lab]]) {
      r <- check(lab, w)
      expect_false(r$correct, label = paste(lab, deparse(w)))
      expect_identical(r$type, "error")
    }
  }
  # tanh: plain R, the mean-field recursion by integrate(). Forward,
  # q_1 = sigma_w^2 Var(x) and q_i = sigma_w^2 E[tanh(s)^2], s ~ N(0, q_{i-1});
  # backward from Var(dC/ds^50) = 1, each layer multiplies the gradient's
  # variance by chi_i = sigma_w^2 E[tanh'(s)^2], s ~ N(0, q_i)
  net <- mlp(rep(200, 51), "tanh", init_variance_scaling(0.8, "fan_in", "normal"))
  ez <- function(f, v) {
    integrate(function(u) f(u) * dnorm(u, sd = sqrt(v)), -Inf, Inf, rel.tol = 1e-12)$value
  }
  q <- numeric(50)
  q[1] <- 0.8
  for (i in 2:50) q[i] <- 0.8 * ez(function(u) tanh(u)^2, q[i - 1])
  chi <- vapply(q, function(v) 0.8 * ez(function(u) (1 - tanh(u)^2)^2, v), 0)
  ratio <- vapply(1:50, function(i) if (i == 50) 1 else prod(chi[i:49]), 0)
  g <- predict_variance(net, regime = "mean_field")$var_grad_s
  expect_equal(g / g[50], ratio, tolerance = 1e-9)
  want <- max(which(ratio < 1 / 100))
  expect_true(check("tanh_vanish", want)$correct)
  expect_true(check("tanh_vanish", as.integer(want))$correct)
  for (w in wrong$tanh_vanish) expect_false(check("tanh_vanish", w)$correct, label = deparse(w))
  # the helpful wrong answers say why
  expect_match(check("relu_gain", 2)$message, "g\\^2")
  expect_match(check("transposed_conv", sqrt(2 / 288))$message, "torch")
})

test_that("the verify() exercise takes a consistent verification of the identity", {
  set.seed(1)
  v <- verify("product_zero_mean", n = 1e4, threads = 1)
  expect_identical(check("verify_identity", v)$correct, isTRUE(v$consistent))
  # the identity checked, not another
  set.seed(1)
  expect_false(check("verify_identity", verify("linear_var", n = 1e4, threads = 1))$correct)
  expect_false(check("verify_identity", 1)$correct)
  # a verification that disagreed (forged here): rejected, with the reason
  bad <- v
  bad$consistent <- FALSE
  r <- check("verify_identity", bad)
  expect_false(r$correct)
  expect_match(r$message, "once[[:space:]]+in[[:space:]]+100")
})

test_that("the checker judges only learnr's check stage and known exercises", {
  expect_null(check("relu_gain", sqrt(2), stage = "code_check"))
  expect_null(check("relu_gain", sqrt(2), stage = "error_check"))
  expect_null(check("no_such_exercise", 1))
  expect_null(ns$tutorial_checker(label = NULL, stage = "check"))
  # learnr passes its arguments by name, and more in later versions
  expect_true(ns$tutorial_checker(label = "relu_gain", user_code = "sqrt(2)",
                                  solution_code = NULL, check_code = "", envir_result = NULL,
                                  evaluate_result = NULL, envir_prep = NULL,
                                  last_value = sqrt(2), stage = "check", extra = 1)$correct)
})

test_that("the tutorial's exercises are the checker's, each with a -check chunk", {
  expect_true(nzchar(tutorial))
  rmd <- readLines(tutorial)
  labels <- sub("^```\\{r ([A-Za-z_]+),.*exercise = TRUE.*$", "\\1",
                grep("exercise = TRUE", rmd, value = TRUE))
  expect_setequal(labels, names(ns$tutorial_exercises))
  expect_gte(length(labels), 5)
  for (l in labels) expect_true(any(grepl(sprintf("^```\\{r %s-check\\}", l), rmd)), label = l)
  expect_true(any(grepl("exercise.checker = initvar:::tutorial_checker", rmd, fixed = TRUE)))
  # each exercise's right answer passes its own checker
  for (l in labels) {
    set.seed(2)
    expect_true(check(l, ns$tutorial_exercises[[l]]$answer())$correct, label = l)
  }
})

test_that("the tutorial renders (learnr)", {
  skip_if_not_installed("learnr")
  skip_if_not(rmarkdown::pandoc_available(), "no pandoc")
  dir <- tempfile("tutorial")
  dir.create(dir)
  file.copy(tutorial, dir)
  out <- rmarkdown::render(file.path(dir, basename(tutorial)), quiet = TRUE,
                           envir = new.env())
  expect_true(file.exists(out))
  html <- paste(readLines(out, warn = FALSE), collapse = "\n")
  for (l in names(ns$tutorial_exercises)) {
    expect_match(html, sprintf("data-label=\"%s\"", l), fixed = TRUE, label = l)
  }
})
