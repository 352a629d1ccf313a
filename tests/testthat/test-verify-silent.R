# Issue 21, "No silent wrong answers": reproducers for verify() with
# formulas, `draw =` and new_identity(). Each test fails on the code before
# the fix (a wrong number returned without complaint, a lost partial result,
# an unclear error, or an object accepted that breaks later).

# An error of class initvar_error, raised naming the user's function.
expect_user_error <- function(expr, regexp, fn = "verify") {
  e <- tryCatch({ expr; NULL }, error = identity)
  expect_s3_class(e, "initvar_error")
  if (inherits(e, "error")) {
    expect_match(conditionMessage(e), regexp)
    expect_identical(deparse(conditionCall(e)[[1]]), fn)
  }
  invisible(e)
}

# ---- 1. expressions must be elementwise -------------------------------------

test_that("reductions inside E() are errors naming them and the elementwise form", {
  # before: 3.708 (MCSE 0.001), 8057, and a true identity rejected at z ~ 110
  set.seed(2101)
  expect_user_error(verify(E(max(X, 0)) ~ 1 / sqrt(2 * pi), X = init_normal(), n = 1e5),
                    "`max\\(X, 0\\)` calls max\\(\\), which is not elementwise.*pmax\\(\\)")
  expect_user_error(verify(E(sum(X^2)) ~ 1, X = init_normal(), n = 1e5),
                    "calls sum\\(\\).*drop sum\\(\\)")
  expect_user_error(verify(E(mean(X)) ~ 0, X = init_normal(), n = 1e5),
                    "calls mean\\(\\).*Use E\\(\\)")
  expect_user_error(verify(Var(cumsum(X)) ~ 1, X = init_normal(), n = 1e4), "cumsum\\(\\)")
  expect_user_error(verify(Cov(sort(X), X) ~ 1, X = init_normal(), n = 1e4), "sort\\(\\)")
  expect_user_error(verify(E(rev(X) * X) ~ 0, X = init_normal(), n = 1e4), "rev\\(\\)")
  expect_user_error(verify(E(X - min(X)) ~ 0, X = init_normal(), n = 1e4), "pmin\\(\\)")
  expect_user_error(verify(E(X * rnorm(length(X))) ~ 0, X = init_normal(), n = 1e4),
                    "rnorm\\(\\), which draws random numbers")
  # the elementwise form gives the right answer: E(max(X, 0)) = 1 / sqrt(2 pi)
  set.seed(2102)
  v <- verify(E(pmax(X, 0)) ~ 1 / sqrt(2 * pi), X = init_normal(), n = 1e5)
  expect_true(v$consistent)
  expect_lt(abs(v$lhs - 1 / sqrt(2 * pi)), 5 * v$mcse)
})

test_that("a user's function that is not elementwise is caught by evaluating it again", {
  centre <- function(x) x - mean(x)          # same length, depends on the other draws
  running <- function(x) cumsum(x)            # order-dependent
  backwards <- function(x) rev(x)             # a permutation
  position <- function(x) x * seq_along(x)    # depends on the draw's position
  one <- function(x) max(x)                   # a reduction, hidden in a function
  set.seed(2103)
  for (f in c("centre", "running", "backwards", "position")) {
    formula <- eval(bquote(E(.(as.name(f))(X)) ~ 0))
    expect_user_error(verify(formula, X = init_normal(), n = 1e4),
                      sprintf("`%s\\(X\\)` is not elementwise: its value for a draw depends", f))
  }
  expect_user_error(verify(E(one(X)) ~ 0, X = init_normal(), n = 1e4),
                    "`one\\(X\\)` reduces the 8192 draws of a chunk to one number")
  expect_user_error(verify(E(X[-1]) ~ 0, X = init_normal(), n = 1e4),
                    "gave 8191 values")
  # draw = and new_identity() go through the same check
  expect_user_error(verify(E(centre(X)) ~ 0, draw = function(n) cbind(X = rnorm(n)), n = 1e4),
                    "`centre\\(X\\)` is not elementwise")
  id <- new_identity("silent_centre", E(centre(X)) ~ 0, variables = list(X = function(n) rnorm(n)))
  expect_user_error(verify(id, n = 1e4), "`centre\\(X\\)` is not elementwise")
})

test_that("elementwise expressions pass the check, constants stay constants", {
  # a user's own elementwise `max` shadows base::max and is not flagged
  max <- function(x, y) pmax(x, y)
  square <- function(x) x^2
  set.seed(2104)
  v <- verify(E(max(X, 0)) ~ 1 / sqrt(2 * pi), X = init_normal(), n = 1e5)
  expect_lt(abs(v$lhs - 1 / sqrt(2 * pi)), 5 * v$mcse)
  set.seed(2105)
  v <- verify(E(square(X) + a) ~ 1 + a, X = init_normal(), a = 2, n = 1e5)
  expect_true(v$consistent)
  expect_lt(abs(v$lhs - 3), 5 * v$mcse)
  # a function defined in the expression is judged by what it does, not by
  # the names in its body
  set.seed(2108)
  v <- verify(E(vapply(X, function(x) max(x, 0), 0)) ~ 1 / sqrt(2 * pi), X = init_normal(), n = 1e4)
  expect_lt(abs(v$lhs - 1 / sqrt(2 * pi)), 5 * v$mcse)
  # a logical expression is a probability
  set.seed(2106)
  v <- verify(E(X > 0) ~ 0.5, X = init_normal(), n = 1e5)
  expect_lt(abs(v$lhs - 0.5), 5 * v$mcse)
  expect_equal(v$mcse, 0.5 / sqrt(1e5), tolerance = 0.01)
  # an expression of constants only is one number, recycled
  set.seed(2107)
  v <- verify(E(X + a) ~ E(a) + E(X), X = init_normal(), a = 3, n = 1e4)
  expect_true(v$exact)
})

# ---- 2. functions of any package and the user's own ----------------------------

user_square_global <- function(x) x^2

test_that("formulas call functions of stats and the user's own, global or local", {
  set.seed(2111)
  v <- verify(E(pnorm(X)) ~ 0.5, X = init_normal(), n = 1e4)   # before: could not find "pnorm"
  expect_lt(abs(v$lhs - 0.5), 5 * v$mcse)
  set.seed(2112)
  v <- verify(E(plogis(X)) ~ 0.5, X = init_normal(), n = 1e4)
  expect_lt(abs(v$lhs - 0.5), 5 * v$mcse)
  # on the right side as well: E(Phi(X)) = 1/2 for a symmetric X
  set.seed(2113)
  v <- verify(E(pnorm(X)) ~ pnorm(0), X = init_normal(), n = 1e4)
  expect_equal(v$rhs, 0.5)
  expect_true(v$consistent)
  # a global function (defined at the test file's top level)
  set.seed(2114)
  v <- verify(E(user_square_global(X)) ~ 1, X = init_normal(), n = 1e5)
  expect_lt(abs(v$lhs - 1), 5 * v$mcse)
  # a local function, defined inside a function that calls verify()
  check_local <- function(s) {
    local_square <- function(x) (s * x)^2
    verify(E(local_square(X)) ~ s^2, X = init_normal(), n = 1e5, params = list(s = s))
  }
  set.seed(2115)
  v <- check_local(3)
  expect_lt(abs(v$lhs - 9), 5 * v$mcse)
  # the variables mask objects of the same name in the formula's environment
  X <- function(x) stop("not this X")
  set.seed(2116)
  v <- verify(E(X) ~ 0, X = init_normal(), n = 1e4)
  expect_lt(abs(v$lhs), 5 * v$mcse)
  # and new_identity() keeps its formula's environment
  make <- function() {
    shifted <- function(x) x + 1
    new_identity("silent_local", E(shifted(X)) ~ 1, variables = list(X = function(n) rnorm(n)))
  }
  set.seed(2117)
  v <- verify(make(), n = 1e4)
  expect_lt(abs(v$lhs - 1), 5 * v$mcse)
  # a function that does not exist: a clear error naming it, before any draw
  expect_user_error(verify(E(no_such_function(X)) ~ 0, X = init_normal(), n = 1e4),
                    "calls `no_such_function\\(\\)`, but no function of that name is found")
})

# ---- 3. Ctrl-C keeps the finished chunks ----------------------------------------

# A variable, or a draw function, that raises a real interrupt (SIGINT to
# this process, honoured in Sys.sleep()) on its `at`-th chunk of draws: the
# chunks before are finished. Pilot calls with n = 2 (the column probe of
# `draw`) are not counted.
interrupting <- function(at, gen) {
  k <- 0
  function(n) {
    if (n > 2) {
      k <<- k + 1
      if (k == at) {
        tools::pskill(Sys.getpid(), tools::SIGINT)
        Sys.sleep(5)
      }
    }
    gen(n)
  }
}
chunk <- 8192

test_that("an interrupted formula keeps its finished chunks in e$partial and last_partial()", {
  skip_on_os("windows")
  set.seed(2121)
  ref <- verify(Var(X) ~ 1, X = function(n) rexp(n), n = 2 * chunk)
  set.seed(2121)
  e <- tryCatch(verify(Var(X) ~ 1, X = interrupting(3, function(n) rexp(n)), n = 1e6),
                interrupt = function(e) e)
  expect_s3_class(e, "initvar_interrupt")
  expect_s3_class(e, "interrupt")
  v <- e$partial
  expect_s3_class(v, "initvar_verification")
  expect_equal(v$n, 2 * chunk)
  expect_identical(last_partial(), v)
  # the same draws as an uninterrupted run of the two chunks
  expect_equal(v$lhs, ref$lhs, tolerance = 1e-12)
  expect_equal(v$mcse, ref$mcse, tolerance = 1e-12)
  expect_identical(RNGkind()[1], "Mersenne-Twister")   # the caller's RNG is restored
})

test_that("an interrupted draw = verification keeps its finished chunks", {
  skip_on_os("windows")
  gen <- function(n) { x <- rnorm(n); cbind(X = x, Y = x + rnorm(n)) }
  set.seed(2122)
  ref <- verify(Var(X + Y) ~ Var(X) + Var(Y) + 2 * Cov(X, Y), draw = gen, n = 3 * chunk)
  set.seed(2122)
  e <- tryCatch(verify(Var(X + Y) ~ Var(X) + Var(Y) + 2 * Cov(X, Y), draw = interrupting(4, gen),
                       n = 1e6),
                interrupt = function(e) e)
  expect_s3_class(e, "initvar_interrupt")
  expect_equal(e$partial$n, 3 * chunk)
  expect_identical(last_partial(), e$partial)
  expect_equal(e$partial$lhs, ref$lhs, tolerance = 1e-12)
})

test_that("an interrupted new_identity() verification keeps its finished chunks", {
  skip_on_os("windows")
  make <- function(gen) new_identity("silent_interrupt", Var(2 * X) ~ 4 * Var(X),
                                     variables = list(X = gen))
  set.seed(2123)
  ref <- verify(make(function(n) runif(n)), n = 2 * chunk)
  set.seed(2123)
  e <- tryCatch(verify(make(interrupting(3, function(n) runif(n))), n = 1e6),
                interrupt = function(e) e)
  expect_s3_class(e, "initvar_interrupt")
  expect_identical(e$partial$id, "silent_interrupt")
  expect_equal(e$partial$n, 2 * chunk)
  expect_identical(last_partial(), e$partial)
  expect_equal(e$partial$lhs, ref$lhs, tolerance = 1e-12)
})

test_that("an interrupt before the first chunk finished says so, with no partial result", {
  skip_on_os("windows")
  set.seed(2124)
  e <- tryCatch(verify(Var(X) ~ 1, X = interrupting(1, function(n) rnorm(n)), n = 1e6),
                interrupt = function(e) e)
  expect_s3_class(e, "initvar_interrupt")
  expect_null(e$partial)
  expect_null(last_partial())
  expect_match(conditionMessage(e), "before the first chunk of 8,192 draws was finished")
})

# ---- 5. no silent accepts ------------------------------------------------------

test_that("register_identity() refuses forged identities and a non-flag overwrite", {
  forged <- structure(list(), class = "initvar_identity")
  expect_user_error(register_identity(forged), "`identity` must be an identity made by `new_identity\\(\\)`",
                    "register_identity")
  expect_s3_class(identities(), "data.frame")   # before: identities() broke for the session
  ok <- new_identity("silent_ok", Var(X) ~ 1, variables = list(X = function(n) rnorm(n)))
  bad <- ok
  bad$formula <- 3
  expect_user_error(register_identity(bad), "`identity` is not a valid identity: `formula`",
                    "register_identity")
  bad <- ok
  bad$statement <- NULL
  expect_user_error(register_identity(bad), "without `statement`", "register_identity")
  bad <- ok
  bad$variables <- list(X = 3)
  expect_user_error(register_identity(bad), "`variables\\$X`", "register_identity")
  bad <- ok
  bad$extra <- 1
  expect_user_error(register_identity(bad), "unknown field `extra`", "register_identity")
  expect_user_error(register_identity(ok, overwrite = NA), "`overwrite` must be TRUE or FALSE, not NA",
                    "register_identity")
  expect_user_error(register_identity(ok, overwrite = "yes"), "`overwrite` must be TRUE or FALSE",
                    "register_identity")
  expect_false("silent_ok" %in% identities()$id)
  register_identity(ok, overwrite = TRUE)
  on.exit(rm("silent_ok", envir = initvar:::identity_registry), add = TRUE)
  expect_true("silent_ok" %in% identities()$id)
})

test_that("new_identity() refuses identities that verify() could never check", {
  X <- function(n) rnorm(n)
  expect_user_error(new_identity("s", Var(X + Y) ~ 1, variables = list(X = X)),
                    "`Y` is used in the formula but not given: give it in `variables`", "new_identity")
  expect_user_error(new_identity("s", Var(a * X) ~ a, variables = list(X = X)),
                    "`a` is used in the formula but not given", "new_identity")
  expect_user_error(new_identity("s", 1 ~ 1, variables = list(X = X)), "no E\\(\\), Var\\(\\) or Cov\\(\\)",
                    "new_identity")
  expect_user_error(new_identity("s", Var(X) ~ E(X) + X, variables = list(X = X)),
                    "`X` appears outside E\\(\\)", "new_identity")
  expect_user_error(new_identity("s", Var(a) ~ 1, params = list(a = 1)),
                    "involve no random variable", "new_identity")
  expect_user_error(new_identity("s", Var(X) ~ a, variables = list(X = X), params = list(a = NA)),
                    "`params\\$a` must be a finite number", "new_identity")
  expect_user_error(new_identity("s", Var(X) ~ 1, variables = list(X = X), params = list(X = 2)),
                    "`X` is both a variable in `variables` and a constant in `params`", "new_identity")
  expect_user_error(new_identity("s", Var(X) ~ 1, variables = list(X = X),
                                 draw = function(n) cbind(X = rnorm(n))),
                    "`X` is both a variable in `variables` and a column of `draw`", "new_identity")
  expect_user_error(new_identity("s", Var(X) ~ 1, draw = function(n) rnorm(n)),
                    "`draw` must return a numeric matrix with named columns", "new_identity")
  expect_user_error(new_identity("s", Var(X) ~ 1, variables = list(X = init_glorot())),
                    "`variables\\$X` must be an elementwise distribution", "new_identity")
  expect_user_error(new_identity("s", Var(X) ~ "a", variables = list(X = X)),
                    "the right side of the formula, `\"a\"`, must be one number", "new_identity")
  # counterexamples and their general formulas
  expect_user_error(new_identity("s", Var(X) ~ 1, variables = list(X = X),
                                 drops = list(d = function(n) cbind(X = rexp(n))),
                                 general = list(d = ~ Var(Z))),
                    "`Z` is used in the formula but not given.*column of `drops\\$d`", "new_identity")
  expect_user_error(new_identity("s", Var(X) ~ 1, variables = list(X = X),
                                 drops = list(d = function(n) cbind(X = rexp(n))),
                                 general = list(d = Var(X) ~ 1)),
                    "`general\\$d` must be a one-sided formula", "new_identity")
  expect_user_error(new_identity("s", Var(X) ~ 1, variables = list(X = X), drops = list(d = list(X = 3))),
                    "`drops\\$d\\$X` must be a function of n", "new_identity")
  expect_user_error(new_identity("s", Var(X) ~ 1, variables = list(X = X), latex = 3),
                    "`latex` must be NULL or a single string", "new_identity")
  # an identity that can be checked is still made
  expect_s3_class(new_identity("s", Var(X + Y) ~ Var(X) + Var(Y), variables = list(X = X, Y = X),
                               drops = list(d = function(n) { x <- rnorm(n); cbind(X = x, Y = x) }),
                               general = list(d = ~ Var(X) + Var(Y) + 2 * Cov(X, Y))),
                  "initvar_identity")
})

test_that("verify() refuses clashing names instead of settling them silently", {
  X <- function(n) rnorm(n)
  # before: the variable X silently won over the column X of draw
  expect_user_error(verify(Var(X) ~ 1, X = X, draw = function(n) cbind(X = rexp(n)), n = 1e4),
                    "`X` is both a random variable in `...` and a column of `draw`")
  expect_user_error(verify(Var(a * X) ~ a^2, draw = function(n) cbind(X = rexp(n), a = 1), a = 2, n = 1e4),
                    "`a` is both a constant and a column of `draw`")
  # before: params silently lost to a variable of the same name
  expect_user_error(verify(Var(a * X) ~ 1, X = X, a = init_normal(), params = list(a = 2), n = 1e4),
                    "`a` is given both in `...` and in `params`")
  expect_user_error(verify(Var(X) ~ 1, X = X, X = function(n) runif(n), n = 1e4),
                    "`X` is given twice in `...`")
  expect_user_error(verify(Var(X) ~ 1, draw = function(n) cbind(X = rnorm(n), X = rnorm(n)), n = 1e4),
                    "`X` is a column twice")
  # an identity's own variables and parameters are overridden by name, on purpose
  id <- new_identity("s", Var(a * X) ~ a^2 * Var(X), variables = list(X = X), params = list(a = 2))
  set.seed(2131)
  expect_identical(verify(id, a = 3, n = 1e4)$params$a, 3)
  set.seed(2132)
  expect_identical(verify(id, params = list(a = 4), n = 1e4)$params$a, 4)
})

test_that("verify_all() refuses an identity given twice", {
  # before: run twice and counted twice by Holm
  expect_user_error(verify_all(n = 1e4, ids = c("neuron", "neuron")),
                    "`ids` must name each identity once: \"neuron\" is given 2 times", "verify_all")
  expect_user_error(verify_all(n = 1e4, ids = c("neuron", "neur")), "\"neuron\" is given 2 times",
                    "verify_all")
  id <- new_identity("silent_twice", Var(X) ~ 1, variables = list(X = function(n) rnorm(n)))
  expect_user_error(verify_all(n = 1e4, ids = list(id, id)), "\"silent_twice\" is given 2 times",
                    "verify_all")
})

# ---- 6. clear errors -----------------------------------------------------------

test_that("a right side that is not one finite number is an error naming it", {
  X <- init_normal()
  # before: "missing value where TRUE/FALSE needed"
  expect_user_error(verify(E(X) ~ NA, X = X, n = 1e4), "right side of the formula, `NA`, must be a finite number")
  expect_user_error(verify(E(X) ~ Inf, X = X, n = 1e4), "must be a finite number, not Inf")
  expect_user_error(suppressWarnings(verify(E(X) ~ log(-1), X = X, n = 1e4)), "`log\\(-1\\)`.*not NaN")
  # before: "the condition has length > 1"
  expect_user_error(verify(E(X) ~ c(1, 2), X = X, n = 1e4),
                    "`c\\(1, 2\\)`, must be one number, not a numeric vector of length 2")
  # before: "non-numeric argument to binary operator"
  expect_user_error(verify(E(X) ~ "a", X = X, n = 1e4), "must be one number, not \"a\"")
  expect_user_error(verify(E(X) ~ 1 + "a", X = X, n = 1e4), "cannot be evaluated: non-numeric")
  # a theoretical variance, or an estimated one, beyond double precision
  expect_user_error(verify(Var(X) ~ 1e300 * 1e300, X = X, n = 1e4), "not Inf.*double precision")
  expect_user_error(verify(Var(1e300 * X) ~ 1e300^2 * Var(X), X = X, n = 1e4),
                    "left side of the formula, `Var\\(1e\\+300 \\* X\\)`, must be a finite number")
})

test_that("an expression of moments without `~` says what a formula needs", {
  # before: could not find function "Var"
  expect_user_error(verify(Var(X), X = init_normal(), n = 1e4),
                    "`id` must be a formula `left ~ theoretical value` such as `Var\\(X\\) ~ 1`")
  expect_user_error(verify(E(X) == 0, X = init_normal(), n = 1e4), "`id` must be a formula `left ~")
  expect_user_error(verify(Var(X) + Var(Y), X = init_normal(), Y = init_normal(), n = 1e4),
                    "not the expression `Var\\(X\\) \\+ Var\\(Y\\)`")
})

test_that("formulas of 150 terms work, and far larger ones are refused clearly", {
  set.seed(2141)
  # before: C stack usage too close to the limit
  f <- eval(parse(text = paste(paste(rep("E(X)", 150), collapse = " + "), "~ 150 * E(X)"))[[1]])
  v <- verify(f, X = init_normal(), n = 1e4)
  expect_true(v$exact)
  expect_equal(v$lhs, v$rhs)
  g <- eval(parse(text = paste0("E(", paste(rep("X", 150), collapse = " + "), ") ~ 150 * E(X)"))[[1]])
  expect_true(verify(g, X = init_normal(), n = 1e4)$exact)
  h <- eval(parse(text = paste(paste0("Var(", 1:150, " * X)", collapse = " + "), "~",
                               sum((1:150)^2), "* Var(X)"))[[1]])
  v <- verify(h, X = init_normal(), n = 1e4)
  expect_true(v$exact)
  expect_equal(v$lhs / v$rhs, 1)
  # 1,500 terms still work (about 20 s: the full tier)
  if (test_tier() == "full") {
    f <- eval(parse(text = paste(paste(rep("E(X)", 1500), collapse = " + "), "~ 1500 * E(X)"))[[1]])
    expect_true(verify(f, X = init_normal(), n = 1e4)$exact)
  }
  huge <- eval(parse(text = paste(paste(rep("E(X)", 2500), collapse = " + "), "~ 0"))[[1]])
  expect_user_error(verify(huge, X = init_normal(), n = 1e4),
                    "left side of the formula nests calls more than 2,000 deep")
  expect_user_error(verify(huge[c(1, 3, 2)], X = init_normal(), n = 1e4),
                    "right side of the formula nests calls more than 2,000 deep")
  group <- paste0("(", paste(rep("E(X)", 300), collapse = " + "), ")")
  wide <- eval(parse(text = paste("E(X) ~", paste(rep(group, 40), collapse = " + ")))[[1]])
  expect_user_error(verify(wide, X = init_normal(), n = 1e4),
                    "right side of the formula has more than 10,000 calls")
  # an error about a long side quotes its beginning only
  long <- eval(parse(text = paste("E(X) ~", paste(rep("1", 300), collapse = " + "), "+ NA"))[[1]])
  e <- expect_user_error(verify(long, X = init_normal(), n = 1e4), "must be a finite number, not NA")
  expect_lt(nchar(conditionMessage(e)), 300)
})
