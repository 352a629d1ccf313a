# The hardening tables: every exported function and every registered C
# routine, with a small valid call (run under gctorture), whether it is
# fuzzed, and for the long-running ones a long call to interrupt. Read by
# test-hardening.R (which fails when a function or routine has no entry),
# test-interrupt.R, tools/fuzz.R, tools/gctorture.R and tools/interrupts.R.
# In the calls, TH stands for the number of threads.

hardening_net <- function(width = 3, depth = 2, act = "tanh") {
  initvar::mlp(c(width, rep(width, depth - 1), 2), act, initvar::init_glorot())
}
hardening_spec <- function(net = hardening_net(), batch = 4) {
  initvar:::sim_setup(net, batch, "normal", 1, NULL, "normal", 1, 5)$spec
}
hardening_jacobian_spec <- function(net = hardening_net()) {
  d <- length(net$widths) - 1
  initvar:::jacobian_spec(net, 1L, 1, NULL, c(1, 2), seq_len(d), TRUE)
}
hardening_mid_net <- function() {
  initvar::mlp(c(400, rep(400, 4), 10), c(rep("tanh", 4), "linear"), initvar::init_glorot())
}
hardening_big_net <- function() {
  initvar::mlp(c(1000, rep(1000, 5), 10), c(rep("tanh", 5), "linear"), initvar::init_glorot())
}

# Exported functions. gctorture: a small valid call. long: can run long,
# interrupt: such a call (it must run well over 2 s uninterrupted), delay:
# when to interrupt it (seconds, recycled over the runs; default in
# tools/interrupts.R), partial: TRUE when an interrupt after a second must
# keep the work done (a partial result in last_partial()); interrupt_formula:
# for verify(), a formula to interrupt as well.
hardening_exported <- list(
  activation = list(gctorture = quote(activation("leaky_relu", 0.1))),
  attention_logits = list(
    gctorture = quote(attention_logits(4, 2, seq_len = 3, inputs = 1, networks = 10, threads = 1)),
    long = TRUE,
    interrupt = quote(attention_logits(512, 64, seq_len = 256, inputs = 8, networks = 1e5,
                                       threads = TH))),
  # the app object (explore(run = FALSE), shiny's) is too slow to build under
  # gctorture; test-exports.R calls it, test-explore-app.R tests the app
  explore = list(gctorture = NULL,
                 why = "builds a shiny app object: shiny's code, not initvar's, under gctorture"),
  compare_schemes = list(
    gctorture = quote(compare_schemes(4, 3, schemes = list(a = init_glorot()), reps = 2, threads = 1)),
    long = TRUE,
    interrupt = quote(compare_schemes(3000, 3000, reps = 100, threads = TH, progress = FALSE))),
  critical_line = list(gctorture = quote(critical_line("tanh", 0.05))),
  default_schemes = list(gctorture = quote(default_schemes())),
  fixed_point = list(gctorture = quote(fixed_point("tanh", 1.5, 0.05))),
  new_identity = list(gctorture = quote(new_identity("a", Var(X) ~ 1,
                                                     variables = list(X = function(n) rnorm(n))))),
  phase_diagram = list(gctorture = quote(phase_diagram("relu", sigma_w2 = c(1, 3),
                                                       sigma_b2 = c(0, 0.1)))),
  predict_correlation = list(gctorture = quote(predict_correlation(hardening_net(), 0.5))),
  predict_kurtosis = list(gctorture = quote(predict_kurtosis(mlp(c(3, 3, 2), "relu", init_he())))),
  register_identity = list(gctorture = quote(register_identity(
    new_identity("hardening_id", Var(X) ~ 1, variables = list(X = function(n) rnorm(n))),
    overwrite = TRUE))),
  fans = list(gctorture = quote(fans(c(4, 3, 3), "torch"))),
  conv_layer = list(gctorture = quote(conv_layer(4, 2, c(3, 3), stride = 2, transposed = TRUE))),
  dense_layer = list(gctorture = quote(dense_layer(4, c(2, 3)))),
  attention_layer = list(gctorture = quote(attention_layer(8, 2))),
  compare_fans = list(gctorture = quote(compare_fans(conv_layer(4, 4, 3, groups = 4)))),
  gain = list(gctorture = quote(gain("relu"))),
  glorot_report = list(
    gctorture = quote(glorot_report(2, 2, 3, 1, file = file.path(tempdir(), "g.png"), quiet = TRUE,
                                    threads = 1)),
    long = TRUE,
    interrupt = quote(glorot_report(200, 1000, file = file.path(tempdir(), "g.png"),
                                    threads = TH, quiet = TRUE))),
  identities = list(gctorture = quote(identities())),
  init_constant = list(gctorture = quote(init_constant(2))),
  init_glorot = list(gctorture = quote(init_glorot("normal"))),
  init_glorot_standard = list(gctorture = quote(init_glorot_standard())),
  init_he = list(gctorture = quote(init_he())),
  init_xavier = list(gctorture = quote(init_xavier("normal", gain = 2))),
  read_weights = list(gctorture = quote(read_weights(list(w = matrix(0.5, 2, 2))))),
  audit_init = list(gctorture = quote(audit_init(list(w = matrix(c(0.1, -0.2, 0.3, -0.05), 2)),
                                                 init_glorot()))),
  init_delta_orthogonal = list(gctorture = quote(init_delta_orthogonal(1.5))),
  init_conv_orthogonal = list(gctorture = quote(init_conv_orthogonal(1.5))),
  init_mamba_dt = list(gctorture = quote(init_mamba_dt(1e-3, 0.1))),
  init_s4d = list(gctorture = quote(init_s4d("lin", "imag"))),
  fan_conformance = list(gctorture = quote(fan_conformance(list(conv_layer(4, 4, c(3, 3), groups = 4)),
                                                           frameworks = "torch"))),
  init_kaiming = list(gctorture = quote(init_kaiming(nonlinearity = "tanh"))),
  cnn = list(gctorture = quote(cnn(c(2, 3), kernel = 3, spatial = c(4, 4), n_out = 2))),
  position_map = list(gctorture = quote(position_map(
    predict_variance(cnn(2, depth = 1, spatial = 4), regime = "mean_field"), 1))),
  plot_position_map = list(gctorture = quote({
    grDevices::pdf(NULL)
    plot_position_map(predict_variance(cnn(2, depth = 1, spatial = 4), regime = "mean_field"), 1)
    grDevices::dev.off()
  })),
  init_identity = list(gctorture = quote(init_identity())),
  init_lecun = list(gctorture = quote(init_lecun())),
  init_normal = list(gctorture = quote(init_normal())),
  init_ones = list(gctorture = quote(init_ones())),
  init_orthogonal = list(gctorture = quote(init_orthogonal())),
  init_sparse = list(gctorture = quote(init_sparse())),
  init_torch_default = list(gctorture = quote(init_torch_default())),
  init_truncated_normal = list(gctorture = quote(init_truncated_normal())),
  init_uniform = list(gctorture = quote(init_uniform())),
  init_variance_scaling = list(gctorture = quote(init_variance_scaling())),
  init_zeros = list(gctorture = quote(init_zeros())),
  initvar_blas = list(gctorture = quote(initvar_blas())),
  initvar_threads = list(gctorture = quote(initvar_threads())),
  jacobian_spectrum = list(
    gctorture = quote(jacobian_spectrum(hardening_net(), 2, threads = 1)),
    long = TRUE,
    interrupt = quote(jacobian_spectrum(mlp(rep(400, 21), "tanh", init_glorot()), networks = 200,
                                        threads = TH))),
  jacobian_log_spectrum = list(
    gctorture = quote(jacobian_log_spectrum(mlp(c(3, 3, 4), "tanh", init_glorot()), 2,
                                            threads = 1)),
    long = TRUE,
    interrupt = quote(jacobian_log_spectrum(mlp(rep(400, 21), "tanh", init_glorot()),
                                            networks = 200, threads = TH))),
  last_partial = list(gctorture = quote(last_partial())),
  linear_regime = list(gctorture = quote(linear_regime("tanh", sd = c(0.5, 1)))),
  mlp = list(gctorture = quote(mlp(c(3, 4, 2), "tanh", init_he()))),
  resmlp = list(gctorture = quote(resmlp(3, 2, "relu", init_he(), branch_depth = 2, norm = "pre"))),
  transformer = list(gctorture = quote(transformer(4, 2, depth = 1, d_ff = 3, seq_len = 2))),
  token_similarity = list(gctorture = quote(token_similarity(
    transformer(4, 2, depth = 1, d_ff = 3, seq_len = 2, token_cor = 0.5), networks = 2,
    sequences = 1))),
  residual_depth_profile = list(gctorture = quote(residual_depth_profile(
    resmlp(3, 2, "relu", init_he(), branch_depth = 2)))),
  plot_simulations = list(gctorture = quote({
    grDevices::pdf(NULL)
    on.exit(grDevices::dev.off())
    s <- simulate_network(hardening_net(), 2, 2, threads = 1)
    plot_simulations(list(a = s), "z")
  })),
  predict_variance = list(gctorture = quote(predict_variance(hardening_net()))),
  parametrization = list(gctorture = quote(parametrization("completep", width = 8, depth = 4))),
  mup_bugs = list(gctorture = quote(mup_bugs("readout"))),
  scaling_rule = list(gctorture = quote(scaling_rule("deepnet", 6, architecture = "encoder_decoder"))),
  scaling_rules = list(gctorture = quote(scaling_rules(c(2, 3)))),
  residual_growth = list(gctorture = quote(residual_growth(scaling_rule("fixup", 4)))),
  sample_weights = list(
    gctorture = quote(sample_weights(init_glorot(), 3, 4, threads = 1)),
    long = TRUE,
    interrupt = quote(sample_weights(init_truncated_normal(0, 1, 1, 3), dim = c(15000, 15000),
                                     threads = TH)),
    delay = c(0.5, 1, 1.5)),
  first_step = list(
    gctorture = quote(first_step(hardening_net(), lr = 0.1, networks = 2, batch = 2))),
  coordinate_check = list(
    gctorture = quote(coordinate_check(function(n) initvar::mlp(c(3, n, 2)), c(2, 3, 4), 1,
                                       networks = 20, batch = 1))),
  simulate_correlation = list(
    gctorture = quote(simulate_correlation(hardening_net(), 0.5, networks = 20, pairs = 2,
                                           threads = 1))),
  network_norms = list(
    gctorture = quote(network_norms(simulate_network(hardening_net(), 2, 2, threads = 1)))),
  simulate_network = list(
    gctorture = quote(simulate_network(hardening_net(), 2, 2, threads = 1)),
    long = TRUE,
    # (blocks of 8 networks of width 200 end in a fraction of a second, so
    # an interrupt at 1.5 s finds blocks done to keep: at width 1000 a block
    # takes 30 s on the reference BLAS)
    interrupt = quote(simulate_network(mlp(c(200, rep(200, 4), 10), c(rep("tanh", 4), "linear"),
                                           init_glorot()), networks = 4000, inputs = 200,
                                       threads = TH, progress = FALSE)),
    partial = TRUE),
  verify = list(
    gctorture = quote(verify("linear_var", n = 1e4, threads = 1)),
    long = TRUE,
    interrupt = quote(verify("neuron", n = 1e10, threads = TH)),
    partial = TRUE,
    # a formula (R-level evaluation of the draws), interrupted the same way
    interrupt_formula = quote(verify(E(X^2) ~ 1, X = init_normal(), n = 1e10, threads = TH))),
  verify_all = list(
    gctorture = NULL, # 200 networks per Glorot identity: too slow under gctorture
    why = "each Glorot identity simulates 200 networks; verify() is tortured instead",
    long = TRUE,
    interrupt = quote(verify_all(n = 1e9, threads = TH, progress = FALSE))),
  weight_mean = list(gctorture = quote(weight_mean(init_uniform(0, 1), 3))),
  weight_variance = list(gctorture = quote(weight_variance(init_glorot(), c(3, 4), c(4, 2)))),
  width_sweep = list(
    gctorture = quote(width_sweep(c(2, 3), depth = 1, networks = 2, inputs = 2)),
    long = TRUE,
    interrupt = quote(width_sweep(c(500, 1000), depth = 5, networks = 200, inputs = 1000,
                                  progress = FALSE)))
)

# Registered C routines: valid small arguments (a function, so that the spec
# is built when needed), and for long ones a long call.
hardening_routines <- list(
  # the softmax-moment tables' kernels (src/softmax.c)
  gauss_smooth = list(args = function() list(c(-1, 0, 1), c(-0.5, 0.5), matrix(1, 3, 2))),
  softmax_powsum = list(args = function() list(c(0.5, 0.25), matrix(1, 2, 5), c(2L, 3L))),
  prefix2 = list(args = function() list(matrix(c(1, 2, 3, 4), 2), FALSE)),
  sample_iid = list(args = function() list(c(3, 4), 2L, c(0, 1, 0, 0), 1L),
                    long = TRUE,
                    interrupt = quote(.Call(initvar:::C_sample_iid, c(15000, 15000), 3L,
                                            c(0, 1, 1, 3), TH)),
                    delay = c(0.5, 1, 1.5)),
  # (the fill is interruptible, LAPACK's QR that follows is not)
  sample_orthogonal = list(args = function() list(4, 3, 1, 1L),
                           long = TRUE,
                           interrupt = quote(.Call(initvar:::C_sample_orthogonal, 1e8, 2, 1, TH)),
                    delay = c(0.3, 0.6, 0.9)),
  sample_sparse = list(args = function() list(4, 3, 1L, 0.1, 1L),
                       long = TRUE,
                       interrupt = quote(.Call(initvar:::C_sample_sparse, 10000, 20000, 9000L,
                                               0.1, TH)),
                    delay = c(0.5, 1, 1.5)),
  openmp_threads = list(args = function() list()),
  # (querying only: n = NA leaves the BLAS as it is)
  blas_threads = list(args = function() list(NA_integer_)),
  blas_info = list(args = function() list()),
  test_fill_repeat = list(args = function() list(10, 2L, c(0, 1, 0, 0), 1L, 2L)),
  simulate_block = list(args = function() list(hardening_spec(), 0, 2L, 1L, NULL),
                        long = TRUE,
                        interrupt = quote(.Call(initvar:::C_simulate_block,
                                                hardening_spec(hardening_big_net(), 1000),
                                                0, 64L, TH, NULL))),
  workspace = list(args = function() list(hardening_spec(), 1L)),
  test_network_trace = list(args = function() list(hardening_spec(), 1)),
  test_vocabulary = list(args = function() list()),
  test_act_eval = list(args = function() list(1L, 0, c(-1, 0, 1))),
  merge_acc = list(args = function() list(as.double(1:13), as.double(13:1))),
  test_moments = list(args = function() list(c(1, 2, 4, 8), c(1, 0, 1, 0))),
  formula_moments = list(args = function() list(list(c(1, 2, 3), c(2, 3, 5)), c(0, 0), c(1, 1),
                                                c(1L, 2L, 1L), c(0L, 0L, 2L))),
  jacobian = list(args = function() list(hardening_jacobian_spec(), 0, 2L, 1L),
                  long = TRUE,
                  interrupt = quote(.Call(initvar:::C_jacobian,
                                          hardening_jacobian_spec(mlp(rep(400, 21), "tanh",
                                                                      init_glorot())),
                                          0, 64L, TH))),
  correlation = list(args = function() list(initvar:::correlation_spec(hardening_net(), 2, 0.5, 1,
                                                                          c(1, 2)), 0, 2L, 1L),
                     long = TRUE,
                     interrupt = quote(.Call(initvar:::C_correlation,
                                             initvar:::correlation_spec(hardening_big_net(), 500,
                                                                        0.5, 1, c(1, 2)),
                                             0, 64L, TH))),
  test_jacobian = list(args = function() list(hardening_jacobian_spec(), 1)),
  attention = list(args = function() list(c(4, 2, 3, 10, 1), 0.5, 2L, c(0, 0.5, 0, 0), 1L,
                                          c(-1, 1, 0, 0), 1L),
                   long = TRUE,
                   interrupt = quote(.Call(initvar:::C_attention, c(512, 64, 256, 1e5, 8), 0.125,
                                           2L, c(0, 0.04, 0, 0), 2L, c(0, 1, 0, 0), TH))),
  identity_moments = list(args = function() list(5L, c(10, 1, 0, 1, 1, 0, 1, 0, 0, 0), 100, 1L),
                  long = TRUE,
                  interrupt = quote(.Call(initvar:::C_identity_moments, 5L,
                                          c(100, 1, 0, 1, 1, 0, 1, 0, 0, 0), 1e12, TH)))
)

# Fuzzing: for every exported function, the call the fuzzer mutates (`call`) and
# the class of each argument (`args`: an argument name -> a class of
# tools/fuzz.R, listed in hardening_arg_classes). test-hardening.R checks
# that every export has an entry and every formal argument a class; the
# fuzzer replaces one argument by a bad value of its class (which must be
# refused) or an edge value (which must be refused clearly or handled).
hardening_arg_classes <- c("size", "count", "num", "flag", "choice", "level", "threads",
                           "act", "scheme", "net", "rule", "layer", "dimvec", "widths",
                           "identity", "formula", "var", "any", "text", "plotarg", "numvec",
                           "bound", "kernels")
hardening_fuzz <- list(
  activation = list(
    call = quote(activation("leaky_relu", 0.1)),
    args = c(name = "choice", param = "num", f = "any", df = "any", kinks = "any")),
  attention_layer = list(
    call = quote(attention_layer(8, 2)),
    args = c(d_model = "size", heads = "size", head_dim = "size", projection = "choice")),
  attention_logits = list(
    call = quote(attention_logits(4, 2, seq_len = 3, inputs = 1, networks = 10, threads = 1)),
    args = c(d_model = "size", d_k = "widths", init = "scheme", scale = "num", seq_len = "size",
             inputs = "count", input = "scheme", networks = "count", threads = "threads")),
  compare_fans = list(
    call = quote(compare_fans(conv_layer(4, 4, 3, groups = 4))),
    args = c(layers = "layer", schemes = "any")),
  explore = list(
    call = quote(explore(run = FALSE)),
    # (`run` as "any": its edge value TRUE would run the app until stopped)
    args = c(run = "any", port = "num")),
  compare_schemes = list(
    call = quote(compare_schemes(4, 3, schemes = list(a = init_glorot()), reps = 2, threads = 1)),
    args = c(fan_in = "size", fan_out = "size", schemes = "any", reps = "count", level = "level",
             threads = "threads", progress = "flag")),
  conv_layer = list(
    call = quote(conv_layer(4, 2, c(3, 3), stride = 2, transposed = TRUE)),
    args = c(in_channels = "size", out_channels = "size", kernel_size = "dimvec",
             stride = "dimvec", groups = "size", transposed = "flag", padding = "choice",
             dilation = "dimvec")),
  coordinate_check = list(
    call = quote(coordinate_check(function(n) initvar::mlp(c(3, n, 2)), c(2, 3, 4), 1, networks = 20,
                 batch = 1)),
    args = c(net_fun = "any", widths = "widths", layer = "size", what = "choice", slope = "num",
             lr_fun = "any", networks = "count", steps = "size",
             # (NULL is the default of parametrization, depths, base_width
             # and base_depth: the classes whose bad values do not hold it)
             parametrization = "rule", depths = "plotarg", base_width = "plotarg",
             base_depth = "plotarg", delta = "numvec")),
  critical_line = list(
    call = quote(critical_line("tanh", 0.05)),
    args = c(activation = "act", sigma_b2 = "numvec")),
  default_schemes = list(
    call = quote(default_schemes()),
    args = c(junk = "any")),
  dense_layer = list(
    call = quote(dense_layer(4, c(2, 3))),
    args = c(in_features = "size", out_features = "dimvec", packed = "size")),
  fans = list(
    call = quote(fans(c(4, 3, 3), "torch")),
    args = c(dim = "dimvec", layout = "choice", convention = "choice")),
  first_step = list(
    call = quote(first_step(hardening_net(), lr = 0.1, networks = 2, batch = 2)),
    args = c(net = "net", lr = "num", optimizer = "choice", batch = "count", networks = "count",
             loss = "choice", var_x = "num", eps = "num", level = "level")),
  fixed_point = list(
    call = quote(fixed_point("tanh", 1.5, 0.05)),
    args = c(activation = "act", sigma_w2 = "numvec", sigma_b2 = "numvec")),
  gain = list(
    call = quote(gain("relu")),
    args = c(activation = "act", param = "num", method = "choice", nodes = "size")),
  glorot_report = list(
    call = quote(glorot_report(2, 2, 3, 1, file = file.path(tempdir(), "g.png"), quiet = TRUE,
                 threads = 1)),
    args = c(networks = "count", inputs = "count", width = "size", depth = "size", level = "level",
             threads = "threads", quiet = "flag", file = "text", progress = "flag")),
  identities = list(
    call = quote(identities()),
    args = c(junk = "any")),
  init_constant = list(
    call = quote(init_constant()),
    args = c(value = "num")),
  init_glorot = list(
    call = quote(init_glorot()),
    args = c(distribution = "choice", gain = "num", convention = "choice")),
  init_glorot_standard = list(
    call = quote(init_glorot_standard()),
    args = c(junk = "any")),
  init_he = list(
    call = quote(init_he()),
    args = c(distribution = "choice", a = "num", mode = "choice", convention = "choice")),
  init_delta_orthogonal = list(
    call = quote(init_delta_orthogonal(1.5)),
    args = c(gain = "num")),
  init_mamba_dt = list(
    call = quote(init_mamba_dt(1e-3, 0.1, 1e-4)),
    args = c(dt_min = "num", dt_max = "num", floor = "num")),
  init_s4d = list(
    call = quote(init_s4d("real")),
    args = c(method = "choice", part = "choice")),
  fan_conformance = list(
    call = quote(fan_conformance(list(conv_layer(4, 4, c(3, 3), groups = 4)), frameworks = "torch")),
    args = c(layers = "any", frameworks = "choice", simulate = "flag", networks = "count",
             inputs = "count", threads = "threads")),
  read_weights = list(
    call = quote(read_weights(list(w = matrix(0.5, 2, 2)))),
    args = c(path = "any", names = "text")),
  audit_init = list(
    call = quote(audit_init(list(w = matrix(c(0.1, -0.2, 0.3, -0.05), 2)), init_glorot())),
    args = c(weights = "any", schemes = "scheme", layout = "choice", level = "level")),
  init_conv_orthogonal = list(
    call = quote(init_conv_orthogonal(1.5)),
    args = c(gain = "num")),
  fan_conformance = list(
    call = quote(fan_conformance(list(conv_layer(4, 4, c(3, 3), groups = 4)), frameworks = "torch")),
    args = c(layers = "any", frameworks = "choice", simulate = "flag", networks = "count",
             inputs = "count", threads = "threads")),
  read_weights = list(
    call = quote(read_weights(list(w = matrix(0.5, 2, 2)))),
    args = c(path = "any", names = "text")),
  audit_init = list(
    call = quote(audit_init(list(w = matrix(c(0.1, -0.2, 0.3, -0.05), 2)), init_glorot())),
    args = c(weights = "any", schemes = "scheme", layout = "choice", level = "level")),
  init_xavier = list(
    call = quote(init_xavier()),
    args = c(distribution = "choice", gain = "num")),
  init_kaiming = list(
    call = quote(init_kaiming(nonlinearity = "relu")),
    args = c(distribution = "choice", a = "num", mode = "choice", nonlinearity = "choice")),
  cnn = list(
    call = quote(cnn(c(2, 3), kernel = 3, spatial = c(4, 4), n_out = 2)),
    args = c(channels = "widths", kernel = "kernels", depth = "size", spatial = "dimvec",
             padding = "choice", activation = "act", init = "scheme", bias = "scheme",
             stride = "kernels", dilation = "kernels", groups = "size", n_out = "size",
             readout_activation = "act", readout_init = "scheme", readout_bias = "scheme",
             transposed = "flag")),
  position_map = list(
    call = quote(position_map(predict_variance(cnn(2, depth = 1, spatial = 4), regime = "mean_field"), 1)),
    args = c(x = "any", layer = "size", quantity = "choice")),
  plot_position_map = list(
    call = quote(plot_position_map(predict_variance(cnn(2, depth = 1, spatial = 4), regime = "mean_field"), 1)),
    args = c(x = "any", layer = "size", quantity = "choice", what = "choice", main = "plotarg")),
  init_identity = list(
    call = quote(init_identity()),
    args = c(gain = "num")),
  init_lecun = list(
    call = quote(init_lecun()),
    args = c(distribution = "choice", convention = "choice")),
  init_normal = list(
    call = quote(init_normal()),
    args = c(mean = "num", sd = "num")),
  init_ones = list(
    call = quote(init_ones()),
    args = c(junk = "any")),
  init_orthogonal = list(
    call = quote(init_orthogonal()),
    args = c(gain = "num")),
  init_sparse = list(
    call = quote(init_sparse()),
    args = c(sparsity = "num", sd = "num")),
  init_torch_default = list(
    call = quote(init_torch_default()),
    args = c(junk = "any")),
  init_truncated_normal = list(
    call = quote(init_truncated_normal()),
    args = c(mean = "num", sd = "num", lower = "bound", upper = "bound", bounds = "choice")),
  init_uniform = list(
    call = quote(init_uniform()),
    args = c(a = "num", b = "num")),
  init_variance_scaling = list(
    call = quote(init_variance_scaling()),
    args = c(scale = "num", mode = "choice", distribution = "choice", convention = "choice")),
  init_zeros = list(
    call = quote(init_zeros()),
    args = c(junk = "any")),
  initvar_blas = list(
    call = quote(initvar_blas()),
    args = c(junk = "any")),
  initvar_threads = list(
    call = quote(initvar_threads()),
    args = c(n = "threads")),
  jacobian_spectrum = list(
    call = quote(jacobian_spectrum(hardening_net(), 2, threads = 1)),
    args = c(net = "net", networks = "count", input = "choice", var_x = "num", depths = "widths",
             layers = "flag", threads = "threads")),
  jacobian_log_spectrum = list(
    call = quote(jacobian_log_spectrum(mlp(c(3, 3, 4), "tanh", init_glorot()), 2, threads = 1)),
    args = c(net = "net", networks = "count", input = "choice", var_x = "num", depths = "widths",
             every = "count", threads = "threads")),
  last_partial = list(
    call = quote(last_partial()),
    args = c(clear = "flag")),
  linear_regime = list(
    call = quote(linear_regime("tanh", sd = c(0.5, 1))),
    args = c(activation = "choice", sd = "numvec", mean = "num")),
  mlp = list(
    call = quote(mlp(c(3, 4, 2), "tanh", init_he())),
    args = c(widths = "widths", activation = "act", init = "scheme", bias = "scheme")),
  network_norms = list(
    call = quote(network_norms(simulate_network(hardening_net(), 2, 2, threads = 1))),
    args = c(x = "net")),
  new_identity = list(
    call = quote(new_identity("a", Var(X) ~ 1, variables = list(X = function(n) rnorm(n)))),
    args = c(id = "any", formula = "formula", assumptions = "any", variables = "any", draw = "any",
             params = "any", n = "count", drops = "any", general = "any", statement = "text",
             used_in = "text", latex = "text", kernel = "any")),
  phase_diagram = list(
    call = quote(phase_diagram("relu", sigma_w2 = c(1, 3), sigma_b2 = c(0, 0.1))),
    args = c(activation = "act", sigma_w2 = "numvec", sigma_b2 = "numvec", progress = "flag")),
  plot_simulations = list(
    call = quote(plot_simulations(list(a = simulate_network(hardening_net(), 2, 2, threads = 1)),
                 "z")),
    args = c(sims = "net", quantity = "choice", regime = "choice", main = "plotarg",
             col = "plotarg")),
  predict_correlation = list(
    call = quote(predict_correlation(hardening_net(), 0.5)),
    args = c(net = "net", c0 = "num", var_x = "num")),
  predict_kurtosis = list(
    call = quote(predict_kurtosis(mlp(c(3, 3, 2), "relu", init_he()))),
    args = c(net = "net", input = "choice", method = "choice")),
  predict_variance = list(
    call = quote(predict_variance(hardening_net())),
    args = c(net = "net", var_x = "num", var_grad = "num", regime = "choice", grad = "choice",
             input = "choice")),
  register_identity = list(
    call = quote(register_identity(new_identity("fz_reg", Var(X) ~ 1,
                                                variables = list(X = function(n) rnorm(n))),
                 overwrite = TRUE)),
    args = c(identity = "identity", overwrite = "flag")),
  residual_depth_profile = list(
    call = quote(residual_depth_profile(resmlp(3, 2, "relu", init_he(), branch_depth = 2))),
    args = c(net = "net", var_x = "num", var_grad = "num", regime = "choice")),
  residual_growth = list(
    call = quote(residual_growth(depth = 4, skip = 1, alpha = 0.5)),
    args = c(rule = "rule", depth = "widths", skip = "num", alpha = "num", gains = "numvec")),
  resmlp = list(
    call = quote(resmlp(3, 2, "relu", init_he(), branch_depth = 2, norm = "pre")),
    args = c(width = "size", depth = "size", activation = "act", init = "scheme", alpha = "num",
             skip = "num", branch_depth = "size", norm = "choice", n_in = "size", n_out = "size",
             rule = "rule", bias = "scheme", proj_init = "scheme")),
  sample_weights = list(
    call = quote(sample_weights(init_glorot(), 3, 4, threads = 1)),
    args = c(scheme = "scheme", fan_in = "size", fan_out = "size", dim = "dimvec",
             layout = "choice", threads = "threads")),
  mup_bugs = list(
    call = quote(mup_bugs("hidden_lr")),
    # (NULL, the default, is all six: "rule"'s bad values do not hold it)
    args = c(name = "rule")),
  parametrization = list(
    call = quote(parametrization("depth_mup", alpha = 0.75, width = 8, depth = 4)),
    args = c(name = "choice", alpha = "num", width = "num", depth = "num", base_width = "num",
             base_depth = "num")),
  scaling_rule = list(
    call = quote(scaling_rule("deepnet", 6, architecture = "encoder_decoder")),
    args = c(name = "choice", depth = "size", branch_depth = "size", zero_last = "flag",
             architecture = "choice", part = "choice", decoder_depth = "size", source = "choice",
             a = "num")),
  scaling_rules = list(
    call = quote(scaling_rules(c(2, 3))),
    args = c(depth = "widths")),
  simulate_correlation = list(
    call = quote(simulate_correlation(hardening_net(), 0.5, networks = 20, pairs = 2, threads = 1)),
    args = c(net = "net", c0 = "num", networks = "count", pairs = "count", var_x = "num",
             threads = "threads", level = "level")),
  simulate_network = list(
    call = quote(simulate_network(hardening_net(), 2, 2, threads = 1)),
    args = c(net = "net", networks = "count", inputs = "count", input = "choice", var_x = "num",
             grad = "choice", var_grad = "num", regime = "choice", nbins = "size", level = "level",
             threads = "threads", cl = "any", progress = "flag", resume = "any", future = "flag")),
  transformer = list(
    call = quote(transformer(4, 2, depth = 1, d_ff = 3, seq_len = 2)),
    args = c(d_model = "size", heads = "size", d_k = "size", depth = "size", d_ff = "size",
             norm = "choice", seq_len = "size", activation = "act", init = "scheme",
             architecture = "choice", decoder_depth = "size", rule = "rule", scale = "num",
             alpha = "num", skip = "num", bias = "scheme", token_cor = "any")),
  token_similarity = list(
    call = quote(token_similarity(transformer(4, 2, depth = 1, d_ff = 3, seq_len = 2),
                                  networks = 2, sequences = 1)),
    args = c(net = "net", networks = "count", sequences = "count", var_x = "num")),
  verify = list(
    call = quote(verify(E(X^2) ~ 1, X = init_normal(), n = 10000, threads = 1)),
    args = c(id = "formula", n = "count", X = "var", level = "level", threads = "threads",
             params = "any", draw = "any", drop = "any", future = "flag", progress = "flag")),
  verify_all = list(
    call = quote(verify_all(n = 10000, threads = 1, ids = "linear_var")),
    args = c(n = "count", level = "level", threads = "threads", ids = "any", progress = "flag")),
  weight_mean = list(
    call = quote(weight_mean(init_uniform(0, 1), 3)),
    args = c(scheme = "scheme", fan_in = "dimvec", fan_out = "dimvec", dim = "dimvec",
             layout = "choice", layer = "layer")),
  weight_variance = list(
    call = quote(weight_variance(init_glorot(), c(3, 4), c(4, 2))),
    args = c(scheme = "scheme", fan_in = "dimvec", fan_out = "dimvec", dim = "dimvec",
             layout = "choice", layer = "layer")),
  width_sweep = list(
    call = quote(width_sweep(c(2, 3), depth = 1, networks = 2, inputs = 2)),
    args = c(widths = "widths", depth = "size", layer = "size", activation = "act",
             init = "scheme", networks = "count", inputs = "count", quantity = "choice",
             progress = "flag", future = "flag"))
)

# ---- a long call in a child R process, interrupted --------------------------

# Runs `expr` (with TH = threads) `reps` times in a fresh Rscript, sending
# SIGINT `delay` seconds after each start (recycled over the runs). Returns a data frame with, per
# run, the latency from the signal to the end of the call, how it ended
# ("interrupt": an interrupt handler ran; "returned") and VmRSS (kB) after
# gc(), and attribute "after": the value of `after` evaluated in the child
# after the runs (NULL when not given). Linux only.
interrupt_child <- function(expr, threads = 1, reps = 1, delay = 1, after = NULL,
                            timeout = 60, lib = Sys.getenv("R_LIBS")) {
  dir <- tempfile("intr")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  f <- function(x) file.path(dir, x)
  helper <- normalizePath(sys_helper_path())
  child <- c(
    "suppressPackageStartupMessages(library(initvar))",
    sprintf("source(%s)", deparse(helper)),
    sprintf("TH <- %dL", as.integer(threads)),
    sprintf("expr <- quote(%s)", paste(deparse(expr), collapse = "\n")),
    sprintf("setwd(%s)", deparse(dir)),
    "rss <- function() { l <- grep('^VmRSS', readLines('/proc/self/status'), value = TRUE);",
    "  as.numeric(gsub('[^0-9]', '', l)) }",
    "writeLines(as.character(Sys.getpid()), 'pid')",
    sprintf("for (k in seq_len(%d)) {", as.integer(reps)),
    "  set.seed(k)",
    "  writeLines('go', paste0('ready', k))",
    "  how <- tryCatch({ eval(expr); 'returned' }, interrupt = function(e) 'interrupt')",
    "  t1 <- as.numeric(Sys.time())",
    "  invisible(gc()); invisible(gc())",
    "  writeLines(sprintf('%.6f %s %.0f', t1, how, rss()), paste0('done', k))",
    "}",
    if (!is.null(after)) sprintf("saveRDS(%s, 'after.rds')", paste(deparse(after), collapse = "\n")),
    "writeLines('ok', 'finished')")
  writeLines(child, f("child.R"))
  env <- if (nzchar(lib)) paste0("R_LIBS=", lib) else character()
  system2(file.path(R.home("bin"), "Rscript"), shQuote(f("child.R")), wait = FALSE,
          stdout = f("out.txt"), stderr = f("err.txt"), env = env)
  wait_for <- function(path, limit) {
    t0 <- Sys.time()
    while (!file.exists(path)) {
      if (as.numeric(Sys.time() - t0, units = "secs") > limit) return(FALSE)
      Sys.sleep(0.01)
    }
    TRUE
  }
  pid <- NA
  rows <- list()
  for (k in seq_len(reps)) {
    if (!wait_for(f(paste0("ready", k)), timeout)) break
    if (is.na(pid)) pid <- as.integer(readLines(f("pid")))
    Sys.sleep(rep_len(delay, k)[k])
    ts <- as.numeric(Sys.time())
    tools::pskill(pid, tools::SIGINT)
    if (!wait_for(f(paste0("done", k)), timeout)) break
    Sys.sleep(0.02)
    d <- strsplit(readLines(f(paste0("done", k))), " ")[[1]]
    rows[[k]] <- data.frame(run = k, latency = as.numeric(d[1]) - ts, how = d[2],
                            rss_kb = as.numeric(d[3]), stringsAsFactors = FALSE)
  }
  ok <- wait_for(f("finished"), timeout)
  if (!ok && !is.na(pid)) tools::pskill(pid, tools::SIGKILL)
  out <- do.call(rbind, rows)
  if (is.null(out)) out <- data.frame(run = integer(), latency = numeric(), how = character(),
                                      rss_kb = numeric())
  attr(out, "after") <- if (ok && file.exists(f("after.rds"))) readRDS(f("after.rds"))
  attr(out, "finished") <- ok
  attr(out, "stderr") <- if (file.exists(f("err.txt"))) readLines(f("err.txt"))
  out
}

# Where this file is (for the child to source it).
sys_helper_path <- function() {
  p <- getOption("initvar.hardening_helper")
  if (!is.null(p)) return(p)
  for (cand in c("helper-hardening.R", "tests/testthat/helper-hardening.R")) {
    if (file.exists(cand)) return(cand)
  }
  stop("cannot find helper-hardening.R")
}
