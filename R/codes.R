# The vocabularies that cross between R and C, each defined once, as data.
# Their C twins are the X-macro lists of src/vocab.h; test-vocabulary.R
# asserts, through the test entry point C_test_vocabulary(), that both sides
# agree on every name and code. The activations' codes are part of the
# activation table (R/activations.R), which is their one home in R.
#
# Code uses names everywhere and turns them into codes only where a value
# crosses into C (engine_spec(), sample_weights(), the identity kernels).

# (The scheme families' codes are part of the family table,
# R/scheme-families.R, and the activations' of the activation table,
# R/activations.R: their one home in R.)

# Layer kinds a network is a list of (see new_layer() in R/network.R). The
# engine runs the kinds listed here; predictions walk every kind's variance
# map.
layer_kind_codes <- c(dense = 1L, residual = 2L, attention = 3L, conv = 4L)

# The layer normalization of a residual block (resmlp(), R/net-residual.R).
norm_kind_codes <- c(none = 0L, pre = 1L, post = 2L)

# The inputs and output gradients of simulate_network().
input_kind_codes <- c(normal = 1L, uniform = 2L, matrix = 3L)
grad_kind_codes <- c(normal = 1L, softmax = 2L)

# The per-layer quantities the engine accumulates, in the engine's order:
# name, label, the column of predict_variance() that predicts it, and its
# kind: a "variance" (the per-layer variance tables of simulate_network())
# or the per-example normalized squared norm M of Hanin and Rolnick
# (network_norms()).
quantity_table <- data.frame(
  name = c("s", "z", "grad_s", "grad_w", "norm"),
  label = c("pre-activation s", "activation z", "gradient dC/ds", "weight gradient dC/dW",
            "normalized squared norm M"),
  title = c("pre-activations s", "activations z", "back-propagated gradients dC/ds",
            "weight gradients dC/dW", "normalized squared norms M"),
  short = c("pre-activations", "activations", "dC/ds", "dC/dW", "M"),
  prediction = c("var_s", "var_z", "var_grad_s", "var_grad_w", NA),
  kind = c(rep("variance", 4), "norm"),
  code = 0:4,
  stringsAsFactors = FALSE)
n_quantities <- nrow(quantity_table)
variance_quantities <- quantity_table$name[quantity_table$kind == "variance"]
quantities <- stats::setNames(quantity_table$label, quantity_table$name)
quantity_prediction <- stats::setNames(quantity_table$prediction, quantity_table$name)
quantity_titles <- stats::setNames(quantity_table$title, quantity_table$name)
short_titles <- stats::setNames(quantity_table$short, quantity_table$name)

# The slots of one mergeable accumulator of the engine (src/moments.h): the
# pooled central moment sums of all values (Pebay), the number of networks,
# the means and co-deviation sums of the per-network first and second
# moments a_j, b_j (Chan), and those of the across-neuron variance e_j.
acc_slots <- c("n", "mean", "M2", "M3", "M4", "networks", "mean_a", "mean_b",
               "C_aa", "C_bb", "C_ab", "mean_e", "M2_e")

# The fields of the engine spec, the named list C_simulate_block() reads by
# name (engine_spec() in R/simulate.R builds it).
spec_fields <- c("widths", "layer_kind", "act", "act_param", "wkind", "wpar", "bkind",
                 "bpar", "input", "var_x", "X", "grad", "var_grad", "batch", "center",
                 "nbins", "hrange", "seed", "rfuns", "scale", "units", "res_alpha",
                 "res_skip", "res_norm", "unit_in", "unit_out", "attn", "conv",
                 "token_mix")

# What one block of the engine returns.
block_slots <- c("acc", "hist", "pos")

# The C kernels of the built-in identities (src/identities.c) and the
# distributions they draw from (standardized: mean 0, variance 1).
identity_kernel_codes <- c(linear = 1L, sum = 2L, sum_uncorrelated = 3L, product = 4L,
                           neuron = 5L, covariance = 6L, delta = 7L, layers = 8L)
dist_codes <- c(normal = 1L, uniform = 2L, exponential = 3L)

# Limits shared by R's argument checks and C's guards.
max_width <- 2^24      # widths and batch sizes
max_threads <- 1024

# Everything above as C_test_vocabulary() returns it (named integer vectors).
r_vocabulary <- function() {
  codes <- function(x) stats::setNames(as.integer(seq_along(x) - 1L), x)
  list(families = family_codes, activations = sort(activation_codes),
       layer_kinds = layer_kind_codes, norm_kinds = norm_kind_codes, input_kinds = input_kind_codes,
       grad_kinds = grad_kind_codes,
       quantities = stats::setNames(quantity_table$code, quantity_table$name),
       acc_slots = codes(acc_slots), identity_kernels = identity_kernel_codes,
       identity_dists = dist_codes, spec_fields = codes(spec_fields),
       block_slots = codes(block_slots),
       limits = c(max_width = as.integer(max_width), max_threads = as.integer(max_threads),
                  n_acc = length(acc_slots), n_quantities = nrow(quantity_table),
                  n_spec = length(spec_fields)))
}

# The C code of a name in a vocabulary.
code_of <- function(codes, name) {
  out <- codes[name]
  if (anyNA(out)) stop("internal error: unknown code ", paste(name[is.na(out)], collapse = ", "))
  unname(out)
}
