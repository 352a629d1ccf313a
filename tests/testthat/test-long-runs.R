# Long runs interrupted (Ctrl-C) keep what they finished, or say that
# nothing finished; and what their partial results give is sound.

# Send SIGINT just before the `at`-th call of the internal function `name`
# (a block of networks, one network of first_step()): the interrupt lands in
# that call, as a Ctrl-C would.
with_interrupt_at <- function(name, at, expr) {
  ns <- asNamespace("initvar")
  orig <- get(name, ns)
  count <- 0
  fake <- function(...) {
    count <<- count + 1
    if (count == at) tools::pskill(Sys.getpid(), tools::SIGINT)
    orig(...)
  }
  unlockBinding(name, ns)
  assign(name, fake, ns)
  on.exit({
    assign(name, orig, ns)
    lockBinding(name, ns)
  })
  force(expr)
}

catch_interrupt <- function(expr) tryCatch(expr, interrupt = function(e) e)

test_that("first_step() interrupted keeps the networks done", {
  skip_on_os("windows")
  net <- mlp(c(6, 8, 8, 3), c("tanh", "tanh", "linear"), init_glorot())
  set.seed(2)
  full <- first_step(net, lr = 0.1, networks = 12, batch = 4)
  set.seed(2)
  e <- with_interrupt_at("first_step_one", 6, catch_interrupt(
    first_step(net, lr = 0.1, networks = 12, batch = 4)))
  expect_s3_class(e, "initvar_interrupt")
  expect_false(inherits(e, "initvar_nothing_finished"))
  p <- e$partial
  expect_s3_class(p, "initvar_first_step")
  expect_equal(p$networks, 5)
  expect_equal(p$networks_requested, 12)
  expect_identical(last_partial(), p)
  # the networks done are the first networks of the uninterrupted run
  expect_identical(p$per_network, full$per_network[1:5, , , drop = FALSE])
  expect_true(all(is.finite(as.data.frame(p)$rms_dz)))
  expect_output(print(p), "interrupted after 5 of 12 networks")

  # nothing finished: said, and no result
  e <- with_interrupt_at("first_step_one", 2, catch_interrupt(
    first_step(net, lr = 0.1, networks = 12, batch = 4)))
  expect_s3_class(e, "initvar_nothing_finished")
  expect_s3_class(e, "interrupt")
  expect_null(e$partial)
  expect_null(last_partial())
  expect_match(conditionMessage(e), "nothing finished yet")
})

test_that("coordinate_check() interrupted keeps the widths done and the one in progress", {
  skip_on_os("windows")
  he <- function(n) mlp(c(4, n, n, 2), c("relu", "relu", "linear"), init_he())
  # 20 networks per width: widths 8 and 16 finish, 9 networks of width 32
  set.seed(5)
  e <- with_interrupt_at("first_step_one", 50, catch_interrupt(
    coordinate_check(he, widths = c(8, 16, 32, 64), layer = 2, networks = 20, batch = 2)))
  expect_s3_class(e, "initvar_interrupt")
  p <- e$partial
  expect_s3_class(p, "initvar_coordinate_check")
  expect_equal(p$width, c(8, 16))
  expect_true(all(is.finite(p$rms)))
  expect_true(is.finite(attr(p, "slope")$estimate))   # two widths: a slope
  expect_equal(attr(p, "widths_requested"), c(8, 16, 32, 64))
  ip <- attr(p, "in_progress")
  expect_s3_class(ip, "initvar_first_step")
  expect_equal(ip$networks, 9)
  expect_identical(last_partial(), p)
  expect_output(print(p), "interrupted after 2 of 4 widths")

  # one width done: no slope, said so
  e <- with_interrupt_at("first_step_one", 21, catch_interrupt(
    coordinate_check(he, widths = c(8, 16, 32), layer = 2, networks = 20, batch = 2)))
  expect_equal(e$partial$width, 8)
  expect_true(is.na(attr(e$partial, "slope")$estimate))
  expect_output(print(e$partial), "not enough widths")

  # nothing finished
  e <- with_interrupt_at("first_step_one", 1, catch_interrupt(
    coordinate_check(he, widths = c(8, 16, 32), layer = 2, networks = 20, batch = 2)))
  expect_s3_class(e, "initvar_nothing_finished")
  expect_null(e$partial)
  expect_null(last_partial())
})

test_that("simulate_correlation() interrupted keeps the blocks done", {
  skip_on_os("windows")
  net <- mlp(rep(16, 4), "tanh", init_normal(0, sqrt(1.5 / 16)))
  set.seed(9)
  e <- with_interrupt_at("correlation_block", 3, catch_interrupt(
    simulate_correlation(net, c0 = 0.5, networks = 64 * 4, pairs = 4, threads = 1)))
  expect_s3_class(e, "initvar_interrupt")
  p <- e$partial
  expect_s3_class(p, "data.frame")
  expect_equal(attr(p, "networks"), 128)
  expect_equal(attr(p, "networks_requested"), 256)
  expect_equal(nrow(p), 3)
  expect_true(all(is.finite(p$estimate)) && all(p$mcse > 0))
  expect_identical(last_partial(), p)
  # the same networks as an uninterrupted run of 128
  set.seed(9)
  full <- simulate_correlation(net, c0 = 0.5, networks = 128, pairs = 4, threads = 1)
  expect_equal(p$estimate, full$estimate)

  e <- with_interrupt_at("correlation_block", 1, catch_interrupt(
    simulate_correlation(net, c0 = 0.5, networks = 64 * 4, pairs = 4, threads = 1)))
  expect_s3_class(e, "initvar_nothing_finished")
  expect_null(e$partial)
  expect_match(conditionMessage(e), "nothing finished yet")
})

test_that("width_sweep() interrupted keeps every width done and the one in progress", {
  skip_on_os("windows")
  # 16 networks per width: two blocks of 8; block 6 is the second of width 12
  set.seed(4)
  e <- with_interrupt_at("sim_block_worker", 6, catch_interrupt(
    width_sweep(c(4, 8, 12, 16), depth = 2, networks = 16, inputs = 2, progress = FALSE)))
  expect_s3_class(e, "initvar_interrupt")
  p <- e$partial
  expect_s3_class(p, "initvar_width_sweep")
  expect_equal(p$width, c(4, 8, 12))
  expect_equal(p$networks, c(16, 16, 8))
  ip <- attr(p, "in_progress")
  expect_s3_class(ip, "initvar_simulation")
  expect_equal(ip$networks, 8)
  expect_equal(attr(p, "widths_requested"), c(4, 8, 12, 16))
  expect_true(all(is.finite(p$ensemble)))
  expect_identical(last_partial(), p)
  pdf(NULL)
  on.exit(grDevices::dev.off(), add = TRUE)
  expect_s3_class(plot(p), "initvar_width_sweep")
  # the width in progress can be continued
  res <- simulate_network(ip$net, networks = 16, resume = ip, progress = FALSE)
  expect_equal(res$networks, 16)

  e <- with_interrupt_at("sim_block_worker", 1, catch_interrupt(
    width_sweep(c(4, 8), depth = 2, networks = 16, inputs = 2, progress = FALSE)))
  expect_s3_class(e, "initvar_nothing_finished")
  expect_null(e$partial)
})

test_that("simulate_network() interrupted before its first block says nothing finished", {
  skip_on_os("windows")
  net <- mlp(c(10, 10, 10), "tanh", init_glorot())
  e <- with_interrupt_at("sim_block_worker", 1, catch_interrupt(
    simulate_network(net, networks = 32, inputs = 4, threads = 1, progress = FALSE)))
  expect_s3_class(e, "initvar_nothing_finished")
  expect_s3_class(e, "initvar_interrupt")
  expect_null(e$partial)        # no 0-network "simulation"
  expect_null(last_partial())
  expect_match(conditionMessage(e), "nothing finished yet")

  # one block done: every method works on the partial result
  e <- with_interrupt_at("sim_block_worker", 2, catch_interrupt(
    simulate_network(mlp(c(10, 10, 10), "relu", init_he()), networks = 32, inputs = 4,
                     threads = 1, progress = FALSE)))
  p <- e$partial
  expect_equal(p$networks, 8)
  expect_output(print(p), "8 networks")
  expect_true(all(is.finite(as.data.frame(p)$estimate)))
  nn <- network_norms(p)
  expect_true(all(nn$mean_M > 0))
  pdf(NULL)
  on.exit(grDevices::dev.off(), add = TRUE)
  for (type in c("histogram", "variance")) {
    expect_no_error(plot(p, type = type))
  }
})

# ---- silent accepts and unclear errors -------------------------------------

test_that("first_step() refuses an activation returning NA, Inf or the wrong length", {
  # mlp() tries the function on 5 values: these misbehave on longer inputs
  na_act <- function(x) if (length(x) > 10) ifelse(x > 1, NA, tanh(x)) else tanh(x)
  inf_act <- function(x) if (length(x) > 10) ifelse(x > 1, Inf, tanh(x)) else tanh(x)
  short_act <- function(x) if (length(x) > 10) tanh(x)[-1] else tanh(x)
  fail_act <- function(x) if (length(x) > 10) stop("planted failure") else tanh(x)
  net <- function(a) suppressWarnings(mlp(c(10, 10, 10), list(a, "linear"), init_glorot()))
  set.seed(1)
  e <- tryCatch(first_step(net(na_act), lr = 0.1, networks = 4, batch = 4), error = function(e) e)
  expect_s3_class(e, "initvar_error")
  expect_match(conditionMessage(e), "activation's (f|df) \\(layer 1\\) returned NA for the finite input")
  expect_match(deparse(conditionCall(e))[1], "^first_step\\(")
  e <- tryCatch(first_step(net(inf_act), lr = 0.1, networks = 4, batch = 4), error = function(e) e)
  expect_match(conditionMessage(e), "layer 1\\) returned (an infinite value|NaN)")
  e <- tryCatch(suppressWarnings(first_step(net(short_act), lr = 0.1, networks = 4, batch = 4)),
                error = function(e) e)
  expect_match(conditionMessage(e), "must return a numeric vector as long as its input \\(40 values\\)")
  expect_match(deparse(conditionCall(e))[1], "^first_step\\(")
  e <- tryCatch(first_step(net(fail_act), lr = 0.1, networks = 4, batch = 4), error = function(e) e)
  expect_match(conditionMessage(e), "activation's (f|df) \\(layer 1\\) failed: planted failure")
})

test_that("errors in the engine's callbacks name simulate_network(), not an internal", {
  fail_act <- function(x) if (length(x) > 10) stop("planted failure") else tanh(x)
  short_act <- function(x) if (length(x) > 10) tanh(x)[-1] else tanh(x)
  for (a in list(fail_act, short_act)) {
    net <- suppressWarnings(mlp(c(10, 10, 10), list(a, "linear"), init_glorot()))
    e <- tryCatch(suppressWarnings(simulate_network(net, networks = 8, inputs = 4, threads = 1)),
                  error = function(e) e)
    expect_s3_class(e, "initvar_error")
    expect_match(deparse(conditionCall(e))[1], "^simulate_network\\(")
    expect_match(conditionMessage(e), "`net`: the activation's f \\(layer 1\\)")
  }
  expect_match(conditionMessage(e), "as long as its input")
})

test_that("first_step() and coordinate_check() refuse a batch too large for memory, naming it", {
  big <- mlp(c(1000, 1000, 10), "relu", init_he())
  e <- tryCatch(first_step(big, lr = 0.1, networks = 4, batch = 1e6), error = function(e) e)
  expect_s3_class(e, "initvar_error")
  expect_match(conditionMessage(e), "^`batch` must be at most [0-9,]+ for this network .*GB")
  expect_match(deparse(conditionCall(e))[1], "^first_step\\(")
  # at the last width, before any width runs
  t0 <- proc.time()[["elapsed"]]
  e <- tryCatch(coordinate_check(function(n) mlp(c(10, n, 10), "relu", init_he()),
                                 c(8, 16, 1e5), layer = 1, batch = 1e5), error = function(e) e)
  expect_match(conditionMessage(e), "^`batch` must be at most")
  expect_match(deparse(conditionCall(e))[1], "^coordinate_check\\(")
  expect_lt(proc.time()[["elapsed"]] - t0, 5)
})

test_that("fixed_point() and critical_line() name an activation that returns NA", {
  fna <- function(x) ifelse(x > 1, NA, tanh(x))
  for (e in list(tryCatch(fixed_point(fna, 1.5), error = function(e) e),
                 tryCatch(critical_line(fna, 0.1), error = function(e) e))) {
    expect_s3_class(e, "initvar_error")
    expect_match(conditionMessage(e), "^`activation` must return finite values for finite inputs")
    expect_no_match(conditionMessage(e), "TRUE/FALSE")
  }
  expect_equal(fixed_point(function(x) tanh(x), 1.5)$q_star, fixed_point("tanh", 1.5)$q_star,
               tolerance = 1e-6)
})

test_that("predict_variance(regime = 'finite_width') names the layer that overflows", {
  e <- tryCatch(predict_variance(resmlp(2, 1000, "relu", branch_depth = 2), regime = "finite_width"),
                error = function(e) e)
  expect_s3_class(e, "initvar_error")
  expect_match(conditionMessage(e), "overflowed double precision at layer [0-9]+")
  expect_match(conditionMessage(e), "scale the weights down")
  expect_match(deparse(conditionCall(e))[1], "^predict_variance\\(")
})

test_that("residual_growth() refuses skip, alpha or gains given with a rule", {
  r <- scaling_rule("fixup", 10)
  expect_error(residual_growth(r, skip = 100), "^`skip` must not be given with `rule`")
  expect_error(residual_growth(r, alpha = 2), "^`alpha` must not be given with `rule`")
  expect_error(residual_growth(r, gains = 2), "^`gains` must not be given with `rule`")
  expect_equal(residual_growth(r), (r$skip^2 + r$alpha^2 * prod(r$gains^2))^10)
  expect_equal(residual_growth(depth = 3, skip = 2, alpha = 0), 64)
})

test_that("whole-number bounds print exactly", {
  e <- tryCatch(initvar:::check_whole(0, "x", max = 2^24), error = function(e) e)
  expect_match(conditionMessage(e), "between 1 and 16,777,216, not 0", fixed = TRUE)
  expect_error(simulate_network(mlp(c(3, 3)), networks = 1), "between 2 and 1,000,000,000",
               fixed = TRUE)
  e <- tryCatch(initvar:::check_number(3e9, "x", max = 2^31), error = function(e) e)
  expect_match(conditionMessage(e), "<= 2,147,483,648", fixed = TRUE)
})
