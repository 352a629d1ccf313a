# The interactive explorer: a shiny app (inst/explorer/app.R) whose server
# logic is the plain functions below, so that the tests call them without a
# browser (tests/testthat/test-explore-app.R, with shiny::testServer()) and
# the figures are the package's own plot methods, as in the vignettes.

# what the app offers
explorer_activations <- c("tanh", "relu", "linear", "softsign", "selu")
explorer_architectures <- c("MLP" = "mlp", "residual MLP" = "resmlp",
                            "transformer" = "transformer", "CNN" = "cnn")
explorer_schemes <- c("Glorot (normalized)" = "glorot", "Glorot standard" = "glorot_standard",
                      "He" = "he", "LeCun" = "lecun", "orthogonal" = "orthogonal",
                      "sigma_w^2 / fan_in (normal)" = "sigma_w2")
# the default view, and the sizes each architecture starts from (a
# transformer's inputs are sequences of `seq_len` tokens, a CNN's channels
# are its width: both cost more per input than a dense layer)
explorer_defaults <- list(arch = "mlp", width = 64, depth = 10, activation = "tanh",
                          scheme = "glorot", sigma_w2 = 1, sigma_b2 = 0, var_x = 1,
                          networks = 24, inputs = 64, seed = 1)
explorer_presets <- list(
  mlp = list(width = 64, depth = 10, inputs = 64),
  resmlp = list(width = 64, depth = 10, inputs = 64),
  transformer = list(width = 32, depth = 2, inputs = 8),
  cnn = list(width = 16, depth = 4, inputs = 16))
explorer_transformer <- list(heads = 4, seq_len = 8)
explorer_cnn <- list(kernel = 3, spatial = 16)
# the phase diagram's grid (phase_diagram()'s default) and the critical
# line's finer sigma_b2 grid
explorer_critical_b2 <- seq(0, 0.3, by = 0.025)

# The settings from shiny's `input` (or any list): what is not set (NULL,
# before the page has sent it) takes its default. Values are kept as given,
# so that a bad one reaches the package's own checks.
explorer_settings <- function(input) {
  s <- explorer_defaults
  for (nm in names(s)) {
    v <- input[[nm]]
    if (!is.null(v)) s[[nm]] <- v
  }
  s
}

# The weight scheme of the settings.
explorer_init <- function(s) {
  switch(check_choice(s$scheme, unname(explorer_schemes), "scheme"),
         glorot = init_glorot(), glorot_standard = init_glorot_standard(), he = init_he(),
         lecun = init_lecun(), orthogonal = init_orthogonal(),
         sigma_w2 = init_variance_scaling(check_number(s$sigma_w2, "sigma_w2", min = 0,
                                                       min_open = TRUE),
                                          "fan_in", "normal"))
}

# The bias scheme: N(0, sigma_b^2), the constant 0 when sigma_b^2 = 0.
explorer_bias <- function(s) {
  sb <- check_number(s$sigma_b2, "sigma_b2", min = 0)
  if (sb == 0) init_constant(0) else init_normal(0, sqrt(sb))
}

# The network of the settings, built by the package's constructors (their
# errors are the app's messages).
explorer_network <- function(s) {
  arch <- check_choice(s$arch, unname(explorer_architectures), "arch")
  init <- explorer_init(s)
  bias <- explorer_bias(s)
  switch(arch,
    mlp = mlp(rep(s$width, s$depth + 1), s$activation, init, bias = bias),
    resmlp = resmlp(s$width, s$depth, s$activation, init, bias = bias),
    transformer = transformer(d_model = s$width, heads = explorer_transformer$heads,
                              depth = s$depth, seq_len = explorer_transformer$seq_len,
                              activation = s$activation, init = init, bias = bias),
    cnn = cnn(s$width, explorer_cnn$kernel, depth = s$depth, spatial = explorer_cnn$spatial,
              activation = s$activation, init = init, bias = bias))
}

# The effective sigma_w^2 = fan_in Var(W) of the settings' scheme on a
# square layer of the chosen width (what the phase diagram's x axis reads).
explorer_sigma_w2 <- function(s) {
  if (identical(s$scheme, "sigma_w2")) return(s$sigma_w2)
  w <- s$width
  w * weight_variance(explorer_init(s), w, w)
}

# The settings each part depends on: a part of a previous result computed
# from the same ones is reused (a new seed redraws the simulation and the
# Jacobians, not the predictions).
explorer_part_keys <- list(
  net = c("arch", "width", "depth", "activation", "scheme", "sigma_w2", "sigma_b2"),
  prediction = c("var_x"),
  sim = c("var_x", "networks", "inputs", "seed"),
  jacobian = c("var_x", "networks", "seed"))

# Everything the live panels show, each part computed on its own so that
# one part's error (a transformer has no Jacobian panel) leaves the others:
# a list with `settings`, `error` (the first message, or NULL), `warnings`
# (the warnings' and messages' texts), `net`, `prediction` (linear,
# mean_field, finite_width: each a prediction or an error), `sim` and
# `jacobian` (a result or an error), `reused` (the parts taken from
# `previous`, a result of an earlier call), `seconds`.
explorer_compute <- function(s, progress = NULL, previous = NULL) {
  t0 <- proc.time()[["elapsed"]]
  tick <- function(value, what) if (is.function(progress)) progress(value, what)
  out <- list(settings = s, error = NULL, warnings = character(0), reused = character(0),
              part_warnings = list())
  # errors kept as the part's value, warnings and messages collected to
  # show as notes (a transformer outside its documented regime says so)
  caught <- function(expr) {
    note <- function(w) out$warnings <<- union(out$warnings, trimws(conditionMessage(w)))
    withCallingHandlers(tryCatch(expr, error = function(e) e),
                        warning = function(w) {
                          note(w)
                          invokeRestart("muffleWarning")
                        },
                        message = function(m) {
                          note(m)
                          invokeRestart("muffleMessage")
                        })
  }
  same <- function(part) {
    keys <- c(explorer_part_keys$net, explorer_part_keys[[part]])
    !is.null(previous) && !is.null(previous[[part]]) &&
      identical(previous$settings[keys], s[keys]) &&
      is.null(explorer_problem(previous$net))
  }
  part <- function(name, expr) {
    if (same(name)) {
      out$reused <<- c(out$reused, name)
      out$warnings <<- union(out$warnings, previous$part_warnings[[name]])
      return(previous[[name]])
    }
    before <- out$warnings
    v <- caught(expr)
    out$part_warnings[[name]] <<- setdiff(out$warnings, before)
    v
  }
  out$net <- if (same("net")) previous$net else caught(explorer_network(s))
  if (inherits(out$net, "error")) {
    out$error <- conditionMessage(out$net)
    out$seconds <- proc.time()[["elapsed"]] - t0
    return(out)
  }
  tick(0.1, "predicting")
  out$prediction <- part("prediction", lapply(
    c(linear = "linear", mean_field = "mean_field", finite_width = "finite_width"),
    function(r) caught(predict_variance(out$net, var_x = s$var_x, regime = r))))
  tick(0.3, "simulating")
  out$sim <- part("sim", {
    check_whole(s$seed, "seed", min = 0)
    set.seed(s$seed)
    simulate_network(out$net, networks = s$networks, inputs = s$inputs, var_x = s$var_x,
                     progress = FALSE)
  })
  tick(0.8, "Jacobian")
  out$jacobian <- part("jacobian", {
    check_whole(s$seed, "seed", min = 0)
    set.seed(s$seed)
    if (inherits(out$net, "initvar_cnn")) {
      # the panel draws the deepest product: a CNN's Jacobians are channels
      # x positions wide, so only that one, from 4 networks
      jacobian_spectrum(out$net, networks = min(s$networks, 4), var_x = s$var_x,
                        depths = length(out$net$widths) - 1, layers = FALSE)
    } else {
      jacobian_spectrum(out$net, networks = min(s$networks, 10), var_x = s$var_x)
    }
  })
  errs <- c(if (inherits(out$sim, "error")) conditionMessage(out$sim),
            if (inherits(out$prediction$mean_field, "error"))
              conditionMessage(out$prediction$mean_field))
  if (length(errs)) out$error <- errs[1]
  out$seconds <- proc.time()[["elapsed"]] - t0
  out
}

# The message of a part that failed, or NULL.
explorer_problem <- function(x) if (inherits(x, "error")) conditionMessage(x) else NULL

# The numbers behind the variance panels, one row per layer and quantity
# (z forward, grad_s backward): the three predictions and the simulation's
# estimate with its interval. The browser check reads this table.
explorer_table <- function(res) {
  if (is.null(res$sim) || inherits(res$sim, "error")) return(NULL)
  df <- as.data.frame(res$sim)
  cols <- c(z = "var_z", grad_s = "var_grad_s")
  rows <- lapply(names(cols), function(q) {
    r <- df[df$quantity == q, c("layer", "quantity", "estimate", "lower", "upper")]
    for (reg in c("linear", "mean_field", "finite_width")) {
      p <- res$prediction[[reg]]
      r[[reg]] <- if (inherits(p, "error") || !cols[[q]] %in% names(p)) NA_real_ else
        p[[cols[[q]]]][match(r$layer, p$layer)]
    }
    r
  })
  out <- do.call(rbind, rows)
  out <- out[, c("layer", "quantity", "linear", "mean_field", "finite_width",
                 "estimate", "lower", "upper")]
  rownames(out) <- NULL
  out
}

# A number as the page shows it: 4 significant digits.
explorer_fmt <- function(x) trimws(formatC(x, digits = 4, format = "g"))

# The table as the page shows it.
explorer_table_text <- function(tab) {
  if (is.null(tab)) return(NULL)
  for (nm in c("linear", "mean_field", "finite_width", "estimate", "lower", "upper")) {
    tab[[nm]] <- explorer_fmt(tab[[nm]])
  }
  tab$layer <- as.integer(tab$layer)
  tab
}

# Per-layer variance panels: the simulation's plot() with the finite-width
# prediction drawn over it (dotted).
explorer_plot_variance <- function(res, quantity) {
  sim <- res$sim
  df <- graphics::plot(sim, type = "variance", quantity = quantity)
  fw <- res$prediction$finite_width
  col <- c("#1b6ca8", "#c0392b", "#2e8b57", "#8e44ad")
  if (!inherits(fw, "error")) {
    for (k in seq_along(quantity)) {
      v <- fw[[quantity_prediction[[quantity[k]]]]]
      if (!is.null(v)) graphics::lines(fw$layer, v, col = col[k], lty = 3, lwd = 2)
    }
    graphics::legend("topright", bty = "n", cex = 0.85, lty = 3, lwd = 2,
                     legend = "finite width (1/n)")
  }
  invisible(df)
}

# The phase diagram with its critical line and this network's point.
explorer_plot_phase <- function(ph, s) {
  graphics::plot(ph$diagram, critical = ph$critical)
  sw <- tryCatch(explorer_sigma_w2(s), error = function(e) NA)
  sb <- suppressWarnings(as.numeric(s$sigma_b2))
  if (length(sw) == 1 && length(sb) == 1 && is.finite(sw) && is.finite(sb)) {
    graphics::points(sw, sb, pch = 4, cex = 2.5, lwd = 3)
  }
  invisible(NULL)
}

# Where the critical point and the phase of this (sigma_w^2, sigma_b^2) are:
# fixed_point()'s row, as a sentence.
explorer_phase_text <- function(s) {
  fp <- tryCatch(fixed_point(s$activation, explorer_sigma_w2(s), s$sigma_b2),
                 error = function(e) e)
  if (inherits(fp, "error")) return(conditionMessage(fp))
  sprintf("sigma_w^2 = %s, sigma_b^2 = %s: chi_1 = %s, %s phase, depth scale xi_c = %s",
          explorer_fmt(fp$sigma_w2), explorer_fmt(fp$sigma_b2), explorer_fmt(fp$chi_1),
          fp$phase, explorer_fmt(fp$xi_c))
}

# A click on the phase diagram sets the scheme: N(0, sigma_w^2 / fan_in)
# weights and N(0, sigma_b^2) biases at the clicked point (sigma_b^2 kept
# at 0 or more, 3 significant digits).
explorer_click <- function(click) {
  if (is.null(click) || !is.numeric(click$x) || !is.numeric(click$y)) return(NULL)
  list(scheme = "sigma_w2", sigma_w2 = signif(max(click$x, 0.01), 3),
       sigma_b2 = signif(max(click$y, 0), 3))
}

# ---- the phase diagrams: precomputed, cached ----------------------------------

explorer_cache <- new.env(parent = emptyenv())

# One activation's diagram on phase_diagram()'s default grid, and its
# critical line (at sigma_b^2 = 0 only where a bias variance has no edge of
# chaos, as for relu and linear).
explorer_phase_compute <- function(activation, progress = FALSE) {
  pd <- phase_diagram(activation, progress = progress)
  cl <- tryCatch(critical_line(activation, explorer_critical_b2),
                 error = function(e) critical_line(activation, 0))
  list(diagram = pd, critical = cl)
}

# The diagram of an activation: from memory, else from the file shipped
# with the package (tools/explorer-phase.R made it), else computed now.
explorer_phase <- function(activation, progress = FALSE) {
  activation <- check_choice(activation, explorer_activations, "activation")
  if (!is.null(explorer_cache[[activation]])) return(explorer_cache[[activation]])
  f <- system.file("explorer", "phase-cache.rds", package = "initvar")
  if (nzchar(f) && is.null(explorer_cache$.shipped)) {
    explorer_cache$.shipped <- tryCatch(readRDS(f), error = function(e) list())
  }
  ph <- explorer_cache$.shipped[[activation]]
  if (is.null(ph)) ph <- explorer_phase_compute(activation, progress)
  assign(activation, ph, envir = explorer_cache)
  ph
}

# ---- the app -----------------------------------------------------------------

explorer_ui <- function() {
  d <- explorer_defaults
  num <- function(id, label, value, ...) shiny::numericInput(id, label, value, ...)
  plot_box <- function(id, ...) shiny::column(6, shiny::plotOutput(id, height = "380px", ...))
  shiny::fluidPage(
    title = "initvar explorer",
    # no favicon request (the app serves none): nothing but the app's own files
    shiny::tags$head(shiny::tags$link(rel = "icon", href = "data:,")),
    shiny::h3("initvar: initialization, live"),
    shiny::sidebarLayout(
      shiny::sidebarPanel(
        width = 3,
        shiny::selectInput("arch", "architecture", explorer_architectures, d$arch),
        num("width", "width (d_model, channels)", d$width, min = 1, step = 1),
        num("depth", "depth (layers, blocks)", d$depth, min = 1, step = 1),
        shiny::selectInput("activation", "activation", explorer_activations, d$activation),
        shiny::selectInput("scheme", "weight scheme", explorer_schemes, d$scheme),
        num("sigma_w2", "sigma_w^2 (for sigma_w^2 / fan_in)", d$sigma_w2, step = 0.05),
        num("sigma_b2", "bias variance sigma_b^2", d$sigma_b2, min = 0, step = 0.01),
        num("var_x", "input variance Var(x)", d$var_x, min = 0, step = 0.1),
        num("networks", "networks simulated", d$networks, min = 2, step = 1),
        num("inputs", "inputs per network", d$inputs, min = 1, step = 1),
        num("seed", "seed", d$seed, min = 0, step = 1),
        shiny::helpText("Click the phase diagram to set sigma_w^2 and sigma_b^2.")
      ),
      shiny::mainPanel(
        width = 9,
        shiny::div(id = "status_box", style = "color: #b03a2e; font-weight: bold;",
                   shiny::textOutput("status")),
        shiny::div(id = "notes_box", style = "color: #7d6608; white-space: pre-wrap;",
                   shiny::textOutput("notes")),
        shiny::textOutput("timing"),
        shiny::fluidRow(plot_box("forward"), plot_box("backward")),
        shiny::fluidRow(plot_box("phase", click = "phase_click"), plot_box("jacobian")),
        shiny::div(id = "phase_info_box", shiny::textOutput("phase_info")),
        shiny::fluidRow(shiny::column(12, shiny::plotOutput("histograms", height = "320px"))),
        shiny::h4("Per-layer variance: predictions and simulation"),
        shiny::tableOutput("numbers")
      )
    )
  )
}

explorer_server <- function(input, output, session) {
  settings <- shiny::reactive(explorer_settings(input))
  # an architecture's preset sizes when it is chosen
  shiny::observeEvent(input$arch, {
    p <- explorer_presets[[input$arch]]
    if (is.null(p)) return()
    for (nm in names(p)) shiny::updateNumericInput(session, nm, value = p[[nm]])
  }, ignoreInit = TRUE)
  shiny::observeEvent(input$phase_click, {
    u <- explorer_click(input$phase_click)
    if (is.null(u)) return()
    shiny::updateSelectInput(session, "scheme", selected = u$scheme)
    shiny::updateNumericInput(session, "sigma_w2", value = u$sigma_w2)
    shiny::updateNumericInput(session, "sigma_b2", value = u$sigma_b2)
  })
  # the previous result: its parts whose settings did not change are reused
  last <- NULL
  computed <- shiny::reactive({
    s <- settings()
    res <- shiny::withProgress(message = "initvar", value = 0, {
      explorer_compute(s, progress = function(v, what) shiny::setProgress(v, detail = what),
                       previous = last)
    })
    last <<- res
    res
  })
  # what the phase diagram and its line depend on, and nothing else (not
  # redrawn for a new depth or seed)
  phase_settings <- shiny::reactive(explorer_settings(list(
    activation = input$activation, scheme = input$scheme, sigma_w2 = input$sigma_w2,
    sigma_b2 = input$sigma_b2, width = input$width)))
  phase <- shiny::reactive({
    a <- phase_settings()$activation
    tryCatch(shiny::withProgress(message = "phase diagram", value = 0.5, explorer_phase(a)),
             error = function(e) e)
  })
  need_ok <- function(x) {
    msg <- explorer_problem(x)
    shiny::validate(shiny::need(is.null(msg), msg))
  }
  output$status <- shiny::renderText({
    res <- computed()
    if (is.null(res$error)) "" else res$error
  })
  output$notes <- shiny::renderText({
    res <- computed()
    paste(res$warnings, collapse = "\n")
  })
  output$timing <- shiny::renderText({
    res <- computed()
    sprintf("computed in %.2f s", res$seconds)
  })
  output$forward <- shiny::renderPlot({
    res <- computed()
    need_ok(res$net)
    need_ok(res$sim)
    explorer_plot_variance(res, c("s", "z"))
  }, res = 80)
  output$backward <- shiny::renderPlot({
    res <- computed()
    need_ok(res$net)
    need_ok(res$sim)
    explorer_plot_variance(res, c("grad_s", "grad_w"))
  }, res = 80)
  output$histograms <- shiny::renderPlot({
    res <- computed()
    need_ok(res$net)
    need_ok(res$sim)
    graphics::plot(res$sim, type = "histogram")
  }, res = 80)
  output$jacobian <- shiny::renderPlot({
    res <- computed()
    need_ok(res$net)
    need_ok(res$jacobian)
    graphics::plot(res$jacobian)
  }, res = 80)
  output$phase <- shiny::renderPlot({
    ph <- phase()
    need_ok(ph)
    explorer_plot_phase(ph, phase_settings())
  }, res = 80)
  output$phase_info <- shiny::renderText(explorer_phase_text(phase_settings()))
  output$numbers <- shiny::renderTable(explorer_table_text(explorer_table(computed())),
                                       digits = 4)
  invisible(NULL)
}

# The app object (shiny::shinyApp()).
explorer_app <- function() {
  shiny::shinyApp(explorer_ui(), explorer_server)
}

#' Explore initialization live in the browser
#'
#' Opens an interactive explorer (a shiny app): choose the architecture (an
#' [mlp()], a residual MLP from [resmlp()], a [transformer()] or a [cnn()]),
#' its width and depth, the activation, the weight scheme, the bias and
#' input variances, and see per layer the predicted variance (linear
#' regime, mean field, finite width, from [predict_variance()]) against the
#' simulated one with its interval (from [simulate_network()]), forward and
#' backward; Glorot and Bengio's per-layer histograms; the
#' \eqn{(\sigma_w^2, \sigma_b^2)} phase diagram with its critical line
#' ([phase_diagram()], [critical_line()]; a click on it sets the scheme to
#' \eqn{N(0, \sigma_w^2 / n)} weights and \eqn{N(0, \sigma_b^2)} biases); and
#' the singular values of the input-output Jacobian ([jacobian_spectrum()]).
#' The figures are the package's own plot methods. An input a function
#' refuses shows that function's error message in the app.
#'
#' The app is shipped in the package's `explorer` folder
#' (`system.file("explorer", package = "initvar")`). It needs the shiny
#' package. The phase diagrams are precomputed; the other panels are
#' computed live (about half a second for the default 10-layer MLP).
#'
#' @param run `TRUE` to run the app (until it is stopped); `FALSE` to
#'   return the app object (`shiny::shinyApp()`) without running it.
#' @param port The port to listen on, a whole number between 0 and 65535; 0
#'   lets shiny choose.
#' @return With `run = FALSE`, a `shiny.appobj`; otherwise what
#'   `shiny::runApp()` returns, when the app is stopped.
#' @examples
#' if (requireNamespace("shiny", quietly = TRUE)) {
#'   app <- explore(run = FALSE)
#'   class(app)
#' }
#' \dontrun{
#' explore()
#' }
#' @export
explore <- function(run = TRUE, port = 0) {
  check_flag(run, "run")
  check_whole(port, "port", min = 0, max = 65535)
  check_suggested("shiny", "explore()")
  if (!run) return(explorer_app())
  dir <- system.file("explorer", package = "initvar")
  if (!nzchar(dir)) abort("explore() cannot find the app: the package's `explorer` folder is missing.")
  shiny::runApp(dir, port = if (port == 0) NULL else as.integer(port),
                launch.browser = interactive())
}
