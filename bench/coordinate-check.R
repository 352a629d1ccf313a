# Wall-clock time of coordinate_check()'s default checks (issue 26: the
# default check runs in under a minute on 2 cores). Each is a check of
# mup_bugs() with the correct parametrization, at the default sizes stated
# in ?coordinate_check (20 networks per size, 3 Adam steps, batch 32 or 16
# for transformers): the MLP width sweep at initialization and after 3
# steps, the transformer's attention logits and its steps, the residual
# MLP's depth sweep. The checks run in plain R, one network at a time, on
# one core; the second core is free for another check.
# Usage: Rscript bench/coordinate-check.R [reps = 1]
library(initvar)
args <- commandArgs(TRUE)
reps <- if (length(args)) as.integer(args[1]) else 1
b <- mup_bugs()
cases <- list(`MLP width, init (readout)` = b$readout, `MLP width, 3 steps` = b$hidden_lr,
              `transformer width, logits` = b$attention_sqrt,
              `transformer width, 3 steps` = b$dff_fixed,
              `resmlp depth 2-16, 3 steps` = b$residual_unscaled)
res <- do.call(rbind, lapply(names(cases), function(nm) {
  x <- cases[[nm]]
  cc <- NULL
  t <- vapply(seq_len(reps), function(r) {
    set.seed(r)
    st <- system.time(cc <<- do.call(coordinate_check, c(list(x$correct_net_fun,
                                                             parametrization = x$correct),
                                                        x$check)))
    c(st[["elapsed"]], st[["user.self"]] + st[["sys.self"]])
  }, c(0, 0))
  data.frame(check = nm, elapsed = median(t[1, ]), cpu = median(t[2, ]),
             verdict = isTRUE(attr(cc, "verdict")))
}))
print(res, row.names = FALSE, digits = 3)
cat(sprintf("R %s, %s; initvar_threads() = %d; load average %s\n", getRversion(),
            R.version$platform, initvar_threads(),
            tryCatch(strsplit(readLines("/proc/loadavg"), " ")[[1]][1], error = function(e) "?")))
