
test_that("every help topic is in the pkgdown reference index", {
  yml <- file.path("..", "..", "_pkgdown.yml")
  man <- file.path("..", "..", "man")
  skip_if_not(file.exists(yml) && dir.exists(man))   # a source checkout only
  listed <- sub("^\\s*-\\s*", "", grep("^\\s*-\\s*[A-Za-z.]", readLines(yml), value = TRUE))
  topics <- sub("\\.Rd$", "", list.files(man, pattern = "\\.Rd$"))
  internal <- vapply(file.path(man, paste0(topics, ".Rd")), function(f)
    any(grepl("\\\\keyword\\{internal\\}", readLines(f))), TRUE)
  expect_identical(setdiff(topics[!internal], listed), character(0))
})

test_that("a shape the two layouts read differently must name its layout (issue 24, item 1)", {
  # c(784, 256): torch's Linear(256, 784) (fan_in 256), Keras's 784 x 256
  # kernel (fan_in 784): a 3x difference in He's variance, never guessed
  for (f in list(function(...) sample_weights(init_he(), ...),
                 function(...) weight_variance(init_he(), ...),
                 function(...) weight_mean(init_he(), ...))) {
    expect_error(f(dim = c(784, 256)), "`dim` = c\\(784, 256\\) means two different layers.*`layout`")
  }
  expect_error(fans(c(256, 784)), "means two different layers.*`layout`")
  expect_error(weight_variance(init_he(), dim = c(64, 3, 3, 3)), "fan_in = 27.*fan_in = 576")
  expect_equal(weight_variance(init_he(), dim = c(784, 256), layout = "torch"), 2 / 256)
  expect_equal(weight_variance(init_he(), dim = c(784, 256), layout = "keras"), 2 / 784)
  expect_equal(dim(sample_weights(init_he(), dim = c(784, 256), layout = "keras")), c(784, 256))
  # the positional form is initvar's fan_in x fan_out, as before
  expect_equal(weight_variance(init_he(), 784, 256), 2 / 784)
  # no ambiguity, no demand: a square shape, a vector, a scheme without fans
  expect_equal(weight_variance(init_he(), dim = c(50, 50)), 2 / 50)
  expect_equal(dim(sample_weights(init_normal(), dim = c(3, 4))), c(3, 4))
  expect_length(sample_weights(init_zeros(), dim = 4), 4)
  expect_equal(fans(c(5, 5))[["fan_in"]], 5)
  # fans given beside `dim` settle it when exactly one layout agrees
  expect_equal(weight_variance(init_he(), 256, dim = c(784, 256)), 2 / 256)
  expect_equal(weight_variance(init_he(), 784, 256, dim = c(784, 256)), 2 / 784)
  expect_error(weight_variance(init_he(), 100, dim = c(784, 256)), "`dim`")
  expect_error(sample_weights(init_he(), dim = c(784, 256), layout = "tf"), "`layout`")
})

test_that("torch's names and arguments give the scheme they mean (issue 24, item 7)", {
  expect_equal(weight_variance(init_xavier(), 300, 100), 2 / 400)
  expect_equal(weight_variance(init_xavier("normal", gain = 2), 300, 100), 4 * 2 / 400)
  expect_identical(init_xavier()$convention, "torch")
  # kaiming_*_: gain = calculate_gain(nonlinearity, a), torch's table
  expect_equal(weight_variance(init_kaiming(), 100), 2 / 100)   # leaky_relu, a = 0
  expect_equal(weight_variance(init_kaiming(nonlinearity = "relu", a = 3), 100), 2 / 100)
  expect_equal(weight_variance(init_kaiming(a = 0.5), 100), 2 / (1 + 0.25) / 100)
  expect_equal(weight_variance(init_kaiming(nonlinearity = "tanh"), 100), (5 / 3)^2 / 100)
  expect_equal(weight_variance(init_kaiming("uniform", nonlinearity = "selu", mode = "fan_out"), 10, 40),
               (3 / 4)^2 / 40)
  expect_equal(weight_variance(init_kaiming(nonlinearity = "conv2d"), 27), 1 / 27)
  for (nl in c("linear", "sigmoid", "tanh", "relu", "selu")) {
    expect_equal(weight_variance(init_kaiming(nonlinearity = nl), 64),
                 gain(if (nl == "linear") "linear" else nl)^2 / 64, label = nl)
  }
  set.seed(1)
  w <- sample_weights(init_kaiming("uniform", nonlinearity = "tanh"), 400, 300)
  expect_lte(max(abs(w)), sqrt(3 * (5 / 3)^2 / 400))
  expect_error(init_kaiming(nonlinearity = "rel"), "`nonlinearity`.*Did you mean \"relu\"")
  expect_error(init_xavier("truncated_normal"), "`distribution`")
  # habits from torch get errors that say where to go
  expect_error(init_he(nonlinearity = "relu"), "`nonlinearity` is not an argument of init_he\\(\\).*init_kaiming")
  expect_error(sample_weights(init_he(), 10, fanin = 10), "`fanin` is not an argument of sample_weights\\(\\). Did you mean `fan_in`")
  expect_error(weight_variance(init_he(), fan_inn = 3), "`fan_inn`.*Did you mean `fan_in`")
  expect_error(init_glorot(gian = 2), "`gian`.*Did you mean `gain`")
  expect_error(sample_weights(init_he(), 3, 3, NULL, "torch", 1, 5), "unnamed argument")
  # mlp(): a matrix is not silently flattened; the bad element is named
  expect_error(mlp(matrix(c(4, 4, 4, 4), 2)), "`widths` must be a plain vector.*2 x 2 matrix")
  expect_error(mlp(list(4, 4)), "`widths` must be a plain vector")
  expect_error(mlp(c(10, -5, 10)), "`widths\\[2\\]` must be a positive whole number, not -5")
  expect_error(mlp(c(10, 2.5)), "`widths\\[2\\]`")
})

test_that("a misspelt choice gets a 'did you mean' (issue 24, item 7)", {
  net <- mlp(c(4, 4, 2), "tanh")
  expect_error(predict_variance(net, regime = "meanfield"),
               "`regime` must be one of .*not \"meanfield\". Did you mean \"mean_field\"\\?")
  expect_error(init_he(mode = "fanin"), "Did you mean \"fan_in\"")
})
