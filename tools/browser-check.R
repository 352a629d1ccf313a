# Drive initvar's explorer (explore()) in headless Chromium through chromote:
# start the app from the installed package, make at least 8 interactions,
# and after each one check that the numbers the page shows are those of the
# package's functions called here directly, that the figures changed, that
# no JavaScript error occurred, nothing was loaded from outside the app's
# own address, and the page never greyed out (shiny's disconnected overlay).
# A self-test first plants a JavaScript error and a request to the web in a
# page and checks that both are caught.
#   CHROMOTE_CHROME=/usr/bin/chromium R_LIBS=CHROMOTE_LIB:INITVAR_LIB \
#     Rscript tools/browser-check.R [--self-test]
# Exit status 0 when every check passed.
args <- commandArgs(trailingOnly = TRUE)
self_test <- "--self-test" %in% args
suppressPackageStartupMessages({
  library(initvar)
  library(chromote)
})
if (!nzchar(Sys.getenv("CHROMOTE_CHROME"))) Sys.setenv(CHROMOTE_CHROME = "/usr/bin/chromium")
# as root, Chromium runs only without its sandbox
chromote::set_chrome_args(unique(c(chromote::default_chrome_args(), "--no-sandbox",
                                   "--disable-gpu", "--disable-dev-shm-usage",
                                   "--disable-background-networking",
                                   "--disable-component-update", "--no-first-run")))
t_start <- proc.time()[["elapsed"]]
failures <- character(0)
fail <- function(...) {
  msg <- paste0(...)
  failures <<- c(failures, msg)
  cat("FAIL:", msg, "\n")
}
ok <- function(...) cat("ok:", ..., "\n")

# ---- the app, from the installed package --------------------------------------
port <- as.integer(Sys.getenv("INITVAR_BROWSER_PORT", sample(20000:40000, 1)))
app_log <- tempfile("explorer", fileext = ".log")
app <- processx::process$new(
  file.path(R.home("bin"), "Rscript"),
  c("-e", sprintf("initvar::explore(port = %d)", port)),
  stdout = app_log, stderr = "2>&1", cleanup = TRUE)
on.exit(invisible(app$kill()), add = TRUE)
base <- sprintf("http://127.0.0.1:%d/", port)
up <- FALSE
for (i in 1:150) {
  up <- tryCatch({
    con <- url(base)
    tryCatch(readLines(con, n = 1, warn = FALSE), finally = close(con))
    TRUE
  }, error = function(e) FALSE, warning = function(w) FALSE)
  if (up || !app$is_alive()) break
  Sys.sleep(0.2)
}
if (!up) {
  cat(readLines(app_log), sep = "\n")
  stop("the explorer did not start on ", base)
}
ok("explore() listening on", base, sprintf("after %.1f s", proc.time()[["elapsed"]] - t_start))

# ---- a browser tab with its listeners ------------------------------------------
watch <- function(b) {
  env <- new.env()
  env$errors <- character(0)
  env$requests <- character(0)
  b$Runtime$enable()
  b$Log$enable()
  b$Network$enable()
  b$Runtime$exceptionThrown(callback_ = function(x) {
    d <- x$exceptionDetails
    env$errors <- c(env$errors, paste("exception:", d$text,
                                      if (!is.null(d$exception$description)) d$exception$description))
  })
  b$Runtime$consoleAPICalled(callback_ = function(x) {
    if (identical(x$type, "error")) {
      env$errors <- c(env$errors, paste("console.error:",
                                        paste(vapply(x$args, function(a) format(a$value %||% a$description %||% ""), ""),
                                              collapse = " ")))
    }
  })
  b$Log$entryAdded(callback_ = function(x) {
    if (identical(x$entry$level, "error")) env$errors <- c(env$errors, paste("log:", x$entry$text))
  })
  b$Network$requestWillBeSent(callback_ = function(x) {
    env$requests <- c(env$requests, x$request$url)
  })
  # a failed load is logged as an error: name what failed
  b$Network$responseReceived(callback_ = function(x) {
    if (x$response$status >= 400) {
      env$errors <- c(env$errors, sprintf("HTTP %d: %s", x$response$status, x$response$url))
    }
  })
  env
}
`%||%` <- function(a, b) if (is.null(a)) b else a
js <- function(b, code, await = FALSE) {
  r <- b$Runtime$evaluate(code, returnByValue = TRUE, awaitPromise = await, timeout_ = 60)
  if (!is.null(r$exceptionDetails)) stop("JavaScript failed: ", code, ": ", r$exceptionDetails$text)
  r$result$value
}
# open the app in a tab and wait for its page to have loaded
open_app <- function(b) {
  b$Page$navigate(base, wait_ = FALSE)
  for (i in 1:200) {
    r <- tryCatch(js(b, "document.readyState === 'complete' && !!document.body && typeof $ === 'function'"),
                  error = function(e) FALSE)
    if (isTRUE(r)) return(invisible(TRUE))
    Sys.sleep(0.1)
  }
  stop("the app's page did not load in a tab")
}
foreign <- function(urls) {
  urls[!grepl(sprintf("^(http|ws)://127\\.0\\.0\\.1:%d/", port), urls) & !grepl("^(data|blob|about):", urls)]
}

# ---- self-test: a planted error and a planted web request are caught ---------
if (self_test) {
  b0 <- ChromoteSession$new()
  w0 <- watch(b0)
  open_app(b0)
  js(b0, "setTimeout(function() { throw new Error('planted error'); }, 0); 1")
  js(b0, "(function() { var im = document.createElement('img'); im.src = 'https://example.invalid/planted.png'; document.body.appendChild(im); return 1; })()")
  Sys.sleep(1.5)
  invisible(b0$Runtime$evaluate("1"))
  caught_error <- any(grepl("planted error", w0$errors))
  caught_web <- any(grepl("example.invalid", foreign(w0$requests)))
  invisible(b0$close())
  if (!caught_error || !caught_web) {
    stop(sprintf("browser self-test: planted JavaScript error %s, planted web request %s",
                 if (caught_error) "caught" else "NOT caught", if (caught_web) "caught" else "NOT caught"))
  }
  cat("browser self-test: the planted JavaScript error and web request are caught\n")
}

# ---- the checks ------------------------------------------------------------------
b <- ChromoteSession$new(width = 1400, height = 1800)
w <- watch(b)
open_app(b)

# the page's state: the numbers table, the status and notes lines, the
# phase line, each figure's source, the inputs' values
state <- function() {
  js(b, "(function() {
    var rows = Array.from(document.querySelectorAll('#numbers table tbody tr')).map(function(tr) {
      return Array.from(tr.cells).map(function(td) { return td.textContent.trim(); }); });
    var src = {};
    ['forward', 'backward', 'phase', 'jacobian', 'histograms'].forEach(function(id) {
      var img = document.querySelector('#' + id + ' img'); src[id] = img ? img.src.length + ':' + img.src.slice(-64) : '';
      var e = document.querySelector('#' + id + '.shiny-output-error'); if (e) src[id] = 'error:' + e.textContent.trim(); });
    return { rows: rows, status: document.getElementById('status').textContent.trim(),
             phase_info: document.getElementById('phase_info').textContent.trim(), src: src,
             busy: document.documentElement.classList.contains('shiny-busy'),
             greyed: !!document.getElementById('shiny-disconnected-overlay'),
             scheme: $('#scheme').val(), sigma_w2: Number($('#sigma_w2').val()),
             sigma_b2: Number($('#sigma_b2').val()),
             forward_error: ($('#forward.shiny-output-error').text() || '').trim() };
  })()")
}
# wait until shiny is idle and the page has changed from `before` (and
# stays the same for half a second)
settle <- function(before = NULL, timeout = 60) {
  t0 <- proc.time()[["elapsed"]]
  last <- NULL
  repeat {
    Sys.sleep(0.25)
    s <- state()
    changed <- is.null(before) || !identical(s[c("rows", "status", "phase_info", "src")],
                                             before[c("rows", "status", "phase_info", "src")])
    if (!s$busy && changed && length(s$src) && all(nzchar(unlist(s$src))) &&
        identical(s, last)) return(s)
    last <- if (!s$busy && changed) s else NULL
    if (proc.time()[["elapsed"]] - t0 > timeout) {
      fail("the page did not settle within ", timeout, " s")
      return(s)
    }
  }
}
set_num <- function(id, v) invisible(js(b, sprintf("$('#%s').val(%s).trigger('change'); 1", id, v)))
set_sel <- function(id, v) invisible(js(b, sprintf("$('#%s')[0].selectize.setValue('%s'); 1", id, v)))

# what the page must show for `s`: the package's functions, called here
fmt <- function(x) trimws(formatC(x, digits = 4, format = "g"))
expected_rows <- function(s) {
  init <- switch(s$scheme, glorot = init_glorot(), he = init_he(), lecun = init_lecun(),
                 glorot_standard = init_glorot_standard(), orthogonal = init_orthogonal(),
                 sigma_w2 = init_variance_scaling(s$sigma_w2, "fan_in", "normal"))
  bias <- if (s$sigma_b2 == 0) init_constant(0) else init_normal(0, sqrt(s$sigma_b2))
  net <- switch(s$arch,
    mlp = mlp(rep(s$width, s$depth + 1), s$activation, init, bias = bias),
    cnn = cnn(s$width, 3, depth = s$depth, spatial = 16, activation = s$activation,
              init = init, bias = bias))
  set.seed(s$seed)
  sim <- as.data.frame(simulate_network(net, networks = s$networks, inputs = s$inputs,
                                        var_x = s$var_x, progress = FALSE))
  pred <- lapply(c(linear = "linear", mean_field = "mean_field", finite_width = "finite_width"),
                 function(r) tryCatch(predict_variance(net, var_x = s$var_x, regime = r),
                                      error = function(e) NULL))
  rows <- list()
  for (q in c("z", "grad_s")) {
    d <- sim[sim$quantity == q, ]
    col <- c(z = "var_z", grad_s = "var_grad_s")[[q]]
    p <- lapply(pred, function(x) if (is.null(x)) rep(NA_real_, nrow(d)) else
      x[[col]][match(d$layer, x$layer)])
    for (i in seq_len(nrow(d))) {
      rows[[length(rows) + 1]] <- c(as.character(d$layer[i]), q, fmt(p$linear[i]),
                                    fmt(p$mean_field[i]), fmt(p$finite_width[i]),
                                    fmt(d$estimate[i]), fmt(d$lower[i]), fmt(d$upper[i]))
    }
  }
  rows
}
check_rows <- function(st, s, what) {
  exp <- expected_rows(s)
  got <- lapply(st$rows, unlist)
  if (!identical(length(got), length(exp))) {
    fail(what, ": the table has ", length(got), " rows, ", length(exp), " expected")
  } else if (!identical(got, exp)) {
    k <- which(!mapply(identical, got, exp))[1]
    fail(what, ": row ", k, " shows ", paste(got[[k]], collapse = " "), "; the package gives ",
         paste(exp[[k]], collapse = " "))
  } else {
    ok(what, ": the", length(got), "rows shown are simulate_network()'s and predict_variance()'s")
  }
}
check_phase <- function(st, s, what) {
  sw <- if (s$scheme == "sigma_w2") s$sigma_w2 else
    s$width * weight_variance(switch(s$scheme, glorot = init_glorot(), he = init_he()), s$width, s$width)
  fp <- fixed_point(s$activation, sw, s$sigma_b2)
  want <- sprintf("chi_1 = %s, %s phase", fmt(fp$chi_1), fp$phase)
  if (!grepl(want, st$phase_info, fixed = TRUE)) {
    fail(what, ": the phase line reads '", st$phase_info, "', fixed_point() gives '", want, "'")
  } else ok(what, ": the phase line is fixed_point()'s (", want, ")")
}
changed_figures <- function(before, after, ids, what) {
  same <- ids[vapply(ids, function(i) identical(before$src[[i]], after$src[[i]]), TRUE)]
  if (length(same)) fail(what, ": figure(s) unchanged: ", paste(same, collapse = ", "))
}

s <- list(arch = "mlp", width = 64, depth = 10, activation = "tanh", scheme = "glorot",
          sigma_w2 = 1, sigma_b2 = 0, var_x = 1, networks = 24, inputs = 64, seed = 1)
t_load <- proc.time()[["elapsed"]]
st <- settle(timeout = 90)
cat(sprintf("the default view shown %.1f s after the page was opened\n",
            proc.time()[["elapsed"]] - t_load))
check_rows(st, s, "0 default view")
check_phase(st, s, "0 default view")
n_inter <- 0
step <- function(what, do, figs = c("forward", "backward", "histograms")) {
  before <- state()
  t0 <- proc.time()[["elapsed"]]
  do()
  after <- settle(before)
  n_inter <<- n_inter + 1
  cat(sprintf("%d %s: settled in %.2f s\n", n_inter, what, proc.time()[["elapsed"]] - t0))
  changed_figures(before, after, figs, paste(n_inter, what))
  if (nzchar(after$status)) fail(n_inter, " ", what, ": unexpected error shown: ", after$status)
  after
}
s$width <- 32
st <- step("width 32", function() set_num("width", 32), c("forward", "backward", "jacobian"))
check_rows(st, s, "1 width")
s$depth <- 6
st <- step("depth 6", function() set_num("depth", 6), c("forward", "backward", "jacobian"))
check_rows(st, s, "2 depth")
s$scheme <- "he"
st <- step("scheme He", function() set_sel("scheme", "he"), c("forward", "backward", "phase"))
check_rows(st, s, "3 scheme")
check_phase(st, s, "3 scheme")
s$activation <- "relu"
st <- step("activation relu", function() set_sel("activation", "relu"),
           c("forward", "backward", "phase", "jacobian"))
check_rows(st, s, "4 activation")
check_phase(st, s, "4 activation")
s$activation <- "tanh"
s$sigma_b2 <- 0.05
st <- step("activation tanh, bias variance 0.05", function() {
  set_sel("activation", "tanh")
  set_num("sigma_b2", 0.05)
}, c("forward", "backward", "phase"))
check_rows(st, s, "5 bias")
check_phase(st, s, "5 bias")
s$var_x <- 2
st <- step("input variance 2", function() set_num("var_x", 2), c("forward", "backward"))
check_rows(st, s, "6 input variance")
# a click on the phase diagram, 70% across and 50% up its image: the scheme
# becomes sigma_w^2 / fan_in at the clicked point
st <- step("click on the phase diagram", function() {
  r <- js(b, "(function() { var r = document.querySelector('#phase img').getBoundingClientRect();
              return [r.left, r.top, r.width, r.height]; })()")
  x <- r[[1]] + 0.55 * r[[3]]
  y <- r[[2]] + 0.5 * r[[4]]
  for (type in c("mousePressed", "mouseReleased")) {
    b$Input$dispatchMouseEvent(type = type, x = x, y = y, button = "left", clickCount = 1)
  }
}, c("forward", "backward", "phase"))
s$scheme <- st$scheme
s$sigma_w2 <- st$sigma_w2
s$sigma_b2 <- st$sigma_b2
if (!identical(st$scheme, "sigma_w2") || !(st$sigma_w2 > 0.25 && st$sigma_w2 < 4) ||
    !(st$sigma_b2 >= 0 && st$sigma_b2 <= 0.3)) {
  fail("7 click: the scheme is ", st$scheme, " at (", st$sigma_w2, ", ", st$sigma_b2, ")")
} else ok(sprintf("7 click: the scheme is now sigma_w^2 / fan_in at (%g, %g)", st$sigma_w2, st$sigma_b2))
check_rows(st, s, "7 click")
check_phase(st, s, "7 click")
s$seed <- 2
st <- step("seed 2", function() set_num("seed", 2), c("forward", "backward", "histograms"))
check_rows(st, s, "8 seed")
# the CNN (its preset: 16 channels, depth 4, 16 inputs)
s$arch <- "cnn"
s$width <- 16; s$depth <- 4; s$inputs <- 16
st <- step("architecture CNN", function() set_sel("arch", "cnn"), c("forward", "backward", "jacobian"))
check_rows(st, s, "9 CNN")
# jacobian_spectrum() runs conv networks: the panel draws their spectrum
if (startsWith(st$src$jacobian, "error:") || !nzchar(st$src$jacobian)) {
  fail("9 CNN: the Jacobian panel shows no spectrum: ", st$src$jacobian)
} else ok("9 CNN: the Jacobian panel draws the CNN's spectrum")
# an invalid input: the package's message, in the status line and the panels
before <- state()
set_num("width", -3)
st <- settle(before)
n_inter <- n_inter + 1
want <- tryCatch(cnn(-3, 3, depth = 4, spatial = 16, activation = "tanh"),
                 error = function(e) conditionMessage(e))
if (!identical(st$status, want)) {
  fail("10 invalid width: the status reads '", st$status, "', cnn() says '", want, "'")
} else ok("10 invalid width: the page shows cnn()'s message: ", want)
if (!grepl(want, st$forward_error, fixed = TRUE)) fail("10 invalid width: the forward panel shows '", st$forward_error, "'")
if (length(st$rows)) fail("10 invalid width: the table still shows numbers")
# and back
s$width <- 8
st <- step("width 8 again", function() set_num("width", 8), c("forward", "backward"))
check_rows(st, s, "11 valid again")
if (st$greyed) fail("the page greyed out (shiny disconnected)")

Sys.sleep(0.5)
invisible(b$Runtime$evaluate("1"))
if (length(w$errors)) {
  fail("JavaScript errors: ", paste(unique(w$errors), collapse = " | "))
} else ok("no JavaScript error")
web <- unique(foreign(w$requests))
if (length(web)) {
  fail("loaded from outside the app: ", paste(web, collapse = " "))
} else ok(length(unique(w$requests)), "requests, all to the app's own address")
invisible(b$close())
if (!app$is_alive()) fail("the app's R process died")
cat(sprintf("browser: %d interactions, %d failures, %.0f s\n", n_inter, length(failures),
            proc.time()[["elapsed"]] - t_start))
if (length(failures)) quit(status = 1)
