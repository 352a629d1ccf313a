# Replay issue 24 ("The first hour, second pass") from a tarball, as a new
# user meets it: install the tarball with install.packages() into a fresh
# temporary library, in a child R process, then run each item that is fixed
# as a check in its own child R process against that install only.
#   Rscript tools/first-hour.R initvar_0.1.0.tar.gz
# Builds nothing itself (make the tarball with R CMD build first; one built
# with --no-build-vignettes has no rendered vignettes, and the checks that
# need them are skipped and say so). Each check prints PASS, FAIL or SKIP;
# the last line is "first-hour: N passed, N failed"; exit status 1 on any
# FAIL. Needs only R and a C compiler.
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1 || !file.exists(args[1])) {
  cat("usage: Rscript tools/first-hour.R initvar_<version>.tar.gz\n")
  quit(status = 2)
}
tarball <- normalizePath(args[1])
rscript <- file.path(R.home("bin"), "Rscript")
work <- tempfile("first-hour-")
lib <- file.path(work, "lib")
empty <- file.path(work, "empty-lib")
dir.create(lib, recursive = TRUE)
dir.create(empty)
on.exit(unlink(work, recursive = TRUE), add = TRUE)

# Run R code in a child process whose library path is `libs` (before the
# system's), with no user library; returns its output and exit status.
child <- function(code, libs = lib, env = character()) {
  f <- tempfile(tmpdir = work, fileext = ".R")
  writeLines(code, f)
  out <- suppressWarnings(system2(rscript, c("--no-init-file", shQuote(f)), stdout = TRUE, stderr = TRUE,
                                  env = c(sprintf("R_LIBS=%s", paste(libs, collapse = .Platform$path.sep)),
                                          sprintf("R_LIBS_USER=%s", empty),
                                          "R_PROFILE_USER=/dev/null", env)))
  status <- attr(out, "status")
  list(out = out, status = if (is.null(status)) 0L else status)
}

cat(sprintf("first-hour: installing %s into a fresh library\n", basename(tarball)))
inst <- child(sprintf(
  'install.packages(%s, lib = %s, repos = NULL, type = "source", quiet = TRUE)
   if (!nzchar(system.file(package = "initvar", lib.loc = %s))) quit(status = 1)',
  deparse(tarball), deparse(lib), deparse(lib)))
if (inst$status != 0) {
  cat(tail(inst$out, 30), sep = "\n")
  cat("FAIL install.packages() of the tarball\nfirst-hour: 0 passed, 1 failed\n")
  quit(status = 1)
}
# the tarball's sources, for the checks that read them (tools/test.R, the
# vignettes' index entries)
utils::untar(tarball, exdir = work)
src <- file.path(work, "initvar")

passed <- 0L; failed <- 0L; skipped <- 0L
# A check: R code run against the install, whose last line prints "PASS",
# "SKIP: why" or anything else (a failure, printed with the check).
check <- function(item, what, code, ...) {
  r <- child(c("suppressPackageStartupMessages(library(initvar))",
               "err <- function(expr) tryCatch({ force(expr); \"\" }, error = function(e) conditionMessage(e))",
               code), ...)
  last <- if (length(r$out)) r$out[length(r$out)] else ""
  if (r$status == 0 && identical(last, "PASS")) {
    passed <<- passed + 1L
    cat(sprintf("PASS [item %s] %s\n", item, what))
  } else if (r$status == 0 && startsWith(last, "SKIP")) {
    skipped <<- skipped + 1L
    cat(sprintf("SKIP [item %s] %s (%s)\n", item, what, sub("^SKIP:?\\s*", "", last)))
  } else {
    failed <<- failed + 1L
    cat(sprintf("FAIL [item %s] %s\n", item, what))
    cat(paste0("     ", utils::tail(r$out, 8)), sep = "\n")
  }
}
ok <- function(cond) sprintf('cat(if (isTRUE(%s)) "PASS" else "not as expected", "\\n", sep = "")', cond)

check("-", "initvar loads from the fresh library, not from another one", c(
  sprintf('print(find.package("initvar")); lib <- %s', deparse(lib)),
  ok('normalizePath(dirname(find.package("initvar"))) == normalizePath(lib)')))
check(1, "sample_weights(init_he(), dim = c(784, 256)) is an error naming `layout`", c(
  'm <- err(sample_weights(init_he(), dim = c(784, 256)))', 'print(m)',
  ok('grepl("layout", m)')))
check(7, "init_xavier() gives torch's xavier_uniform_", c(
  ok('all.equal(weight_variance(init_xavier(), 300, 100), 2 / 400)')))
check(7, "init_kaiming(nonlinearity = \"relu\") gives He's variance", c(
  ok('all.equal(weight_variance(init_kaiming(nonlinearity = "relu"), 100), 2 / 100)')))
check(7, "init_he(nonlinearity = \"relu\") is an error naming init_kaiming", c(
  'm <- err(init_he(nonlinearity = "relu"))', 'print(m)', ok('grepl("init_kaiming", m)')))
check(7, "sample_weights(init_he(), 10, fanin = 10) suggests fan_in", c(
  'm <- err(sample_weights(init_he(), 10, fanin = 10))', 'print(m)', ok('grepl("fan_in", m)')))
check(7, "mlp(matrix(1:4, 2)) is an error, not a flattened matrix", c(
  'm <- err(mlp(matrix(1:4, 2)))', 'print(m)', ok('nzchar(m) && grepl("matrix", m)')))
check(7, "mlp(c(10, -5, 10)) names widths[2]", c(
  'm <- err(mlp(c(10, -5, 10)))', 'print(m)', ok('grepl("widths[2]", m, fixed = TRUE)')))
check(7, "mlp(rep(32, 11), ...) and ?initvar's 784-1000x5-10 net are networks", c(
  'a <- err(mlp(rep(32, 11), "tanh", init_glorot("normal")))',
  'b <- err(mlp(c(784, rep(1000, 5), 10), "tanh", init_glorot()))', 'print(c(a, b))',
  ok('!nzchar(a) && !nzchar(b)')))
check(3, "plot(transformer(32, heads = 4, depth = 2, seq_len = 8)) has W_Q, W_K, W_V, W_O per attention sublayer", c(
  'grDevices::pdf(NULL)', 'p <- plot(transformer(32, heads = 4, depth = 2, seq_len = 8))',
  'print(p[, c("layer", "kind", "unit")])',
  'att <- split(p$unit[p$kind == "attention"], p$layer[p$kind == "attention"])',
  ok('length(att) == 2 && all(vapply(att, function(u) identical(u, c("W_Q", "W_K", "W_V", "W_O")), TRUE))')))
check(4, "glorot_report() with too few networks: no unexplained '?', no '0 of 0', says how many networks", c(
  'set.seed(1)',
  'out <- capture.output(glorot_report(networks = 4, inputs = 20, width = 100, progress = FALSE))',
  'txt <- paste(out, collapse = " ")',
  ok('!any(grepl("\\\\?\\\\s*$", out)) && !grepl("0 of 0", txt) && grepl("too\\\\s+few for a calibrated interval", txt) && grepl("networks = [0-9]+ gives every row one", txt)')))
check(4, "example(glorot_report)'s settings make comparisons at every row", c(
  'set.seed(1)', 'res <- glorot_report(networks = 40, inputs = 20, width = 100, quiet = TRUE)',
  ok('!anyNA(res$table$agrees)')))
check(4, "a gross rejection states z and how unlikely chance makes it", c(
  'set.seed(3009)', 'v <- verify("product_zero_mean", n = 1e5, drop = "zero_mean")', 'print(v$verdict)',
  ok('!v$consistent && grepl("z = -?[0-9.]+, and chance alone gives |z| this large with probability", v$verdict)')))
check(5, "vignette() lists the chapters in reading order (01., 02., ... one per vignettes/*.Rmd)", c(
  sprintf('src <- %s', deparse(src)),
  'v <- utils::vignette(package = "initvar")$results',
  'if (nrow(v)) { titles <- unname(v[, "Title"]) } else {',
  '  # no rendered vignettes in this tarball: the order vignette() would give',
  '  f <- list.files(file.path(src, "vignettes"), pattern = "[.]Rmd$", full.names = TRUE)',
  '  titles <- sort(vapply(f, function(x) sub(".*VignetteIndexEntry[{](.*)[}].*", "\\\\1",',
  '    grep("VignetteIndexEntry", readLines(x), value = TRUE)[1]), ""))',
  '  cat("(no built vignettes: from the tarball\'s index entries)\\n") }',
  'print(titles)', 'num <- as.integer(sub("^([0-9]+)[.] .*", "\\\\1", titles))',
  'n <- length(list.files(file.path(src, "vignettes"), pattern = "[.]Rmd$"))',
  ok('n >= 10 && length(titles) == n && identical(num, seq_len(n))')))
check(5, "?initvar names the transformer, residual and order-and-chaos functions", c(
  'rd <- tools::Rd_db("initvar")[["initvar-package.Rd"]]',
  'txt <- paste(capture.output(tools::Rd2txt(rd, options = list(underline_titles = FALSE))), collapse = " ")',
  'need <- c("transformer()", "resmlp()", "residual_depth_profile()", "scaling_rule()", "fixed_point()", "phase_diagram()", "critical_line()", "first_step()")',
  'print(need[!vapply(need, grepl, TRUE, txt, fixed = TRUE)])',
  ok('all(vapply(need, grepl, TRUE, txt, fixed = TRUE)) && grepl("residual-and-attention", txt)')))
check(6, "the installed vignettes: no <pre> line over 85 characters, Var/Cov upright", c(
  sprintf('src <- %s', deparse(src)),
  'doc <- system.file("doc", package = "initvar")',
  'html <- list.files(doc, pattern = "[.]html$", full.names = TRUE)',
  'if (!length(html)) { cat("SKIP: the tarball has no rendered vignettes (built with --no-build-vignettes)\\n"); quit(status = 0) }',
  'st <- system2(file.path(R.home("bin"), "Rscript"), c(file.path(src, "tools", "check-vignette-lines.R"), html))',
  ok('st == 0')))
check("6, doc", "?fans: a packed QKV projection's fan-out is one map's (64)", c(
  ok('fans(attention_layer(64, 4))[["fan_out"]] == 64')))
# item 10: the README's test command from the tarball, without initvar
# installed: it must say to install initvar first
r <- child(c(sprintf('setwd(%s)', deparse(src)),
             'if (nzchar(system.file(package = "initvar"))) { cat("SKIP: initvar is installed in a system library\\n"); quit(status = 0) }',
             'out <- suppressWarnings(system2(file.path(R.home("bin"), "Rscript"), "tools/test.R", stdout = TRUE, stderr = TRUE))',
             'print(out)',
             ok('!is.null(attr(out, "status")) && any(grepl("install it first", out)) && !any(grepl("Cannot find DESCRIPTION", out))')),
           libs = empty,
           # no site library either (a system-wide initvar would hide the
           # message): Debian's Renviron.site sets R_LIBS_SITE, so skip that file
           env = c(sprintf("R_LIBS_SITE=%s", empty), "R_ENVIRON=/dev/null"))
last <- utils::tail(r$out, 1)
if (r$status == 0 && identical(last, "PASS")) {
  passed <- passed + 1L
  cat("PASS [item 10] Rscript tools/test.R without initvar installed says to install it first\n")
} else if (r$status == 0 && length(last) && startsWith(last, "SKIP")) {
  skipped <- skipped + 1L
  cat("SKIP [item 10] Rscript tools/test.R without initvar installed (", sub("^SKIP:?\\s*", "", last), ")\n", sep = "")
} else {
  failed <- failed + 1L
  cat("FAIL [item 10] Rscript tools/test.R without initvar installed says to install it first\n")
  cat(paste0("     ", utils::tail(r$out, 8)), sep = "\n")
}
check(10, "the tarball carries README.md and tools/test.R", c(
  sprintf('src <- %s', deparse(src)),
  ok('file.exists(file.path(src, "README.md")) && file.exists(file.path(src, "tools", "test.R"))')))

if (skipped) cat(sprintf("(%d skipped, each says why)\n", skipped))
cat(sprintf("first-hour: %d passed, %d failed\n", passed, failed))
quit(status = if (failed) 1 else 0)
