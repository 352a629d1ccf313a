# Ctrl-C in a child R process: control returns to the interrupt handler
# promptly at 1 and 2 threads, nothing leaks, and the session stays sound.
# Slow (about a minute): not on CRAN, not under the sanitizers.

skip_interrupt_tests <- function() {
  skip_on_cran()
  skip_on_os(c("windows", "mac", "solaris"))
  if (!file.exists("/proc/self/status")) skip("needs /proc (Linux)")
  if (nzchar(Sys.getenv("INITVAR_SANITIZER"))) skip("not under the sanitizers")
}

lib_paths <- function() paste(.libPaths(), collapse = ":")

# the same uninterrupted call in the child after the interrupts and in a
# fresh process
after_call <- quote({
  set.seed(42)
  s <- simulate_network(mlp(c(30, 30, 30), "tanh", init_glorot()), 24, 16, threads = TH)
  v <- verify("neuron", n = 2e5, threads = TH)
  list(s$acc, s$hist, v$estimate, v$path)
})

for (th in 1:2) {
  test_that(sprintf("simulate_network() stops within 2 s of SIGINT, %d thread(s), flat memory", th), {
    skip_if_shared()
    skip_interrupt_tests()
    if (th == 2) skip_unless_full()
    reps <- if (th == 2) 10 else 3
    long <- quote(simulate_network(hardening_mid_net(), networks = 1000, inputs = 400,
                                   threads = TH, progress = FALSE))
    r <- interrupt_child(long, threads = th,
                         reps = reps, delay = 1, after = after_call, lib = lib_paths())
    expect_equal(nrow(r), reps)
    expect_true(all(r$how == "interrupt"))
    expect_true(all(r$latency < 2), label = paste(format(r$latency, digits = 3), collapse = " "))
    if (reps >= 10) {
      # flat resident memory from the second run on (the first warms up)
      grow <- (max(r$rss_kb[-1]) - r$rss_kb[2]) / 1024
      expect_lt(grow, 20)
    }
    fresh <- interrupt_child(quote(NULL), threads = th, reps = 0,
                             after = after_call, lib = lib_paths())
    expect_false(is.null(attr(r, "after")))
    expect_identical(attr(r, "after"), attr(fresh, "after"))
  })

  test_that(sprintf("verify() stops within 2 s of SIGINT, %d thread(s)", th), {
    skip_if_shared()
    skip_interrupt_tests()
    if (th == 2) skip_unless_full()
    r <- interrupt_child(hardening_exported$verify$interrupt, threads = th, reps = 3,
                         delay = 1, lib = lib_paths())
    expect_equal(nrow(r), 3)
    expect_true(all(r$how == "interrupt"))
    expect_true(all(r$latency < 2), label = paste(format(r$latency, digits = 3), collapse = " "))
  })
}

test_that("a loop around an interrupted simulate_network() stops", {
  skip_if_shared()
  skip_interrupt_tests()
  loop <- quote({
    for (i in 1:5) simulate_network(hardening_mid_net(), networks = 1000, inputs = 400,
                                    threads = TH, progress = FALSE)
    writeLines("loop finished", "loop.txt")
  })
  r <- interrupt_child(loop, threads = 2, reps = 1, delay = 1, lib = lib_paths())
  expect_equal(r$how, "interrupt")
  expect_lt(r$latency, 2)
})
