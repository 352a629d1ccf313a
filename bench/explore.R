# How fast the explorer (explore()) answers: the default view (a 10-layer
# tanh MLP of width 64, 24 networks x 64 inputs, Jacobians of 10 networks)
# recomputed and redrawn after a control changes, with the threads
# initvar_threads() gives (2 on CI's machine). Measured three ways:
#   compute  the server's numbers (explorer_compute(): predictions in the
#            three regimes, the simulation, the Jacobian spectrum)
#   redraw   compute plus the five figures drawn to PNG as shiny draws them
#            (the package's plot methods) and the table
#   server   the app's server under shiny::testServer(): a new seed set,
#            and every output read back (what a browser waits for, less the
#            network and the browser's own drawing)
#   width    the same for a new width: every part recomputed
# The phase diagram is precomputed (inst/explorer/phase-cache.rds) and only
# redrawn. The issue's bound: under 1 s for the default view.
#   R_LIBS=LIB Rscript bench/explore.R [REPS]
suppressPackageStartupMessages(library(initvar))
args <- commandArgs(trailingOnly = TRUE)
reps <- if (length(args)) as.integer(args[1]) else 10L
ns <- asNamespace("initvar")
s0 <- ns$explorer_defaults
cat("threads:", initvar_threads(), " cores:", parallel::detectCores(), "\n")
# elapsed time, and this process's CPU time (user + system): on a shared
# machine (other jobs on the 2 cores) the elapsed time is inflated by the
# load, the CPU time is not; the load average is printed with the results
timings <- new.env()
elapsed <- function(expr) {
  t <- system.time(expr)
  timings$cpu <- c(timings$cpu, t[["user.self"]] + t[["sys.self"]])
  t[["elapsed"]]
}
png_file <- tempfile(fileext = ".png")
draw <- function(res, s) {
  for (f in list(function() ns$explorer_plot_variance(res, c("s", "z")),
                 function() ns$explorer_plot_variance(res, c("grad_s", "grad_w")),
                 function() plot(res$sim, type = "histogram"),
                 function() plot(res$jacobian),
                 function() ns$explorer_plot_phase(ns$explorer_phase(s$activation), s))) {
    grDevices::png(png_file, width = 640, height = 380, res = 80)
    f()
    grDevices::dev.off()
  }
  ns$explorer_table_text(ns$explorer_table(res))
}
# a warm-up (loading, the phase cache read once)
invisible(draw(ns$explorer_compute(s0), s0))
seeds <- seq_len(reps)
t_compute <- vapply(seeds, function(k) elapsed(ns$explorer_compute(modifyList(s0, list(seed = k)))), 0)
t_redraw <- vapply(seeds, function(k) {
  s <- modifyList(s0, list(seed = k))
  elapsed(draw(ns$explorer_compute(s), s))
}, 0)
t_server <- t_width <- NULL
outs <- c("forward", "backward", "histograms", "jacobian", "phase", "phase_info", "numbers")
if (requireNamespace("shiny", quietly = TRUE)) {
  shiny::testServer(ns$explorer_server, {
    session$setInputs(seed = 0)
    for (o in outs) output[[o]]
    # a new seed: the simulation and the Jacobians are redrawn, the
    # predictions reused, the phase diagram not redrawn
    t_server <<- vapply(seeds, function(k) elapsed({
      session$setInputs(seed = k)
      for (o in outs) output[[o]]
    }), 0)
    # a new width (64 <-> 63): everything recomputed and redrawn
    t_width <<- vapply(seeds, function(k) elapsed({
      session$setInputs(width = if (k %% 2) 63 else 64)
      for (o in outs) output[[o]]
    }), 0)
  })
}
cpu <- split(timings$cpu, rep(c("compute", "redraw", "server", "width"),
                             each = reps)[seq_along(timings$cpu)])
row <- function(name, t) {
  if (is.null(t)) return(cat(sprintf("%-8s (shiny not installed)\n", name)))
  cat(sprintf("%-8s elapsed median %.3f s (max %.3f), CPU median %.3f s, over %d updates%s\n",
              name, stats::median(t), max(t), stats::median(cpu[[name]]), length(t),
              if (stats::median(t) < 1) "" else "  (elapsed over 1 s)"))
}
la <- tryCatch(scan("/proc/loadavg", n = 1, quiet = TRUE), error = function(e) NA)
cat(sprintf("load average (1 min) at the end: %s\n", format(la)))
row("compute", t_compute)
row("redraw", t_redraw)
row("server", t_server)
row("width", t_width)
