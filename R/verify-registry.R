# The registry of built-in identities, made with the public constructor
# new_identity() from the data in R/identities.R (this file is collated
# after R/verify-formula.R, which defines the constructor).
identity_defs <- lapply(stats::setNames(nm = names(builtin_identity_data)), function(id) {
  d <- builtin_identity_data[[id]]
  kernel <- d[setdiff(names(d), c("statement", "latex", "assumptions", "used_in", "defaults", "drops"))]
  new_identity(id, builtin_formulas[[id]], assumptions = d$assumptions, params = d$defaults,
               drops = d$drops, statement = d$statement, used_in = d$used_in, n = 1e6,
               latex = d$latex, kernel = kernel)
})
