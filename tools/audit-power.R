# Power and false alarms of audit_init() over seeds, for the bug classes of
# issue 25 that initvar's schemes can declare: torch's default where Glorot
# was declared, Glorot where torch's default was declared (both at the
# 1.2x variance gap of Linear(in, 4 in)), a uniform where a normal of the
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
  cat(sprintf("%-64s %5d / %5d = %.4f  [%.4f, %.4f]\n", what, k, n, k / n,
              if (is.na(ci[1])) 0 else ci[1], if (is.na(ci[2])) 1 else ci[2]))
}

# torch layout (out, in): Linear(in, out) has shape c(out, in)
sizes <- list(c(64, 16), c(128, 32), c(1024, 256))
for (s in sizes) {
  lab <- sprintf("Linear(%d, %d)", s[2], s[1])
  n_seeds <- if (prod(s) > 1e5) min(seeds, 200) else seeds
  hit_tg <- hit_gt <- 0
  for (seed in seq_len(n_seeds)) {
    set.seed(seed)
    w <- list(x = sample_weights(init_torch_default(), dim = s, layout = "torch"))
    hit_tg <- hit_tg + !as.data.frame(audit_init(w, init_glorot(), layout = "torch", level = level))$consistent
    w <- list(x = sample_weights(init_glorot(), dim = s, layout = "torch"))
    hit_gt <- hit_gt + !as.data.frame(audit_init(w, init_torch_default(), layout = "torch", level = level))$consistent
  }
  report(sprintf("power: torch default declared Glorot, %s", lab), hit_tg, n_seeds)
  report(sprintf("power: Glorot declared torch default, %s", lab), hit_gt, n_seeds)
}

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
