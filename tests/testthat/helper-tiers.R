# Two test tiers, one switch. The quick tier (the default: the README's
# `Rscript tools/test.R`, and R CMD check) runs in a few minutes on two
# cores and still calls every export (test-exports.R); the full tier,
# `INITVAR_TESTS=full`, adds the calibration over seeds, the width and
# depth sweeps and the long engine-against-reference grids.
test_tier <- function() {
  tier <- Sys.getenv("INITVAR_TESTS", "quick")
  if (!nzchar(tier)) tier <- "quick"
  if (!tier %in% c("quick", "full")) {
    stop(sprintf("INITVAR_TESTS must be \"quick\" or \"full\", not \"%s\".", tier), call. = FALSE)
  }
  tier
}

# The first line of a test that belongs to the full tier only.
skip_unless_full <- function() {
  if (test_tier() != "full") testthat::skip("full tier only: set INITVAR_TESTS=full")
  invisible(TRUE)
}
