test_that("compare_schemes() estimates agree with the exact variances", {
  set.seed(901)
  tab <- compare_schemes(120, 80, reps = 30, level = 0.999)
  expect_s3_class(tab, "initvar_scheme_comparison")
  expect_equal(nrow(tab), length(default_schemes()))
  # each z-score is within 5 (5 MCSE); deterministic rows have MCSE 0
  z <- tab$z[!is.na(tab$z)]
  expect_true(all(abs(z) < 5))
  expect_equal(tab$estimate[tab$scheme == "identity"], tab$exact[tab$scheme == "identity"])
  expect_output(print(tab), "exact against 30 simulated matrices")
  expect_error(compare_schemes(reps = 1), "`reps`")
  expect_error(compare_schemes(schemes = list(1)), "`schemes`")
  expect_error(compare_schemes(level = 1), "`level`")
})
