# Test tiers, one switch (INITVAR_TESTS = smoke, quick or full). The quick tier (the default: the README's
# `Rscript tools/test.R`, and R CMD check) runs in a few minutes on two
# cores and still calls every export (test-exports.R); the full tier,
# `INITVAR_TESTS=full`, adds the calibration over seeds, the width and
# depth sweeps and the long engine-against-reference grids.
test_tier <- function() {
  tier <- Sys.getenv("INITVAR_TESTS", "quick")
  if (!nzchar(tier)) tier <- "quick"
  if (!tier %in% c("smoke", "quick", "full")) {
    stop(sprintf("INITVAR_TESTS must be \"smoke\", \"quick\" or \"full\", not \"%s\".", tier),
         call. = FALSE)
  }
  # the smoke tier is a subset of the quick tier's files (tests/smoke-tier.txt),
  # each run as in the quick tier
  if (tier == "smoke") "quick" else tier
}

# The first line of a test whose assertion is a wall-clock bound tight
# enough to fail on a machine shared with another job (the interrupt
# latencies): CI runs the test gates two at a time with
# INITVAR_SHARED=true, and these tests alone, afterwards, in a gate of
# their own.
skip_if_shared <- function() {
  if (identical(Sys.getenv("INITVAR_SHARED"), "true")) {
    testthat::skip("timed: runs alone (INITVAR_SHARED=true)")
  }
  invisible(TRUE)
}

# The first line of a test that belongs to the full tier only.
skip_unless_full <- function() {
  if (test_tier() != "full") testthat::skip("full tier only: set INITVAR_TESTS=full")
  invisible(TRUE)
}

# The rows of a grid of settings (a data frame of factors) that a tier runs:
# all of them in the full tier; in the quick tier, diagonals through the grid
# so that every level of every factor is run at least twice, in different
# company (2 x the largest number of levels, at most nrow(grid)).
tier_rows <- function(grid) {
  if (test_tier() == "full") return(seq_len(nrow(grid)))
  levs <- lapply(grid, function(v) unique(v))
  nl <- vapply(levs, length, 1L)
  pick <- integer(0)
  for (shift in 0:1) for (i in 0:(max(nl) - 1)) {
    want <- Map(function(l, n, k) l[(i + k * shift) %% n + 1], levs, nl, seq_along(levs) - 1)
    hit <- which(Reduce(`&`, Map(function(col, w) vapply(col, identical, TRUE, w), grid, want)))
    pick <- c(pick, hit[1])
  }
  sort(unique(pick))
}
