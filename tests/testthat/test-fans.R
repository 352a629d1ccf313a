test_that("torch layout: (out, in, k...) as torch's _calculate_fan_in_and_fan_out", {
  # nn.Linear(784, 256).weight has shape (256, 784)
  expect_equal(fans(c(256, 784))[c("fan_in", "fan_out")], c(fan_in = 784, fan_out = 256))
  # nn.Conv2d(3, 64, 3).weight has shape (64, 3, 3, 3)
  expect_equal(fans(c(64, 3, 3, 3))[c("fan_in", "fan_out", "receptive_field")],
               c(fan_in = 27, fan_out = 576, receptive_field = 9))
  # nn.Conv1d(16, 33, 5) and nn.Conv3d(2, 4, (3, 5, 7))
  expect_equal(fans(c(33, 16, 5))[["fan_in"]], 80)
  expect_equal(fans(c(4, 2, 3, 5, 7))[["fan_out"]], 4 * 105)
  expect_error(fans(10), "at least 2 dimensions")
})

test_that("keras layout: (k..., in, out) as VarianceScaling's _compute_fans", {
  expect_equal(fans(c(784, 256), "keras")[c("fan_in", "fan_out")],
               c(fan_in = 784, fan_out = 256))
  expect_equal(fans(c(3, 3, 3, 64), "keras")[c("fan_in", "fan_out")],
               c(fan_in = 27, fan_out = 576))
  expect_equal(fans(10, "keras")[c("fan_in", "fan_out")], c(fan_in = 10, fan_out = 10))
  expect_equal(fans(c(3, 3, 3, 64), "keras")[c("in_units", "out_units")],
               c(in_units = 3, out_units = 64))
})

test_that("fans are exact beyond integer range", {
  f <- fans(c(2^20, 2^20, 2^10), "torch")
  expect_equal(f[["fan_in"]], 2^30)
  expect_equal(f[["fan_out"]], 2^30)
})
