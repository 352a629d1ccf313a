# A sweep scaled out through future.batchtools (issue 27): a 16-point
# width_sweep() whose simulations run as batchtools jobs on this machine
# (batchtools_local, the registry in tempdir()) equals the sequential sweep
# bit for bit: each block of networks draws from its own streams.

test_that("a 16-point width sweep through future.batchtools equals the sequential one", {
  # 16 batchtools jobs, each a fresh R process: about a minute
  skip_unless_full()
  skip_if_not_installed("future.batchtools")
  skip_if_not_installed("future.apply")
  widths <- 2:17
  set.seed(27)
  one <- width_sweep(widths, depth = 2, networks = 16, inputs = 4, progress = FALSE)
  old_opt <- options(future.cache.path = file.path(tempfile("batchtools")), future.delete = TRUE)
  old_plan <- future::plan(future.batchtools::batchtools_local)
  on.exit({
    future::plan(old_plan)
    options(old_opt)
  }, add = TRUE)
  set.seed(27)
  jobs <- width_sweep(widths, depth = 2, networks = 16, inputs = 4, progress = FALSE,
                      future = TRUE)
  expect_identical(nrow(jobs), 16L)
  after_jobs <- runif(1)
  expect_identical(jobs, one)
  # and R's random stream is where the sequential sweep leaves it
  future::plan(future::sequential)
  set.seed(27)
  width_sweep(widths[1:2], depth = 2, networks = 16, inputs = 4, progress = FALSE)
  set.seed(27)
  one <- width_sweep(widths, depth = 2, networks = 16, inputs = 4, progress = FALSE)
  expect_identical(runif(1), after_jobs)
  # the registry was in tempdir(), and nothing was left in the working folder
  expect_true(startsWith(getOption("future.cache.path"), tempdir()))
  expect_false(dir.exists(".future"))
})

test_that("the Slurm template ships with the package", {
  f <- system.file("batchtools", "batchtools.slurm.tmpl", package = "initvar")
  expect_true(nzchar(f))
  txt <- readLines(f)
  expect_true(any(grepl("batchtools::doJobCollection(\"<%= uri %>\")", txt, fixed = TRUE)))
  expect_true(any(grepl("^#SBATCH --time=", txt)))
})

test_that("width_sweep()'s future argument is checked", {
  expect_error(width_sweep(c(2, 3), depth = 1, networks = 2, inputs = 2, future = NA),
               "`future` must be TRUE or FALSE")
})
