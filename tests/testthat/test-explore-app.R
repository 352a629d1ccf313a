# The explorer (explore(), R/explore-app.R): its server logic as plain
# functions, checked against the package's functions called directly, and
# the app's server through shiny::testServer() (no browser; the browser
# check is tools/browser-gate.sh).

ns <- asNamespace("initvar")
defaults <- ns$explorer_defaults

test_that("explore() checks its arguments and names a missing shiny", {
  expect_error(explore(run = "yes"), "`run` must be TRUE or FALSE")
  expect_error(explore(run = FALSE, port = -1), "`port` must be a whole number between 0")
  expect_error(explore(run = FALSE, port = 70000), "`port`")
  # the suggest helper's message (shiny itself may be installed here)
  expect_error(ns$check_suggested("initvarNoSuchPackage", "explore()"),
               "explore\\(\\) needs the initvarNoSuchPackage package, which is not installed")
  expect_true(ns$check_suggested("stats", "explore()"))
})

test_that("explore(run = FALSE) is a shiny app, and the app ships in the package", {
  skip_if_not_installed("shiny")
  app <- explore(run = FALSE)
  expect_s3_class(app, "shiny.appobj")
  expect_true(file.exists(system.file("explorer", "app.R", package = "initvar")))
  expect_true(file.exists(system.file("explorer", "phase-cache.rds", package = "initvar")))
})

test_that("settings take their defaults until the page sends them", {
  s <- ns$explorer_settings(list(width = 32, arch = NULL))
  expect_identical(s$width, 32)
  expect_identical(s$arch, "mlp")
  expect_identical(ns$explorer_settings(list())[names(defaults)], defaults)
})

test_that("the default view's numbers are the package's functions' numbers", {
  s <- defaults
  res <- ns$explorer_compute(s)
  expect_null(res$error)
  net <- mlp(rep(64, 11), "tanh", init_glorot(), bias = init_constant(0))
  expect_equal(res$net, net)
  set.seed(1)
  sim <- simulate_network(net, networks = 24, inputs = 64, progress = FALSE)
  tab <- ns$explorer_table(res)
  expect_identical(nrow(tab), 20L)
  df <- as.data.frame(sim)
  z <- df[df$quantity == "z", ]
  # the simulation is the one of a direct call with the same seed, bit for bit
  expect_identical(tab$estimate[tab$quantity == "z"], z$estimate)
  expect_identical(tab$upper[tab$quantity == "z"], z$upper)
  for (reg in c("linear", "mean_field", "finite_width")) {
    p <- predict_variance(net, regime = reg)
    expect_identical(tab[[reg]][tab$quantity == "z"], p$var_z, label = reg)
    expect_identical(tab[[reg]][tab$quantity == "grad_s"], p$var_grad_s, label = reg)
  }
  # Glorot's linear regime: Var(z) = Var(x) prod n Var(W) = 1 on square layers
  expect_equal(tab$linear[tab$quantity == "z"], rep(1, 10))
  set.seed(1)
  js <- jacobian_spectrum(net, networks = 10)
  expect_identical(res$jacobian$sv, js$sv)
  # shown to 4 significant digits
  txt <- ns$explorer_table_text(tab)
  expect_identical(txt$estimate[1], trimws(formatC(z$estimate[1], digits = 4, format = "g")))
})

test_that("a part whose settings did not change is reused, and equals a fresh one", {
  s <- utils::modifyList(defaults, list(width = 16, depth = 3, networks = 8, inputs = 8))
  first <- ns$explorer_compute(s)
  expect_identical(first$reused, character(0))
  s2 <- utils::modifyList(s, list(seed = 5))
  again <- ns$explorer_compute(s2, previous = first)
  expect_identical(again$reused, "prediction")
  fresh <- ns$explorer_compute(s2)
  for (p in c("net", "prediction", "sim", "jacobian")) {
    expect_identical(again[[p]]$acc, fresh[[p]]$acc, label = p)
  }
  expect_identical(ns$explorer_table(again), ns$explorer_table(fresh))
  expect_identical(again$jacobian$sv, fresh$jacobian$sv)
  # another input variance: nothing reused; another depth: nothing either
  expect_identical(ns$explorer_compute(utils::modifyList(s2, list(var_x = 2)),
                                       previous = again)$reused, character(0))
  expect_identical(ns$explorer_compute(utils::modifyList(s2, list(depth = 4)),
                                       previous = again)$reused, character(0))
  # a transformer's note survives the reuse of its prediction
  st <- utils::modifyList(defaults, c(list(arch = "transformer", networks = 4),
                                      ns$explorer_presets$transformer))
  a <- ns$explorer_compute(st)
  b <- ns$explorer_compute(utils::modifyList(st, list(seed = 9)), previous = a)
  expect_identical(b$reused, "prediction")
  expect_identical(b$warnings, a$warnings)
})

test_that("every architecture builds with the package's constructors and runs", {
  for (a in c("resmlp", "transformer", "cnn")) {
    s <- utils::modifyList(defaults, c(list(arch = a), ns$explorer_presets[[a]],
                                       list(networks = 8)))
    res <- ns$explorer_compute(s)
    expect_null(res$error, label = a)
    expect_s3_class(res$sim, "initvar_simulation")
    # the Jacobian panel covers dense and conv networks: the others show
    # jacobian_spectrum()'s message
    if (a == "cnn") {
      expect_s3_class(res$jacobian, "initvar_jacobian")
    } else {
      expect_match(ns$explorer_problem(res$jacobian),
                   "networks[[:space:]]+of[[:space:]]+dense[[:space:]]+and[[:space:]]+conv[[:space:]]+layers",
                   label = a)
    }
  }
  s <- utils::modifyList(defaults, list(arch = "cnn", width = 4, depth = 2, networks = 8,
                                        inputs = 4))
  net <- ns$explorer_network(s)
  expect_equal(net, cnn(4, 3, depth = 2, spatial = 16, activation = "tanh",
                        init = init_glorot(), bias = init_constant(0)))
})

test_that("bad inputs give the package's message, never an error from the app", {
  cases <- list(
    list(list(width = -3), "`widths\\[1\\]` must be a positive whole number, not -3"),
    list(list(width = NA), "`widths` must be"),
    list(list(depth = 0), "`widths` must be a vector of at least 2"),
    list(list(sigma_b2 = -1), "`sigma_b2` must be a finite number >= 0, not -1"),
    list(list(scheme = "sigma_w2", sigma_w2 = 0), "`sigma_w2` must be a finite number > 0"),
    list(list(var_x = -1), "`var_x` must be a finite number >= 0, not -1"),
    list(list(networks = 1), "`networks` must be a whole number between 2"),
    list(list(activation = "tahn"), "Did you mean \"tanh\"\\?"),
    list(list(arch = "transformer", width = 30, depth = 1, inputs = 2), "`heads` must divide"),
    list(list(arch = "nope"), "`arch` must be one of"),
    list(list(seed = -1), "`seed` must be"))
  for (k in seq_along(cases)) {
    s <- utils::modifyList(defaults, cases[[k]][[1]])
    res <- expect_no_error(ns$explorer_compute(s))
    expect_match(res$error, cases[[k]][[2]], label = deparse(cases[[k]][[1]]))
    expect_null(ns$explorer_table(res))
  }
  # a warning (a transformer outside its documented regime) is a note
  s <- utils::modifyList(defaults, c(list(arch = "transformer", networks = 4),
                                     utils::modifyList(ns$explorer_presets$transformer,
                                                       list(depth = 12))))
  expect_no_message(res <- expect_no_warning(ns$explorer_compute(s)))
  expect_match(res$warnings, "outside[[:space:]]+the[[:space:]]+regime", all = FALSE)
})

test_that("the scheme and bias are the ones the settings name", {
  s <- utils::modifyList(defaults, list(scheme = "sigma_w2", sigma_w2 = 1.7, sigma_b2 = 0.05,
                                        width = 50))
  net <- ns$explorer_network(s)
  expect_equal(weight_variance(net$layers[[1]]$init, 50, 50), 1.7 / 50)
  expect_equal(weight_variance(net$layers[[1]]$bias, 50, 50), 0.05)
  expect_equal(ns$explorer_sigma_w2(s), 1.7)
  expect_equal(ns$explorer_sigma_w2(utils::modifyList(s, list(scheme = "he"))), 2)
  expect_equal(ns$explorer_sigma_w2(utils::modifyList(s, list(scheme = "glorot"))), 1)
  # a click on the phase diagram: the clicked point, b^2 kept >= 0
  u <- ns$explorer_click(list(x = 2.345678, y = -0.01))
  expect_identical(u, list(scheme = "sigma_w2", sigma_w2 = 2.35, sigma_b2 = 0))
  expect_null(ns$explorer_click(NULL))
  # the phase line is fixed_point()'s row
  fp <- fixed_point("tanh", 1.7, 0.05)
  expect_match(ns$explorer_phase_text(utils::modifyList(s, list(activation = "tanh"))),
               sprintf("chi_1 = %s, %s phase", ns$explorer_fmt(fp$chi_1), fp$phase), fixed = TRUE)
})

test_that("the shipped phase diagrams are phase_diagram()'s and critical_line()'s", {
  cache <- readRDS(system.file("explorer", "phase-cache.rds", package = "initvar"))
  expect_setequal(names(cache), ns$explorer_activations)
  # the cheap ones recomputed whole; tanh's critical line at one point
  for (a in c("relu", "linear")) {
    expect_equal(cache[[a]], ns$explorer_phase_compute(a), label = a)
  }
  cl <- cache$tanh$critical
  expect_equal(cl[cl$sigma_b2 == 0.1, ], critical_line("tanh", 0.1), ignore_attr = TRUE,
               tolerance = 1e-10)
  expect_identical(cache$tanh$diagram$sigma_w2, seq(0.25, 4, by = 0.25))
  ph <- ns$explorer_phase("tanh")
  expect_identical(ph, cache$tanh)
  expect_error(ns$explorer_phase("gelu"), "`activation` must be one of")
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  expect_no_error(ns$explorer_plot_phase(ph, defaults))
})

test_that("the app's server answers its inputs (shiny::testServer)", {
  skip_if_not_installed("shiny")
  shiny::testServer(ns$explorer_server, {
    session$setInputs(arch = "mlp", width = 32, depth = 4, activation = "tanh",
                      scheme = "he", sigma_w2 = 1, sigma_b2 = 0, var_x = 1, networks = 8,
                      inputs = 16, seed = 3)
    res <- computed()
    expect_null(res$error)
    expect_identical(output$status, "")
    set.seed(3)
    sim <- simulate_network(mlp(rep(32, 5), "tanh", init_he()), networks = 8, inputs = 16,
                            progress = FALSE)
    expect_identical(ns$explorer_table(res)$estimate[1:4],
                     as.data.frame(sim)$estimate[as.data.frame(sim)$quantity == "z"])
    # the table shows them
    html <- output$numbers
    expect_match(html, ns$explorer_fmt(ns$explorer_table(res)$estimate[1]), fixed = TRUE)
    # the plots draw
    for (o in c("forward", "backward", "histograms", "jacobian", "phase")) {
      expect_true(is.list(output[[o]]) && nzchar(output[[o]]$src), label = o)
    }
    expect_match(output$phase_info, "sigma_w^2 = 2, sigma_b^2 = 0", fixed = TRUE)
    expect_match(output$phase_info, "chaotic phase")
    # each control changes what is shown
    before <- output$numbers
    session$setInputs(var_x = 2)
    expect_false(identical(output$numbers, before))
    # He on relu is critical, tanh under He chaotic
    session$setInputs(activation = "relu")
    expect_match(output$phase_info, "chi_1 = 1, critical phase")
    # a bad input: the message in the app, the plot validated away
    session$setInputs(width = -3)
    expect_match(output$status, "`widths\\[1\\]` must be a positive whole number, not -3")
    expect_error(output$forward, "positive whole number")
    session$setInputs(width = 32)
    expect_identical(output$status, "")
  })
})
