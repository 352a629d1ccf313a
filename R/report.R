#' Compare initialization schemes: exact variance against simulation
#'
#' Draws `reps` independent weight matrices from each scheme and compares
#' the exact variance of an entry ([weight_variance()]) with its Monte Carlo
#' estimate.
#'
#' The estimate for one matrix is the mean of \eqn{(W_{ij} - \mu)^2} over its
#' entries, with \eqn{\mu} the exact mean ([weight_mean()]); it is unbiased
#' for the variance for every scheme, including those whose entries are not
#' independent (orthogonal, sparse). Because the entries of one matrix can be
#' dependent, the matrix is the unit of replication: the reported estimate is
#' the mean of the `reps` per-matrix values and its Monte Carlo standard
#' error (MCSE) is their standard deviation over \eqn{\sqrt{reps}}. An
#' orthogonal matrix has fixed column norms, so its per-matrix value hardly
#' varies and its MCSE is tiny; the identity is not random and has MCSE 0.
#'
#' @inheritParams weight_variance
#' @param schemes A named list of schemes; the default covers every scheme
#'   of the package, with the framework conventions of "normal".
#' @param reps Number of independent matrices per scheme (at least 2).
#' @param level Confidence level of the agreement check.
#' @param threads Number of threads; see [initvar_threads()].
#' @param progress Show a progress bar (cli) over the schemes.
#' @return A data frame of class `initvar_scheme_comparison`, one row per
#'   scheme: `scheme`, `exact` (variance), `estimate`, `mcse`, `z`
#'   (`(estimate - exact) / mcse`), `lower` and `upper` (confidence interval
#'   at `level`, Student's t with `reps - 1` degrees of freedom), `p_value`
#'   and `agrees` (the two-sided t test at `level`; with an MCSE of 0, the
#'   estimate must equal the exact value to 1e-12 relative).
#' @examples
#' set.seed(1)
#' compare_schemes(200, 100, reps = 5)
#' @export
compare_schemes <- function(fan_in = 512, fan_out = fan_in,
                            schemes = default_schemes(), reps = 10,
                            level = 0.99, threads = initvar_threads(),
                            progress = interactive()) {
  check_whole(fan_in, "fan_in")
  check_whole(fan_out, "fan_out")
  check_whole(reps, "reps", min = 2, max = 1e6)
  check_number(level, min = 0, max = 1, min_open = TRUE, max_open = TRUE)
  if (!is.list(schemes) || length(schemes) == 0 ||
      !all(vapply(schemes, inherits, logical(1), "initvar_scheme"))) {
    abort_arg("schemes", "a non-empty list of initialization schemes", schemes)
  }
  if (is.null(names(schemes))) {
    names(schemes) <- vapply(schemes, function(s) s$label, "")
  }
  bar <- progress_bar(progress, length(schemes), "compare_schemes")
  rows <- lapply(names(schemes), function(nm) {
    on.exit(progress_set(bar, match(nm, names(schemes))))
    s <- schemes[[nm]]
    mu <- weight_mean(s, fan_in, fan_out)
    exact <- weight_variance(s, fan_in, fan_out)
    per <- vapply(seq_len(reps), function(i) {
      mean((sample_weights(s, fan_in, fan_out, threads = threads) - mu)^2)
    }, numeric(1))
    est <- mean(per)
    mcse <- stats::sd(per) / sqrt(reps)
    # no Monte Carlo error beyond rounding (identity, orthogonal): report 0
    if (mcse <= 1e-10 * abs(exact)) mcse <- 0
    # matrices are the replicates: Student's t with reps - 1 df
    ag <- agreement(est, mcse, exact, df = reps - 1, level = level)
    data.frame(scheme = nm, exact = exact, estimate = est, mcse = mcse,
               z = if (mcse > 0) ag$z else NA_real_,
               lower = ag$lower, upper = ag$upper, p_value = ag$p_value,
               agrees = ag$consistent, stringsAsFactors = FALSE)
  })
  out <- do.call(rbind, rows)
  attr(out, "fan_in") <- fan_in
  attr(out, "fan_out") <- fan_out
  attr(out, "reps") <- reps
  attr(out, "level") <- level
  class(out) <- c("initvar_scheme_comparison", "data.frame")
  out
}

#' @rdname compare_schemes
#' @export
default_schemes <- function() {
  list(
    "glorot uniform" = init_glorot("uniform"),
    "glorot normal (torch)" = init_glorot("normal", convention = "torch"),
    "glorot normal (keras, jax)" = init_glorot("normal", convention = "keras"),
    "glorot normal (tfjs)" = init_glorot("normal", convention = "tfjs"),
    "glorot standard, eq. 1" = init_glorot_standard(),
    "he normal" = init_he("normal"),
    "he uniform" = init_he("uniform"),
    "lecun normal" = init_lecun("normal"),
    "torch nn.Linear default" = init_torch_default(),
    "variance scaling, fan_geo_avg" = init_variance_scaling(1, "fan_geo_avg", "normal"),
    "orthogonal" = init_orthogonal(),
    "sparse 0.9, sd 0.01" = init_sparse(0.9, 0.01),
    "identity" = init_identity()
  )
}

#' @export
print.initvar_scheme_comparison <- function(x, digits = 4, ...) {
  cat(sprintf("Weight variance for a %g x %g layer: exact against %d simulated matrices\n",
              attr(x, "fan_in"), attr(x, "fan_out"), attr(x, "reps")))
  cat(sprintf("(MCSE from between-matrix spread; agreement at level %g)\n\n",
              attr(x, "level")))
  df <- data.frame(
    scheme = x$scheme,
    exact = formatC(x$exact, digits = digits, format = "g"),
    estimate = formatC(x$estimate, digits = digits, format = "g"),
    mcse = formatC(x$mcse, digits = 2, format = "g"),
    z = ifelse(is.na(x$z), "-", formatC(x$z, digits = 2, format = "f")),
    agrees = ifelse(x$agrees, "yes", "NO"),
    stringsAsFactors = FALSE)
  print(df, right = FALSE, row.names = FALSE)
  invisible(x)
}

#' Glorot and Bengio's experiment at initialization: prediction against simulation
#'
#' The package's main job. Simulates the network of Glorot and Bengio (2010)
#' at initialization, five hidden tanh layers of 1000 units and a softmax
#' output over 10 classes, under their "standard" initialization (eq. 1,
#' \eqn{U[-1/\sqrt{n}, 1/\sqrt{n}]}) and their normalized initialization (eq.
#' 16, \eqn{U[-\sqrt{6}/\sqrt{n_i + n_{i+1}}, \sqrt{6}/\sqrt{n_i + n_{i+1}}]}),
#' prints per layer the variance of the activations, of the back-propagated
#' gradients and of the weight gradients, predicted (mean-field, and
#' Glorot's linear regime) and simulated with its Monte Carlo standard error,
#' and writes a figure: variance against layer, and the normalized
#' histograms of their figures 6, 7 and 8 (hidden layers).
#'
#' @section The columns:
#' * `layer`: layer \eqn{i} holds \eqn{W^{i-1}} and outputs \eqn{z^i =
#'   f(s^{i-1})}; layers 1 to `depth` are the hidden tanh layers, "Layer 1"
#'   to "Layer 5" of the paper's figures 6-8, and the last is the softmax
#'   output. `paper` names the quantity in the paper's notation (\eqn{z^i},
#'   \eqn{\partial C / \partial s^{i-1}}, \eqn{\partial C / \partial
#'   W^{i-1}}).
#' * `linear`: Glorot and Bengio's linear-regime prediction, their eqs. 5-7
#'   (tanh treated as the identity, \eqn{f'(0) = 1}).
#' * `mean_field`: the prediction that is exact for an infinitely wide
#'   network ([predict_variance()] with `regime = "mean_field"`), which
#'   follows tanh's curvature.
#' * `finite_width`: the mean field plus its leading \eqn{1/n} correction
#'   ([predict_variance()] with `regime = "finite_width"`, Gaussian inputs);
#'   the verdicts use it. The gradients' rows equal `mean_field`: with
#'   uniform weights and a softmax output gradient the gradient correction
#'   of [predict_variance()] does not apply.
#' * `estimate`, `mcse`, `lower`, `upper`: the simulated variance, its Monte
#'   Carlo standard error (networks are the replicates) and its `level`
#'   confidence interval (log scale, as [simulate_network()]); `z` the
#'   log-scale statistic against `finite_width`, `p` its two-sided p-value
#'   (t with `networks - 1` degrees of freedom), `agrees` and `verdict` the
#'   test at level 0.99 (`NA` where too few networks were run for a
#'   calibrated interval; `networks_needed` then says how many would give
#'   one, and the printout marks the row "-" and says so below the tables);
#'   `z_mean_field` and `agrees_mean_field` the same
#'   against the mean field.
#' * `p_holm`, `agrees_holm`: Holm's adjustment of `p` over all the rows
#'   with a verdict, and whether the row is consistent after it at `level`.
#'   The family-wise verdict (`family` in the result, printed below the
#'   tables) is "consistent" when no row is flagged after the adjustment: a
#'   correct prediction is flagged in at most 1 run in 100 at level 0.99,
#'   where about one row in 100 is flagged one by one.
#'
#' @section The mean-field gap at width 1000: the pre-activations of a
#'   finite network are not exactly Gaussian: the squared norm of each
#'   layer's input fluctuates by \eqn{O(1/\sqrt{n})} over networks (and the
#'   random input's own norm by \eqn{\sqrt{2/n_0}}), and tanh's
#'   \eqn{E[f(s)^2]} is concave in the variance, so the mean over networks
#'   of \eqn{E[z^2]} sits below its mean-field value by a relative
#'   \eqn{O(1/n)} amount: 0.016-0.05\% here (about 6\% at layer 10 of a
#'   32-wide stack: [predict_variance()]'s last example computes it), 0.2-0.4 of the MCSE of 20 networks. Over 20 seeds the
#'   mean of the tanh rows' `z_mean_field` is -0.4 to 0.2: a run where all
#'   of them sit near -2 is mostly chance (the layers share their networks,
#'   so their z move together). The finite-width column predicts the gap;
#'   with 20 seeds the family-wise verdict was "consistent" in all 20.
#'
#' @section Why the normalized gradients fall though eq. 6 is flat:
#' With \eqn{n \, Var(W) = 1} in every hidden layer, eq. 6 predicts the same
#' \eqn{Var(\partial C / \partial s)} in every layer. But each tanh layer
#' multiplies the back-propagated variance by \eqn{E[\tanh'(s)^2] < 1}, not
#' by the \eqn{f'(0)^2 = 1} of the linear regime; with unit-variance inputs
#' this factor is about 0.46 in the first layer and 0.82 in the fifth, so from the top hidden layer
#' down to the first the gradient variance falls about 6-fold (145-fold
#' under the standard initialization, whose \eqn{n Var(W) = 1/3} adds a
#' factor 3 per layer). The report prints these factors, computed from the
#' run.
#'
#' The inputs are standard normal (the paper's were images); the output
#' gradient is that of the softmax cross-entropy on uniformly random labels.
#'
#' @param networks Independent networks per initialization.
#' @param inputs Inputs per network.
#' @param width,depth Hidden width and number of hidden layers (the input has
#'   `width` features).
#' @param file Where to write the figure (`.png` or `.pdf`).
#' @param level Confidence level of the agreement column.
#' @param threads Number of threads; see [initvar_threads()].
#' @param quiet Print nothing.
#' @return Invisibly, a list: `table` (data frame, columns as above),
#'   `family` (the family-wise verdict: "consistent", "not consistent" or
#'   "no verdict"), the
#'   two simulations `standard` and `normalized` ([simulate_network()]),
#'   `gradient_ratio` (for each initialization, the simulated
#'   \eqn{Var(\partial C / \partial s)} of the top hidden layer over that of
#'   the first) and `file`, the path of the figure.
#' @param progress Show progress bars (cli); never when `quiet`.
#' @examples
#' \donttest{
#' set.seed(1)
#' # 40 networks: enough for a calibrated interval at every row (fewer
#' # leave rows without a verdict, and the printout says how many are needed)
#' res <- glorot_report(networks = 40, inputs = 20, width = 100)
#' res$gradient_ratio
#' res$file
#' }
#' @export
glorot_report <- function(networks = 20, inputs = 100, width = 1000, depth = 5,
                          file = file.path(tempdir(), "glorot_report.png"),
                          level = 0.99, threads = initvar_threads(), quiet = FALSE,
                          progress = interactive()) {
  check_whole(networks, "networks", min = 2, max = 1e6)
  check_whole(inputs, "inputs", min = 2, max = 1e6)
  check_whole(width, "width", max = 1e5)
  check_whole(depth, "depth", max = 1000)
  check_string(file, "file")
  if (!grepl("\\.(png|pdf)$", file, ignore.case = TRUE)) {
    abort_arg("file", "a path ending in .png or .pdf", file)
  }
  check_number(level, min = 0, max = 1, min_open = TRUE, max_open = TRUE)
  check_flag(quiet, "quiet")
  widths <- c(width, rep(width, depth), 10)
  acts <- c(rep("tanh", depth), "linear")
  inits <- list(standard = init_glorot_standard(), normalized = init_glorot("uniform"))
  sims <- lapply(inits, function(init) {
    simulate_network(mlp(widths, acts, init), networks = networks, inputs = inputs,
                     grad = "softmax", level = level, threads = threads, nbins = 100,
                     progress = check_flag(progress, "progress") && !quiet)
  })
  paper <- function(qq, i) {
    switch(qq, z = sprintf("z^%d", i), grad_s = sprintf("dC/ds^%d", i - 1),
           grad_w = sprintf("dC/dW^%d", i - 1))
  }
  table <- do.call(rbind, lapply(names(sims), function(nm) {
    sim <- sims[[nm]]
    df <- as.data.frame(sim)
    df <- df[df$quantity %in% c("z", "grad_s", "grad_w"), ]
    lin <- sim$prediction$linear
    fw <- predict_variance(sim$net, regime = "finite_width", grad = "softmax")
    pcol <- quantity_prediction
    qq <- as.character(df$quantity)
    pick <- function(pred) mapply(function(qq, i) pred[[pcol[[qq]]]][i], qq, df$layer,
                                  USE.NAMES = FALSE)
    fwp <- pick(fw)
    # the simulation's own calibrated rule (log scale, verdicts at level
    # 0.99; NA where 20 networks are too few for a calibrated interval),
    # against the finite-width prediction
    k <- match(qq, c("s", "z", "grad_s", "grad_w"))
    cv2 <- if (is.null(sim$cv2)) NULL else sim$cv2[cbind(k, df$layer)]
    iv <- sim_intervals(df$estimate, df$mcse, fwp, sim$networks, level, cv2)
    agrees <- iv$consistent
    data.frame(init = nm, quantity = qq, layer = df$layer,
               paper = mapply(paper, qq, df$layer, USE.NAMES = FALSE),
               linear = pick(lin), mean_field = df$prediction, finite_width = fwp,
               estimate = df$estimate, mcse = df$mcse,
               lower = iv$lower, upper = iv$upper,
               z = iv$z, p = iv$p_value, z_mean_field = df$z,
               agrees_mean_field = df$consistent, agrees = agrees,
               networks_needed = iv$networks_needed,
               verdict = ifelse(is.na(agrees),
                                sprintf("no verdict: %g networks are too few at this layer (needs %g)",
                                        networks, iv$networks_needed),
                                ifelse(agrees,
                                       sprintf("consistent with the finite-width prediction at level %g",
                                               verdict_level),
                                       sprintf("not consistent with the finite-width prediction at level %g",
                                               verdict_level))),
               stringsAsFactors = FALSE)
  }))
  rownames(table) <- NULL
  # the family-wise verdict: Holm's step-down adjustment over the rows that
  # have a verdict (as verify_all() does)
  table$p_holm <- NA_real_
  has <- !is.na(table$p)
  table$p_holm[has] <- stats::p.adjust(table$p[has], "holm")
  table$agrees_holm <- table$p_holm > 1 - level
  family <- if (!any(has)) "no verdict" else if (all(table$agrees_holm[has])) "consistent" else
    "not consistent"
  ratio <- vapply(names(sims), function(nm) {
    g <- table$estimate[table$init == nm & table$quantity == "grad_s"]
    g[depth] / g[1]
  }, 0)
  draw_glorot_figure(sims, file, depth)
  if (!quiet) print_glorot_table(table, sims, level, file, ratio, depth, family)
  invisible(list(table = table, family = family, standard = sims$standard,
                 normalized = sims$normalized, gradient_ratio = ratio,
                 file = normalizePath(file)))
}

draw_glorot_figure <- function(sims, file, depth) {
  if (grepl("\\.pdf$", file, ignore.case = TRUE)) {
    grDevices::pdf(file, width = 18, height = 10)
  } else {
    grDevices::png(file, width = 1800, height = 1000, res = 110)
  }
  on.exit(grDevices::dev.off())
  # mfrow = c(2, 4) would shrink all text to 0.66: keep it readable
  op <- graphics::par(mfrow = c(2, 4), mar = c(4.4, 4.4, 4.2, 0.8), cex = 0.9,
                      cex.main = 1.05, mgp = c(2.6, 0.8, 0))
  on.exit(graphics::par(op), add = TRUE, after = FALSE)
  labels <- c(standard = "standard init (eq. 1)", normalized = "normalized init (eq. 16)")
  for (nm in names(sims)) {
    plot(sims[[nm]], type = "variance",
         main = sprintf("Variance by layer, %s\n(layer %d = softmax output)",
                        sub(" init", "", labels[[nm]]), depth + 1))
    for (q in c("z", "grad_s", "grad_w")) {
      plot(sims[[nm]], type = "histogram", quantity = q, layers = seq_len(depth),
           main = sprintf("%s\n%s", quantity_titles[[q]], labels[[nm]]))
    }
  }
}

print_glorot_table <- function(table, sims, level, file, ratio, depth, family) {
  s <- sims$standard
  cat(sprintf(paste0("Glorot & Bengio (2010) at initialization, softmax output:\n",
                     "  %s tanh network\n",
                     "%d networks x %d inputs per initialization, N(0, 1) inputs;\n",
                     "MCSE from network-level replicates\n\n"),
              paste(s$net$widths, collapse = "-"), s$networks, s$inputs))
  cat(paste0(
    "Layer i holds W^(i-1) and outputs z^i = f(s^(i-1)): layers 1-", depth, " are the hidden\n",
    "tanh layers (\"Layer 1\"-\"Layer ", depth, "\" of the paper's figures 6-8),\n",
    "layer ", depth + 1, " the softmax output.\n",
    "Columns: linear = Glorot's linear regime, eqs. 5-7 (tanh taken as the identity)\n",
    "         mean_field = exact at infinite width (follows tanh's curvature)\n",
    "         finite = mean field plus its 1/n correction (regime = \"finite_width\";\n",
    "           gradients: mean field, the correction needs Gaussian weights)\n",
    "         estimate = simulated variance; mcse its Monte Carlo standard error;\n",
    "         z = log(estimate / finite) / (mcse / estimate); agrees: at level ",
    format(verdict_level), ";\n",
    "         holm: the same after Holm's adjustment over all rows\n\n"))
  f <- function(v) formatC(v, digits = 3, format = "g")
  titles <- c(z = "Var(z^i), activations (eq. 5)",
              grad_s = "Var(dC/ds^(i-1)), back-propagated gradients (eq. 6)",
              grad_w = "Var(dC/dW^(i-1)), weight gradients (eq. 7)")
  for (nm in unique(table$init)) {
    cat(toupper(nm), if (nm == "standard") "initialization, U[-1/sqrt(n_i), 1/sqrt(n_i)]\n" else
      "initialization, U[-sqrt(6/(n_i + n_(i+1))), sqrt(6/(n_i + n_(i+1)))]\n", sep = " ")
    for (q in names(titles)) {
      r <- table[table$init == nm & table$quantity == q, ]
      cat("  ", titles[[q]], "\n", sep = "")
      # no verdict: "-", explained below the tables
      yn <- function(v) ifelse(is.na(v), "-", ifelse(v, "yes", "NO"))
      out <- data.frame(layer = r$layer, paper = r$paper, linear = f(r$linear),
                        mean_field = f(r$mean_field), finite = f(r$finite_width),
                        estimate = f(r$estimate),
                        mcse = formatC(r$mcse, digits = 2, format = "g"),
                        z = ifelse(is.na(r$z), "-", formatC(r$z, digits = 2, format = "f")),
                        agrees = yn(r$agrees), holm = yn(r$agrees_holm))
      lines <- utils::capture.output(print(out, row.names = FALSE))
      cat(paste0("    ", lines), sep = "\n")
    }
    cat("\n")
  }
  # the per-layer factor E[tanh'(s)^2] of the mean-field backward pass
  nmf <- sims$normalized$prediction$mean_field
  act <- sims$normalized$net$activation[[1]]
  fac <- vapply(seq_len(depth), function(i) {
    normal_expectation(function(x) act$df(x)^2, sqrt(nmf$var_s[i]), kinks = act$kinks)
  }, 0)
  cat(sprintf(paste0(
    "Back-propagated gradients, Var(dC/ds), layer %d over layer 1 (simulated):\n",
    "  standard %.0f-fold, normalized %.1f-fold. Eq. 6 predicts a flat line under the\n",
    "  normalized initialization (n Var(W) = 1), but each tanh layer multiplies the\n",
    "  variance by E[tanh'(s)^2] < 1, not by f'(0)^2 = 1:\n  here %s (layers 1-%d).\n\n"),
    depth, ratio[["standard"]], ratio[["normalized"]],
    paste(formatC(fac, digits = 2, format = "f"), collapse = ", "), depth))
  nv <- sum(!is.na(table$agrees))
  need <- table$networks_needed[is.na(table$agrees) & !is.na(table$networks_needed)]
  if (length(need)) {
    cat(strwrap(sprintf(paste0(
      "Rows with \"-\" under agrees and holm have no verdict: %d networks are too few for ",
      "a calibrated interval there (the networks' spread is skewed, so the t interval ",
      "needs %s networks at those rows). %d of %d rows have a verdict; ",
      "networks = %d gives every row one."),
      s$networks, if (min(need) == max(need)) format(min(need)) else
        sprintf("%d to %d", min(need), max(need)),
      nv, nrow(table), max(need)), exdent = 2), sep = "\n")
  }
  if (nv == 0) {
    cat(strwrap(sprintf(paste0(
      "Agreement of simulation with the finite-width prediction: no comparison made ",
      "(with %d networks no row has a calibrated interval; rerun with networks = %d)."),
      s$networks, max(need)), exdent = 2), sep = "\n")
  } else {
    cat(strwrap(sprintf(paste0("Agreement of simulation with the finite-width prediction: %d of %d ",
                               "comparisons one by one (level %s; with the mean field: %d)."),
                        sum(table$agrees, na.rm = TRUE), nv, format(verdict_level),
                        sum(table$agrees_mean_field, na.rm = TRUE)), exdent = 2), sep = "\n")
  }
  cat(strwrap(sprintf(paste(
    "Family-wise (Holm over the %d rows with a verdict, level %s): %s."),
    nv, format(level), switch(family,
      consistent = "consistent: no row is flagged after adjusting for the number of tests",
      "no verdict" = sprintf("no verdict: too few networks for any row (rerun with networks = %d)",
                             max(table$networks_needed, na.rm = TRUE)),
      sprintf("NOT consistent: %s flagged after adjustment",
              paste(sprintf("%s %s layer %d", table$init, table$quantity, table$layer)[
                which(!table$agrees_holm)], collapse = ", ")))), exdent = 2), sep = "\n")
  cat(sprintf("Figure: %s\n", normalizePath(file)))
}
