# Thread policy (src/threads.c, R/threads.R): forked processes run on one
# thread at any depth of forking, fresh processes do not; the BLAS is kept
# within initvar's threads and restored afterwards, whichever way the call
# ends.

omp_threads <- function() .Call(initvar:::C_openmp_threads)

test_that("a forked child, and a child it forks, run single-threaded; results do not change", {
  skip_on_os("windows")
  skip_on_cran()
  skip_if(omp_threads() < 2, "OpenMP offers one thread here: nothing to tell apart")
  set.seed(3)
  ref <- sample_weights(init_normal(0, 1), dim = 3e5, threads = 2)
  child <- function() {
    # the grandchild: forked by a forked process
    g <- parallel::mcparallel({
      set.seed(3)
      list(threads = .Call(initvar:::C_openmp_threads), default = initvar_threads(),
           x = sample_weights(init_normal(0, 1), dim = 3e5, threads = 2))
    })
    gr <- parallel::mccollect(g, timeout = 60)
    set.seed(3)
    list(threads = .Call(initvar:::C_openmp_threads), default = initvar_threads(),
         x = sample_weights(init_normal(0, 1), dim = 3e5, threads = 2),
         grand = if (length(gr)) gr[[1]])
  }
  job <- parallel::mcparallel(child())
  res <- parallel::mccollect(job, timeout = 120)
  expect_length(res, 1)
  r <- res[[1]]
  expect_false(inherits(r, "try-error"))
  expect_identical(r$threads, 1L)
  expect_identical(r$default, 1L)
  expect_identical(r$x, ref)
  expect_false(is.null(r$grand))
  expect_identical(r$grand$threads, 1L)
  expect_identical(r$grand$default, 1L)
  expect_identical(r$grand$x, ref)
  # the parent itself is not affected by having forked
  expect_gte(omp_threads(), 2L)
})

test_that("a fresh process (a PSOCK worker) uses threads, also one started by a forked child", {
  skip_on_os("windows")
  skip_on_cran()
  skip_if(omp_threads() < 2, "OpenMP offers one thread here: nothing to tell apart")
  libs <- .libPaths()
  ask <- function(cl) {
    parallel::clusterCall(cl, function(p) {
      .libPaths(p)
      .Call(initvar:::C_openmp_threads)
    }, libs)[[1]]
  }
  cl <- parallel::makePSOCKcluster(1)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  expect_identical(ask(cl), omp_threads())
  job <- parallel::mcparallel({
    cl2 <- parallel::makePSOCKcluster(1)
    on.exit(parallel::stopCluster(cl2))
    c(self = .Call(initvar:::C_openmp_threads), worker = ask(cl2))
  })
  r <- parallel::mccollect(job, timeout = 120)[[1]]
  expect_identical(r[["self"]], 1L)
  expect_identical(r[["worker"]], omp_threads())
})

test_that("initvar_blas() describes the BLAS in use", {
  b <- initvar_blas()
  expect_s3_class(b, "data.frame")
  expect_identical(names(b), c("name", "threads", "controllable", "path", "config"))
  expect_identical(nrow(b), 1L)
  expect_true(b$name %in% c("OpenBLAS", "MKL", "BLIS", "FlexiBLAS", "Accelerate", "ATLAS",
                            "reference", "unknown"))
  expect_type(b$threads, "integer")
  expect_identical(is.na(b$threads), !b$controllable)
  if (b$controllable) expect_gte(b$threads, 1L)
  # R's own report of its BLAS names the same library file
  blas_path <- extSoftVersion()[["BLAS"]]
  if (!is.na(b$path) && nzchar(blas_path)) {
    expect_identical(normalizePath(blas_path, mustWork = FALSE), b$path)
  }
  if (grepl("openblas", b$path, ignore.case = TRUE)) expect_identical(b$name, "OpenBLAS")
})

# A controllable BLAS set to 2 threads for the test (the user's setting),
# restored at the end.
with_blas2 <- function(code) {
  b <- initvar_blas()
  skip_if_not(b$controllable, sprintf("the BLAS (%s) cannot be controlled", b$name))
  old <- .Call(initvar:::C_blas_threads, 2L)
  on.exit(.Call(initvar:::C_blas_threads, old))
  skip_if(initvar_blas()$threads != 2L, "the BLAS does not take 2 threads")
  code
}

test_that("local_blas_single_thread() sets one BLAS thread and restores it on return and error", {
  with_blas2({
    inside <- function() {
      initvar:::local_blas_single_thread()
      initvar_blas()$threads
    }
    expect_identical(inside(), 1L)
    expect_identical(initvar_blas()$threads, 2L)
    failing <- function() {
      initvar:::local_blas_single_thread()
      stop("boom")
    }
    expect_error(failing(), "boom")
    expect_identical(initvar_blas()$threads, 2L)
    # nested scopes: the inner one changes nothing, the outer one restores
    outer <- function() {
      initvar:::local_blas_single_thread()
      c(inside(), initvar_blas()$threads)
    }
    expect_identical(outer(), c(1L, 1L))
    expect_identical(initvar_blas()$threads, 2L)
  })
})

test_that("sample_weights(init_orthogonal()) and verify() of a formula restore the BLAS", {
  with_blas2({
    set.seed(1)
    W1 <- sample_weights(init_orthogonal(), 700, 500, threads = 1)
    expect_identical(initvar_blas()$threads, 2L)
    set.seed(1)
    W2 <- sample_weights(init_orthogonal(), 700, 500, threads = 2)
    expect_identical(W1, W2)
    # the QR runs on one BLAS thread whatever the user's setting
    .Call(initvar:::C_blas_threads, 1L)
    set.seed(1)
    W3 <- sample_weights(init_orthogonal(), 700, 500, threads = 2)
    .Call(initvar:::C_blas_threads, 2L)
    expect_identical(W1, W3)
    expect_identical(initvar_blas()$threads, 2L)
    expect_error(sample_weights(init_orthogonal(), 60, 40, threads = 0), "threads")
    expect_identical(initvar_blas()$threads, 2L)
    v <- verify(Var(X + Y) ~ Var(X) + Var(Y), X = init_normal(0, 1), Y = init_uniform(0, 1),
                n = 2e4, threads = 1)
    expect_identical(initvar_blas()$threads, 2L)
  })
})

test_that("an interrupted verify() restores the BLAS threads", {
  skip_on_cran()
  skip_on_os(c("windows", "mac", "solaris"))
  if (!file.exists("/proc/self/status")) skip("needs /proc (Linux)")
  if (nzchar(Sys.getenv("INITVAR_SANITIZER"))) skip("not under the sanitizers")
  b <- initvar_blas()
  skip_if_not(b$controllable, sprintf("the BLAS (%s) cannot be controlled", b$name))
  lib <- paste(.libPaths(), collapse = ":")
  # in the child: the user's setting is 2; the formula engine sets 1 for its
  # run, and the interrupt arrives while it runs
  long <- quote({
    .Call(initvar:::C_blas_threads, 2L)
    verify(Var(X) ~ 1, X = init_normal(0, 1), n = 1e10, threads = 1, progress = FALSE)
  })
  after <- quote(c(now = initvar_blas()$threads))
  r <- interrupt_child(long, threads = 1, reps = 2, delay = c(0.5, 1), after = after, lib = lib)
  expect_equal(nrow(r), 2)
  expect_true(all(r$how == "interrupt"))
  expect_identical(attr(r, "after"), c(now = 2L))
})

test_that("the BLAS is never given more threads than processors", {
  info <- initvar_blas()
  skip_if_not(isTRUE(info$controllable), "the BLAS in use cannot be controlled")
  old <- .Call(initvar:::C_blas_threads, Inf)
  on.exit(.Call(initvar:::C_blas_threads, old), add = TRUE)
  now <- initvar_blas()$threads
  expect_lte(now, parallel::detectCores())
  expect_gte(now, 1)
})
