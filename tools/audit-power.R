# Power and false alarms of audit_init() over seeds, for the bug classes of
# issue 25: torch's default where Glorot was declared, Glorot where torch's
# default was declared (both at the 1.2x variance gap of Linear(in, 4 in)),
# torch's default against Flax's lecun_normal (3x) both ways, each flagged
# and named by the framework-default catalogue; Mamba's dt bias zeroed,
# at ones, at a Linear default, or by spyx PR#42's log(dt); a uniform where a normal of the
# same variance was declared, and a branch zeroed or a tensor
# overwritten with ones where a random scheme was declared. Correct tensors
# give the false-alarm rate, per test and family-wise (Holm over the model).
#   Rscript tools/audit-power.R            (INITVAR_POWER_SEEDS, default 1000)
#   INITVAR_LIB=/path/to/lib               (where initvar is installed)
lib <- Sys.getenv("INITVAR_LIB", "")
if (nzchar(lib)) library(initvar, lib.loc = lib) else library(initvar)
seeds <- as.integer(Sys.getenv("INITVAR_POWER_SEEDS", "1000"))
level <- 0.99

# Clopper-Pearson 95% interval of k successes in n
cp <- function(k, n) c(stats::qbeta(0.025, k, n - k + 1), stats::qbeta(0.975, k + 1, n - k))
report <- function(what, k, n) {
  ci <- cp(k, n)
  cat(sprintf("%-64s %5d / %5d = %.4f (MCSE %.4f) [%.4f, %.4f]\n", what, k, n, k / n,
              sqrt(k / n * (1 - k / n) / n),
              if (is.na(ci[1])) 0 else ci[1], if (is.na(ci[2])) 1 else ci[2]))
}

# torch layout (out, in): Linear(in, out) has shape c(out, in). Flagged:
# the declared scheme rejected; named: flagged and the best match of the
# framework-default catalogue (looks_like's first name, column best_match)
# is the scheme that drew the tensor. Correct tensors: the best match is
# the declared scheme itself (named right) at the same sizes.
torch_name <- "torch default (nn.Linear, nn.ConvNd)"
glorot_name <- "Glorot uniform (Keras, Flux default)"
flax_name <- "LeCun normal, truncated (Flax, JAX default)"
sizes <- list(c(32, 8), c(64, 16), c(128, 32), c(1024, 256))
for (s in sizes) {
  lab <- sprintf("Linear(%d, %d)", s[2], s[1])
  n_seeds <- if (prod(s) > 1e5) min(seeds, 200) else seeds
  hit_tg <- hit_gt <- name_tg <- name_gt <- hit_tf <- name_tf <- hit_ft <- name_ft <- 0
  for (seed in seq_len(n_seeds)) {
    set.seed(seed)
    w <- list(x = sample_weights(init_torch_default(), dim = s, layout = "torch"))
    d <- as.data.frame(audit_init(w, init_glorot(), layout = "torch", level = level))
    hit_tg <- hit_tg + !d$consistent
    name_tg <- name_tg + (!d$consistent && identical(d$best_match, torch_name))
    d <- as.data.frame(audit_init(w, init_lecun("truncated_normal"), layout = "torch", level = level))
    hit_tf <- hit_tf + !d$consistent
    name_tf <- name_tf + (!d$consistent && identical(d$best_match, torch_name))
    w <- list(x = sample_weights(init_glorot(), dim = s, layout = "torch"))
    d <- as.data.frame(audit_init(w, init_torch_default(), layout = "torch", level = level))
    hit_gt <- hit_gt + !d$consistent
    name_gt <- name_gt + (!d$consistent && identical(d$best_match, glorot_name))
    w <- list(x = sample_weights(init_lecun("truncated_normal"), dim = s, layout = "torch"))
    d <- as.data.frame(audit_init(w, init_torch_default(), layout = "torch", level = level))
    hit_ft <- hit_ft + !d$consistent
    name_ft <- name_ft + (!d$consistent && identical(d$best_match, flax_name))
  }
  report(sprintf("power: torch default declared Glorot, %s", lab), hit_tg, n_seeds)
  report("  named torch default", name_tg, n_seeds)
  report(sprintf("power: Glorot declared torch default, %s", lab), hit_gt, n_seeds)
  report("  named Glorot uniform", name_gt, n_seeds)
  report(sprintf("power: torch default declared Flax lecun_normal, %s", lab), hit_tf, n_seeds)
  report("  named torch default", name_tf, n_seeds)
  report(sprintf("power: Flax lecun_normal declared torch default, %s", lab), hit_ft, n_seeds)
  report("  named Flax lecun_normal", name_ft, n_seeds)
}

# correct tensors: best match the declared scheme (named right), per size
for (s in list(c(64, 16), c(128, 32))) {
  right <- c(torch = 0, glorot = 0)
  for (seed in seq_len(seeds)) {
    set.seed(2 * 10^6 + seed)
    w <- list(t = sample_weights(init_torch_default(), dim = s, layout = "torch"),
              g = sample_weights(init_glorot(), dim = s, layout = "torch"))
    d <- as.data.frame(audit_init(w, list("^t" = init_torch_default(), "^g" = init_glorot()),
                                  layout = "torch", level = level))
    right <- right + c(identical(d$best_match[1], torch_name), identical(d$best_match[2], glorot_name))
  }
  report(sprintf("correct torch default named torch default, Linear(%d, %d)", s[2], s[1]), right[[1]], seeds)
  report(sprintf("correct Glorot uniform named Glorot uniform, Linear(%d, %d)", s[2], s[1]), right[[2]], seeds)
}

# Mamba's dt bias (d_inner = 256, [1e-3, 0.1]): false alarms of correct
# biases, and power against the reproduced bugs, drawn in plain R
dt_fa <- 0
dt_hit <- c(zeros = 0, ones = 0, linear_default = 0, spyx = 0)
dt_named <- c(linear_default = 0, spyx = 0)
for (seed in seq_len(seeds)) {
  set.seed(3 * 10^6 + seed)
  dt <- exp(runif(256, log(1e-3), log(0.1)))
  w <- list(ok = dt + log(-expm1(-dt)), zeros = numeric(256), ones = rep(1, 256),
            linear_default = runif(256, -0.25, 0.25), spyx = log(dt) + log(-expm1(-dt)))
  d <- as.data.frame(audit_init(w, init_mamba_dt(), level = level))
  dt_fa <- dt_fa + !d$consistent[1]
  dt_hit <- dt_hit + !d$consistent[2:5]
  dt_named <- dt_named + c(grepl("Linear layer's default", d$looks_like[4]), grepl("spyx", d$looks_like[5]))
}
report(sprintf("false alarms: correct Mamba dt bias, 256 (nominal %.2f)", 1 - level), dt_fa, seeds)
for (k in names(dt_hit)) report(sprintf("power: dt bias %s declared Mamba's", k), dt_hit[[k]], seeds)
for (k in names(dt_named)) report(sprintf("  named %s", k), dt_named[[k]], seeds)

# the family: Glorot uniform where Glorot normal was declared (same
# variance: only the chi-square over bins can tell)
for (s in list(c(16, 8), c(32, 16), c(64, 16))) {
  hit <- 0
  for (seed in seq_len(seeds)) {
    set.seed(seed)
    w <- list(x = sample_weights(init_glorot("uniform"), dim = s, layout = "torch"))
    hit <- hit + !as.data.frame(audit_init(w, init_glorot("normal"), layout = "torch", level = level))$consistent
  }
  report(sprintf("power: Glorot uniform declared Glorot normal, Linear(%d, %d)", s[2], s[1]), hit, seeds)
}

# a zeroed branch and an overwrite with ones: deterministic (variance 0)
z <- as.data.frame(audit_init(list(branch.weight = array(0, c(64, 16))), init_he(), layout = "torch"))
o <- as.data.frame(audit_init(list(dt_proj.bias = array(1, 16)), init_uniform(-0.1, 0.1)))
cat(sprintf("zeroed branch declared He: flagged %s (%s); ones declared U(-0.1, 0.1): flagged %s (%s)\n",
            !z$consistent, z$looks_like, !o$consistent, o$looks_like))

# false alarms: a correct 5-tensor model
schemes <- list("^a" = init_glorot(), "^b" = init_he(), "^c" = init_torch_default(),
                "^d" = init_lecun("truncated_normal"), "^e" = init_glorot("normal"))
per <- fam <- 0
for (seed in seq_len(seeds)) {
  set.seed(10^6 + seed)
  w <- list(a = sample_weights(init_glorot(), dim = c(64, 16), layout = "torch"),
            b = sample_weights(init_he(), dim = c(48, 16), layout = "torch"),
            c = sample_weights(init_torch_default(), dim = c(128, 32), layout = "torch"),
            d = sample_weights(init_lecun("truncated_normal"), dim = c(32, 32), layout = "torch"),
            e = sample_weights(init_glorot("normal"), dim = c(20, 40), layout = "torch"))
  d <- as.data.frame(audit_init(w, schemes, layout = "torch", level = level))
  per <- per + sum(!d$consistent)
  fam <- fam + any(!d$consistent_holm)
}
report(sprintf("false alarms per test (nominal %.2f)", 1 - level), per, 5 * seeds)
report(sprintf("false alarms family-wise, Holm over 5 (nominal <= %.2f)", 1 - level), fam, seeds)
