
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

test_that("a deep or wide chain of widths is a network, whatever prod(widths) is", {
  # mlp() once bounded prod(widths) as if the widths were an array's shape:
  # a 32-wide, 10-layer stack (32^11 > 2^52) was refused
  expect_s3_class(mlp(rep(32, 11), "tanh", init_glorot("normal")), "initvar_mlp")
  expect_s3_class(mlp(c(784, rep(1000, 5), 10), "tanh", init_glorot()), "initvar_mlp")
  expect_error(mlp(c(10, -5, 10), "relu", init_he()), "widths\\[2\\]")
  expect_error(mlp(c(10, 2.5, 10), "relu", init_he()), "widths\\[2\\]")
})

# The chapters in reading order, from the vignettes themselves: each
# %\VignetteIndexEntry starts with its zero-padded chapter number, and
# vignette() and browseVignettes() order by that title (issue 24, item 5).
chapter_order <- function(dir) {
  files <- list.files(dir, pattern = "\\.Rmd$", full.names = TRUE)
  entry <- vapply(files, function(f) {
    line <- grep("%\\\\VignetteIndexEntry\\{", readLines(f, warn = FALSE), value = TRUE)[1]
    sub(".*%\\\\VignetteIndexEntry\\{(.*)\\}.*", "\\1", line)
  }, "")
  list(name = sub("\\.Rmd$", "", basename(files)), entry = unname(entry))
}

test_that("the chapters are numbered, and every list of them is in that order (issue 24, item 5)", {
  root <- file.path("..", "..")
  skip_if_not(dir.exists(file.path(root, "vignettes")) &&
                file.exists(file.path(root, "_pkgdown.yml")))   # a source checkout only
  ch <- chapter_order(file.path(root, "vignettes"))
  num <- as.integer(sub("^([0-9]+)\\. .*", "\\1", ch$entry))
  expect_false(anyNA(num))
  expect_setequal(num, seq_along(num))
  expect_true(all(grepl("^[0-9]{2}\\. ", ch$entry)))   # zero-padded: "10." after "09."
  reading <- ch$name[order(num)]
  # the order vignette() shows: by title, in this locale and in C's
  expect_identical(ch$name[order(ch$entry)], reading)
  old <- Sys.getlocale("LC_COLLATE")
  Sys.setlocale("LC_COLLATE", "C")
  c_order <- ch$name[order(ch$entry)]
  Sys.setlocale("LC_COLLATE", old)
  expect_identical(c_order, reading)
  # README's list of chapters
  readme <- readLines(file.path(root, "README.md"))
  start <- grep("^## Vignettes", readme)
  sec <- readme[start:(start + grep("^## ", readme[-(1:start)])[1])]
  items <- grep("^[0-9]+\\. `vignette\\(\"", sec, value = TRUE)
  expect_identical(sub("^[0-9]+\\. `vignette\\(\"([^\"]+)\".*", "\\1", items), reading)
  expect_identical(as.integer(sub("\\..*", "", items)), seq_along(reading))
  # ?initvar's list
  rd <- readLines(file.path(root, "man", "initvar-package.Rd"))
  sec <- rd[grep("section\\{Vignettes, in reading order", rd):length(rd)]
  sec <- sec[seq_len(grep("^\\}", sec)[1])]
  listed <- regmatches(sec, regexpr("vignette\\(\"[^\"]+\"", sec))
  expect_identical(sub("vignette\\(\"", "", sub("\"$", "", listed)), reading)
  # the site's articles index
  yml <- readLines(file.path(root, "_pkgdown.yml"))
  art <- yml[grep("^articles:", yml):length(yml)]
  art <- art[seq_len(c(grep("^[a-z]", art[-1]), length(art))[1])]
  expect_identical(trimws(sub("^\\s*-\\s*", "", grep("^\\s+- [a-z-]+$", art, value = TRUE))),
                   reading)
  # the site's sidebar
  side <- readLines(file.path(root, "pkgdown", "sidebar.html"))
  side <- regmatches(side, regexpr("articles/[a-z-]+\\.html", side))
  expect_identical(sub("articles/(.*)\\.html", "\\1", side), reading)
  # installed with its vignettes: vignette() lists them in reading order
  v <- utils::vignette(package = "initvar")$results
  if (nrow(v)) expect_identical(unname(v[, "Item"]), reading)
})

test_that("?initvar names every export under one of its headings (issue 24, item 5)", {
  rd <- file.path("..", "..", "man", "initvar-package.Rd")
  skip_if_not(file.exists(rd))   # a source checkout only
  text <- paste(readLines(rd), collapse = "\n")
  sections <- substring(text, regexpr("\\\\section\\{", text))
  exports <- getNamespaceExports("initvar")
  exports <- exports[!grepl("^\\.", exports)]
  linked <- vapply(exports, function(e)
    grepl(sprintf("\\link[=%s]{", e), sections, fixed = TRUE) ||
      grepl(sprintf("\\link{%s}", e), sections, fixed = TRUE), TRUE)
  expect_identical(sort(exports[!linked]), character(0))
})

test_that("?predict_variance's width-4 ReLU figure: the fifth layer's gradient is 0.777 of the prediction", {
  skip_unless_full()   # about 15 s: 40,000 networks
  set.seed(12)
  s <- as.data.frame(simulate_network(mlp(rep(4, 7), "relu", init_he()), networks = 40000,
                                      inputs = 16, progress = FALSE))
  r <- s[s$quantity == "grad_s" & s$layer == 5, ]
  expect_lt(r$mcse, 0.004)
  expect_lt(abs(r$estimate / r$prediction - 0.777), 4 * r$mcse)
})

test_that("?predict_variance's width-32 tanh figure: the 1/n correction at layer 10 is about -6%", {
  net <- mlp(rep(32, 11), "tanh", init_glorot("normal"))
  rel <- predict_variance(net, regime = "finite_width")$var_s[10] /
    predict_variance(net, regime = "mean_field")$var_s[10] - 1
  expect_equal(rel, -0.0597, tolerance = 0.005 / 0.0597)
})

test_that("?fans: a packed QKV projection's fan-out is one map's, as its definition says", {
  f <- fans(attention_layer(64, 4))
  expect_equal(f[["fan_out"]], 64)   # one of the three maps, not 3 x 64
  expect_equal(fans(attention_layer(64, 4), convention = "torch")[["fan_out"]], 192)
  rd <- file.path("..", "..", "man", "fans.Rd")
  skip_if_not(file.exists(rd))
  expect_true(any(grepl("within one map", readLines(rd), fixed = TRUE)))
})

test_that("a verification's printout follows getOption(\"width\") (issue 24, item 6)", {
  old <- options(width = 60)
  on.exit(options(old))
  set.seed(1)
  out <- capture.output(print(verify("neuron", n = 1e4)))
  expect_lte(max(nchar(out)), 60)
  expect_true(any(grepl("^  parameters:  fan_in = 100", out)))
  out <- capture.output(print(verify(Var(X + Y) ~ Var(X) + Var(Y), X = function(n) rnorm(n),
                                     Y = function(n) rnorm(n), n = 1e4)))
  expect_lte(max(nchar(out)), 60)
  out <- capture.output(print(verify("product_zero_mean", n = 1e4, drop = "zero_mean")))
  expect_lte(max(nchar(out)), 60)
})

test_that("tools/check-vignette-lines.R flags wide <pre> lines and words drawn letter by letter", {
  script <- file.path("..", "..", "tools", "check-vignette-lines.R")
  skip_if_not(file.exists(script))   # a source checkout only
  run <- function(html) {
    f <- tempfile(fileext = ".html")
    writeLines(html, f)
    out <- suppressWarnings(system2(file.path(R.home("bin"), "Rscript"), c(script, f),
                                    stdout = TRUE, stderr = TRUE))
    list(out = out, status = if (is.null(attr(out, "status"))) 0L else attr(out, "status"))
  }
  upright <- paste0('<math><mrow><mo>Var</mo><mo>(</mo><mi>x</mi><mo>)</mo>',
                    '<mi mathvariant="normal">Cov</mi></mrow></math>')
  good <- run(c("<html><body>", upright, "<pre><code>#&gt; [1] 1</code></pre>", "</body></html>"))
  expect_identical(good$status, 0L)
  wide <- run(c("<pre><code>", strrep("x", 86), "</code></pre>"))
  expect_identical(wide$status, 1L)
  expect_match(paste(wide$out, collapse = " "), "wider than 85")
  # pandoc's \mathrm{Var}: one italic <mi> per letter in Chromium
  italic <- run('<math><mstyle mathvariant="normal"><mi>V</mi><mi>a</mi><mi>r</mi></mstyle></math>')
  expect_identical(italic$status, 1L)
  expect_match(paste(italic$out, collapse = " "), "Var x1")
  # entities count as one character: "&lt;-" is "<-"
  expect_identical(run(c("<pre>", paste(rep("&lt;-", 40), collapse = ""), "</pre>"))$status, 0L)
  # pandoc, where installed: \operatorname{Var} is one upright token
  skip_if(!nzchar(Sys.which("pandoc")))
  md <- tempfile(fileext = ".md")
  writeLines("$\\operatorname{Var}(x) + \\operatorname{Cov}(x, y)$", md)
  html <- system2("pandoc", c("--mathml", md), stdout = TRUE)
  expect_true(any(grepl("<m[io][^>]*>Var</m[io]>", html)))
  expect_identical(run(html)$status, 0L)
})

test_that("the identities' LaTeX writes Var and Cov as operators, upright in MathML", {
  latex <- identities()$latex
  expect_false(any(grepl("\\mathrm{Var}", latex, fixed = TRUE) |
                     grepl("\\mathrm{Cov}", latex, fixed = TRUE)))
  expect_true(any(grepl("\\operatorname{Var}", latex, fixed = TRUE)))
})

test_that("the printouts of the help examples fit in 80 columns (issue 24, second pass)", {
  old <- options(width = 80); on.exit(options(old))
  out <- function(expr) {
    o <- capture.output(r <- withCallingHandlers(expr, message = function(m) {
      cat(conditionMessage(m)); invokeRestart("muffleMessage")
    }))
    o
  }
  tr <- transformer(32, heads = 4, depth = 2, seq_len = 8)
  ed <- transformer(32, 4, depth = 6, decoder_depth = 3, seq_len = 8,
                    architecture = "encoder_decoder",
                    rule = scaling_rule("deepnet", 6, architecture = "encoder_decoder",
                                        decoder_depth = 3))
  cn <- cnn(4, kernel = 3, depth = 3, spatial = c(8, 8), activation = "relu")
  txt <- list(transformer = out(print(tr)), encoder_decoder = out(print(ed)),
              cnn = out(print(cn)),
              regime_message = out(predict_variance(transformer(32, heads = 4, depth = 12,
                                                                seq_len = 8),
                                                    regime = "mean_field")))
  set.seed(1)
  txt$jacobian <- out(print(jacobian_spectrum(mlp(rep(32, 4), "linear", init_lecun()), networks = 50)))
  for (nm in names(txt)) expect_lte(max(nchar(txt[[nm]])), 80, label = nm)
  # the message is still there, wrapped, not dropped
  expect_match(paste(txt$regime_message, collapse = " "), "outside the regime")
  expect_match(paste(txt$encoder_decoder, collapse = " "), "alpha = 1.732")
})

test_that("transformer(): heads that do not divide d_model are blamed, not d_k (issue 24, second pass)", {
  expect_error(transformer(32, heads = 5, depth = 2, seq_len = 8),
               "`heads` must divide `d_model` (32) when `d_k` is not given (d_k = d_model / heads = 6.4), not 5",
               fixed = TRUE)
  e <- tryCatch(transformer(32, heads = 5, depth = 2, seq_len = 8), error = identity)
  expect_identical(deparse(conditionCall(e)[[1]]), "transformer")
  expect_s3_class(transformer(32, heads = 5, d_k = 8, depth = 1, seq_len = 4), "initvar_transformer")
})

test_that("coordinate_check() without its arguments, and mlp() with too many activations, say so plainly (issue 24, second pass)", {
  expect_error(coordinate_check(widths = c(8, 16, 32), layer = 1), "`net_fun` is missing", class = "initvar_error")
  expect_error(coordinate_check(function(n) mlp(c(4, n, 1), "relu"), layer = 1), "`widths` is missing",
               class = "initvar_error")
  expect_error(coordinate_check(function(n) mlp(c(4, n, 1), "relu"), c(8, 16, 32)), "`layer` is missing",
               class = "initvar_error")
  expect_error(mlp(c(10, 10, 10), c("tanh", "tanh", "tanh")),
               "one per layer (2), not a vector of length 3", fixed = TRUE)
  expect_error(mlp(c(10, 10, 10), list("tanh", "tanh", "tanh")),
               "one per layer (2), not a list of length 3", fixed = TRUE)
})

test_that("?initvar's six map headings are whole (a colon in a roxygen @section title cut two of them)", {
  rd <- file.path("..", "..", "man", "initvar-package.Rd")
  skip_if_not(file.exists(rd))   # a source checkout only
  titles <- regmatches(readLines(rd), regexpr("(?<=^\\\\section\\{)[^}]*", readLines(rd), perl = TRUE))
  expect_identical(sum(grepl("[1-6] of 6\\)$", titles)), 6L)
})

test_that("errors describe a matrix as a matrix, and a fan-dependent scheme in verify() reads in order (issue 24, second pass)", {
  expect_error(read_weights(matrix(1:4, 2)), "not a 2 x 2 integer matrix.", fixed = TRUE)
  expect_error(verify(Var(X) ~ 1, X = init_glorot(), n = 1e4),
               "or a function of n, not \"Glorot (Xavier) uniform\": a scheme that depends on the layer size",
               fixed = TRUE)
})
