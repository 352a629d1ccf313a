# Fuzz every registered .Call entry point and every exported function with
# malformed and edge-case arguments (wrong types and lengths, NULL, NA,
# huge and negative sizes, lists with missing names, wrong argument counts),
# built by mutating the small valid calls of the hardening tables
# (tests/testthat/helper-hardening.R). Calls run in batches, each batch in a
# child R process, so that a crash is detected and reported with the
# offending call.
#   Rscript tools/fuzz.R [calls = 20000] [seed = 1]     (make fuzz: 1e6)
# Prints the calls made, crashes (with the calls), hangs, and silent
# accepts (a malformed argument returned without an error); exits with
# status 1 on a crash or a hang.
args <- commandArgs(TRUE)

# ---- child: run a batch, logging each call before it runs -----------------
if (length(args) && args[1] == "--child") {
  suppressPackageStartupMessages(library(initvar))
  source("tests/testthat/helper-hardening.R")
  batch <- readRDS(args[2])
  start <- as.integer(args[3])
  log <- file(args[4], open = "a")
  res <- file(args[5], open = "a")
  setwd(tempdir())
  grDevices::pdf(NULL)
  for (i in seq.int(start, length(batch))) {
    writeLines(as.character(i), log)
    flush(log)
    cl <- batch[[i]]
    set.seed(i)
    out <- tryCatch({
      setTimeLimit(elapsed = 10, transient = TRUE)
      on.exit(setTimeLimit(), add = TRUE)
      suppressWarnings(utils::capture.output(
        v <- eval(cl$call, envir = globalenv()), type = "output"))
      setTimeLimit()
      "ok"
    }, interrupt = function(e) "interrupted", error = function(e) {
      if (grepl("time limit", conditionMessage(e))) "timeout" else "error"
    })
    setTimeLimit()
    writeLines(sprintf("%d %s", i, out), res)
    flush(res)
    while (grDevices::dev.cur() > 2) grDevices::dev.off()
  }
  quit(status = 0)
}

# ---- parent ----------------------------------------------------------------
ncalls <- if (length(args) >= 1) as.numeric(args[1]) else 20000
seed <- if (length(args) >= 2) as.integer(args[2]) else 1L
suppressPackageStartupMessages(library(initvar))
source("tests/testthat/helper-hardening.R")
set.seed(seed)
t_start <- proc.time()[["elapsed"]]

# malformed values (TRUE: counted as a silent accept when a call with one
# of them returns) and edge values (out of range, but of the right type)
malformed <- list(NULL, NA, NA_integer_, NA_real_, NaN, "a", character(0), numeric(0),
                  integer(0), list(), list(1), list(a = 1, 2), list(NULL, b = "x"),
                  function(x) x, new.env(), quote(x), as.raw(1), 1i, factor("a"), c(NA, 1),
                  -Inf, Inf)
edge <- list(-1, 0, 1e15, 2^31, -2^31, 2.5, .Machine$double.xmax, 1e-300, -0.5, 2^53,
             .Machine$integer.max, -.Machine$integer.max, 1L, 0L, 3, c(1, 2, 3), 1:10,
             matrix(1:4, 2), c(a = 1, 2), TRUE, FALSE)
pick <- function() {
  if (runif(1) < 0.6) list(value = malformed[[sample.int(length(malformed), 1)]], bad = TRUE)
  else list(value = edge[[sample.int(length(edge), 1)]], bad = FALSE)
}

routines <- getDLLRegisteredRoutines("initvar")$.Call
valid_args <- lapply(hardening_routines, function(e) e$args())
spec0 <- hardening_spec()

# A mutated .Call: one or two arguments replaced, a spec element replaced,
# or a wrong number of arguments.
mutate_call <- function(name) {
  a <- valid_args[[name]]
  n <- routines[[name]]$numParameters
  bad <- FALSE
  u <- runif(1)
  if (n == 0 || u < 0.05) {
    k <- if (n == 0) sample(1:2, 1) else sample(c(0:(n - 1), n + 1), 1)
    a <- lapply(seq_len(k), function(i) pick()$value)
    bad <- k != n
  } else if (u < 0.3 && any(vapply(a, function(x) identical(names(x), names(spec0)), TRUE))) {
    j <- which(vapply(a, function(x) identical(names(x), names(spec0)), TRUE))[1]
    s <- a[[j]]
    m <- sample.int(length(s), sample(1:2, 1))
    for (mm in m) {
      p <- pick()
      bad <- bad || p$bad
      if (is.null(p$value)) s[mm] <- list(NULL) else s[[mm]] <- p$value
    }
    if (runif(1) < 0.1) { s <- s[-sample.int(length(s), 1)]; bad <- TRUE }
    if (runif(1) < 0.1) { names(s) <- NULL }
    a[[j]] <- s
  } else {
    for (mm in sample.int(n, min(n, sample(1:2, 1)))) {
      p <- pick()
      bad <- bad || p$bad
      if (is.null(p$value)) a[mm] <- list(NULL) else a[[mm]] <- p$value
    }
  }
  list(call = as.call(c(list(quote(.Call), call(":::", quote(initvar), as.name(paste0("C_", name)))),
                        a)), bad = bad, target = paste0("C_", name))
}

set_arg <- function(cl, nm, value) {
  l <- as.list(cl)
  if (nm %in% names(l)) l[nm] <- list(value) else l <- c(l, stats::setNames(list(value), nm))
  as.call(l)
}

# A mutated exported call: one argument replaced or added by name.
mutate_exported <- function(name) {
  e <- hardening_exported[[name]]
  base <- e$gctorture
  if (is.null(base) || !is.call(base) || identical(base[[1]], as.name("{"))) {
    base <- as.call(list(as.name(name)))
  }
  f <- get(name, envir = asNamespace("initvar"))
  fm <- setdiff(names(formals(f)), "...")
  p <- pick()
  cl <- base
  if (length(fm) == 0 || runif(1) < 0.05) {
    cl <- set_arg(cl, "junk", p$value)   # an unused argument
    return(list(call = cl, bad = TRUE, target = name))
  }
  nm <- sample(fm, 1)
  pos <- length(cl) > 1 && runif(1) < 0.5
  if (pos) {
    l <- as.list(cl)
    i <- sample.int(length(cl) - 1, 1) + 1
    l[i] <- list(p$value)
    cl <- as.call(l)
  } else {
    cl <- set_arg(cl, nm, p$value)
  }
  list(call = cl, bad = p$bad, target = name)
}

exported <- getNamespaceExports("initvar")
missing <- setdiff(c(exported, names(routines)), c(names(hardening_exported), names(hardening_routines)))
if (length(missing)) stop("not in the hardening tables: ", paste(missing, collapse = ", "))
# slow calls (devices, many simulations) are drawn less often
slow <- c("glorot_report", "plot_simulations", "width_sweep", "compare_schemes", "verify_all",
          "linear_regime", "simulate_network", "verify", "predict_variance")
targets <- c(paste0("C:", names(routines)), exported)
weights <- ifelse(sub("^C:", "", targets) %in% slow, 0.15, 1)
weights[targets == "glorot_report"] <- 0.03
weights[targets == "verify_all"] <- 0.01

make_call <- function() {
  t <- sample(targets, 1, prob = weights)
  if (startsWith(t, "C:")) mutate_call(sub("^C:", "", t)) else mutate_exported(t)
}

batch_size <- 2500
nb <- ceiling(ncalls / batch_size)
crashes <- list()
hangs <- list()
silent <- list()
counts <- c(ok = 0, error = 0, interrupted = 0, timeout = 0)
made <- 0
rscript <- file.path(R.home("bin"), "Rscript")
me <- normalizePath("tools/fuzz.R")
for (b in seq_len(nb)) {
  m <- min(batch_size, ncalls - (b - 1) * batch_size)
  batch <- replicate(m, make_call(), simplify = FALSE)
  f_batch <- tempfile(fileext = ".rds")
  f_log <- tempfile()
  f_res <- tempfile()
  saveRDS(batch, f_batch)
  start <- 1L
  while (start <= m) {
    cmd <- sprintf("ulimit -v 6000000; exec %s %s --child %s %d %s %s >/dev/null 2>&1",
                   shQuote(rscript), shQuote(me), shQuote(f_batch), start, shQuote(f_log),
                   shQuote(f_res))
    status <- system2("bash", c("-c", shQuote(cmd)), timeout = 300)
    res <- if (file.exists(f_res)) readLines(f_res) else character()
    done <- as.integer(sub(" .*", "", res))
    last_logged <- if (file.exists(f_log)) max(as.integer(readLines(f_log))) else start - 1L
    if (status == 0 && length(done) && max(done) >= m) break
    # the child died (or hung) in the last call it logged
    i <- last_logged
    what <- paste(deparse(batch[[i]]$call, width.cutoff = 200L, nlines = 3L), collapse = " ")
    if (status == 124) hangs[[length(hangs) + 1]] <- what else
      crashes[[length(crashes) + 1]] <- sprintf("status %d: %s", status, what)
    cat(sprintf("%d crash\n", i), file = f_res, append = TRUE)  # counted, then skipped
    cat(sprintf("%s: %s\n", if (status == 124) "HANG" else "CRASH", what))
    start <- i + 1L
  }
  res <- readLines(f_res)
  res <- res[!duplicated(as.integer(sub(" .*", "", res)), fromLast = TRUE)]
  for (r in res) {
    i <- as.integer(sub(" .*", "", r))
    o <- sub("^[0-9]+ ", "", r)
    if (o %in% names(counts)) counts[[o]] <- counts[[o]] + 1
    if (o == "ok" && batch[[i]]$bad) {
      silent[[length(silent) + 1]] <- paste(deparse(batch[[i]]$call, width.cutoff = 200L,
                                                    nlines = 2L), collapse = " ")
    }
  }
  made <- made + m
  unlink(c(f_batch, f_log, f_res))
}
secs <- proc.time()[["elapsed"]] - t_start
if (length(silent)) {
  tgt <- sub("^(initvar:::)?([A-Za-z_.]+).*$", "\\2", sub("^\\.Call\\(initvar:::", "", silent))
  cat("Silent accepts by target (a malformed argument was accepted):\n")
  print(sort(table(tgt), decreasing = TRUE))
  cat("Examples:\n")
  ex <- unique(unlist(silent))
  ex <- ex[order(!grepl("^\\.Call", ex))]
  cat(paste0("  ", utils::head(ex[!duplicated(sub("\\(.*", "", ex))], 12)), sep = "\n")
  if (nzchar(Sys.getenv("FUZZ_VERBOSE"))) cat(paste0("  ", ex), sep = "\n")
}
cat(sprintf(paste0("fuzz: %.0f calls (%d targets, seed %d) in %.0f s: %d crashes, %d hangs, ",
                   "%d silent accepts; %.0f errors, %.0f returned, %.0f interrupted by the ",
                   "time limit\n"),
            made, length(targets), seed, secs, length(crashes), length(hangs), length(silent),
            counts[["error"]], counts[["ok"]], counts[["interrupted"]] + counts[["timeout"]]))
quit(status = if (length(crashes) + length(hangs) > 0) 1 else 0)
