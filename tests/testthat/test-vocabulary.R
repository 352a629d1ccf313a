# Every vocabulary that crosses between R and C is defined once on each side
# (R/codes.R and the activation table; src/vocab.h): the two must agree
# on every name and code, in order.

test_that("R and C agree on every vocabulary, name by name and code by code", {
  c_side <- .Call(initvar:::C_test_vocabulary)
  r_side <- initvar:::r_vocabulary()
  expect_setequal(names(c_side), names(r_side))
  for (v in names(r_side)) {
    expect_identical(names(c_side[[v]]), names(r_side[[v]]), label = paste("names of", v))
    expect_identical(unname(c_side[[v]]), unname(as.integer(r_side[[v]])),
                     label = paste("codes of", v))
  }
})

test_that("codes are unique, and the activation table and its codes match", {
  r_side <- initvar:::r_vocabulary()
  for (v in setdiff(names(r_side), "limits")) {
    expect_false(anyDuplicated(r_side[[v]]) > 0, label = v)
    expect_false(anyDuplicated(names(r_side[[v]])) > 0, label = v)
  }
  tab <- initvar:::activation_table
  codes <- initvar:::activation_codes
  expect_identical(names(codes), c(names(tab), "r_function"))
  for (nm in names(tab)) expect_identical(activation(nm)$code, codes[[nm]])
  # every family a scheme resolves to has a code
  expect_true(all(c("uniform", "normal", "truncated_normal", "constant", "identity",
                    "orthogonal", "sparse") %in% names(initvar:::family_codes)))
  # every built-in identity names a kernel of src/identities.c
  ids <- initvar:::identity_defs
  k <- unlist(lapply(ids, `[[`, "c_kernel"))
  expect_true(all(k %in% names(initvar:::identity_kernel_codes)))
  expect_setequal(unique(k), names(initvar:::identity_kernel_codes))
})

test_that("the engine spec is read by name, whatever the order of its fields", {
  set.seed(3)
  net <- mlp(c(4, 5, 3), c("tanh", "linear"), init_glorot())
  spec <- initvar:::sim_setup(net, 6, "normal", 1, NULL, "normal", 1, 10)$spec
  expect_identical(names(spec), initvar:::spec_fields)
  a <- .Call(initvar:::C_simulate_block, spec, 0, 3L, 1L, NULL)
  b <- .Call(initvar:::C_simulate_block, spec[rev(names(spec))], 0, 3L, 1L, NULL)
  expect_identical(a, b)
  expect_named(a, initvar:::block_slots)
  # unknown, missing or repeated fields are errors naming the field
  bad <- spec; names(bad)[3] <- "activation"
  expect_error(.Call(initvar:::C_simulate_block, bad, 0, 1L, 1L, NULL), "`activation`")
  bad <- spec; names(bad)[3] <- "widths"
  expect_error(.Call(initvar:::C_simulate_block, bad, 0, 1L, 1L, NULL), "twice")
  expect_error(.Call(initvar:::C_simulate_block, spec[-1], 0, 1L, 1L, NULL),
               sprintf("%d elements", length(initvar:::spec_fields)))
  bad <- spec; bad$layer_kind <- c(1L, 9L)
  expect_error(.Call(initvar:::C_simulate_block, bad, 0, 1L, 1L, NULL), "layer_kind\\[2\\]")
  # a residual layer must keep its width, and a dense one has one unit
  bad <- spec; bad$layer_kind <- c(2L, 1L)
  expect_error(.Call(initvar:::C_simulate_block, bad, 0, 1L, 1L, NULL), "keep its width")
  bad <- spec; bad$units <- c(2L, 1L)
  expect_error(.Call(initvar:::C_simulate_block, bad, 0, 1L, 1L, NULL), "units\\[1\\]")
  # a residual network's spec: per-unit fields, read by name as well
  rnet <- resmlp(4, 2, "tanh", init_he(), branch_depth = 2, norm = "post", n_out = 3)
  rs <- initvar:::sim_setup(rnet, 6, "normal", 1, NULL, "normal", 1, 10)$spec
  expect_identical(rs$units, c(2L, 2L, 1L))
  expect_length(rs$wkind, 5)
  expect_identical(rs$res_norm, unname(initvar:::norm_kind_codes[c("post", "post", "none")]))
  expect_identical(.Call(initvar:::C_simulate_block, rs, 0, 3L, 1L, NULL),
                   .Call(initvar:::C_simulate_block, rs[rev(names(rs))], 0, 3L, 1L, NULL))
  bad <- rs; bad$res_norm <- c(7L, 0L, 0L)
  expect_error(.Call(initvar:::C_simulate_block, bad, 0, 1L, 1L, NULL), "res_norm\\[1\\]")
})

test_that("a network is a list of layers of a known kind", {
  net <- mlp(c(4, 5, 3), c("tanh", "relu"), init_he())
  expect_length(net$layers, 2)
  for (l in net$layers) {
    expect_true(l$kind %in% names(initvar:::layer_kinds))
    expect_true(l$kind %in% names(initvar:::layer_kind_codes))
  }
  expect_identical(vapply(net$layers, function(l) l$n_in, 0), c(4, 5))
  expect_identical(vapply(net$layers, function(l) l$activation$name, ""), c("tanh", "relu"))
  expect_identical(initvar:::layer_kinds$dense$fans(net$layers[[2]]),
                   c(fan_in = 5, fan_out = 3))
  # the layers and the summaries agree; old objects without layers still work
  old <- unclass(net); old$layers <- NULL; class(old) <- "initvar_mlp"
  expect_equal(predict_variance(old, regime = "mean_field"),
               predict_variance(net, regime = "mean_field"))
})
