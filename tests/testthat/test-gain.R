test_that("the table agrees with torch's calculate_gain", {
  expect_equal(gain("linear"), 1)
  expect_equal(gain("identity"), 1)
  expect_equal(gain("conv2d"), 1)
  expect_equal(gain("conv_transpose3d"), 1)
  expect_equal(gain("sigmoid"), 1)
  expect_equal(gain("tanh"), 5 / 3)
  expect_equal(gain("relu"), sqrt(2))
  expect_equal(gain("leaky_relu"), sqrt(2 / (1 + 0.01^2)))
  expect_equal(gain("leaky_relu", 0.2), 1.3867504905630728)
  expect_equal(gain("selu"), 3 / 4)
})

test_that("second-moment gains by quadrature", {
  relu <- function(x) pmax(x, 0)
  expect_equal(gain(relu), sqrt(2), tolerance = 1e-8)
  expect_equal(gain(relu, method = "integrate"), sqrt(2), tolerance = 1e-8)
  expect_equal(gain("relu", method = "gauss_hermite"), sqrt(2), tolerance = 1e-8)
  expect_equal(gain(function(x) x), 1, tolerance = 1e-12)
  expect_equal(gain(function(x) 2 * x), 0.5, tolerance = 1e-12)
  # leaky ReLU: E f(Z)^2 = (1 + slope^2) / 2, the table's value
  expect_equal(gain("leaky_relu", 0.2, method = "gauss_hermite"), gain("leaky_relu", 0.2),
               tolerance = 1e-8)
  # smooth activations: Gauss-Hermite agrees with adaptive integration
  for (a in c("tanh", "sigmoid", "softsign", "selu", "elu", "scaled_tanh")) {
    expect_equal(gain(a, method = "gauss_hermite"), gain(a, method = "integrate"),
                 tolerance = 1e-9)
  }
  # SELU is self-normalizing: E selu(Z)^2 = 1
  expect_equal(gain("selu", method = "integrate"), 1, tolerance = 1e-9)
  # names without a table entry fall back to quadrature under "auto"
  expect_equal(gain("softsign"), gain("softsign", method = "gauss_hermite"))
})

test_that("gain() rejects bad input, naming the argument", {
  expect_error(gain("swishy"), "`activation` must be a known activation")
  expect_error(gain("softsign", method = "table"), "`method`")
  expect_error(gain("tanh", param = 2), "`param` must be NULL")
  expect_error(gain("leaky_relu", param = NA), "`param`")
  expect_error(gain(function(x) pmax(x, 0), param = 1), "`param`")
  expect_error(gain(function(x) x, method = "table"), "`method`")
  expect_error(gain(function(x) 0 * x), "`activation` has E\\[f\\(Z\\)\\^2\\] = 0")
  expect_error(gain("tanh", method = "simpson"), "`method`")
  expect_error(gain("tanh", nodes = 0), "`nodes`")
  expect_error(gain(1), "`activation`")
})
