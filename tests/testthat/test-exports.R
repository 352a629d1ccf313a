# The quick tier still calls every export: each runs its small valid call
# from the hardening table (tests/testthat/helper-hardening.R), here with no
# gctorture, so a function broken at its simplest call fails the README's
# test command as well as the full suite.

quick_calls <- list(
  # its gctorture call is left out (200 networks per Glorot identity)
  verify_all = quote(verify_all(n = 1e4, ids = "linear_var", threads = 1)),
  # the app object; without shiny (the no-Suggests gate), the clear error
  explore = quote(if (requireNamespace("shiny", quietly = TRUE)) explore(run = FALSE) else
    tryCatch(explore(run = FALSE), initvar_error = function(e) NULL))
)

test_that("every export runs its small valid call", {
  exported <- sort(getNamespaceExports("initvar"))
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off(), add = TRUE)
  env <- new.env(parent = environment())   # the helpers, and initvar attached
  # the registry is left as found (register_identity()'s call adds one)
  reg <- get("identity_registry", asNamespace("initvar"))
  before <- ls(reg)
  on.exit(rm(list = setdiff(ls(reg), before), envir = reg), add = TRUE)
  ran <- character(0)
  for (nm in exported) {
    e <- hardening_exported[[nm]]
    call <- if (is.language(e$gctorture)) e$gctorture else quick_calls[[nm]]
    expect_true(is.language(call), label = paste(nm, "has a small call"))
    if (!is.language(call)) next
    # the call is to the export itself
    expect_true(nm %in% all.names(call), label = paste(nm, "is called by", deparse(call)[1]))
    set.seed(1)
    res <- tryCatch({
      utils::capture.output(v <- suppressMessages(eval(call, env)))
      "ok"
    }, error = function(err) conditionMessage(err))
    expect_identical(res, "ok", label = paste(nm, ":", deparse(call)[1]))
    ran <- c(ran, nm)
  }
  expect_setequal(ran, exported)
})
