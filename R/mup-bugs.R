# The bugs users make implementing muP and CompleteP, as data: each a
# parametrization with one term wrong (or a network with one dimension held
# fixed) and the coordinate check that catches it.

#' Injected muP and CompleteP bugs, and the checks that catch them
#'
#' `mup_bugs()` returns six implementation bugs reported against muP and
#' CompleteP code, each as data: the correct parametrization, the buggy one
#' (a [parametrization()] object with one exponent changed, so that
#' [coordinate_check()] applies it as it applies a correct one), the
#' network builder, and the arguments of the check that flags it. Running
#' the check with `parametrization = bug$correct` gives the
#' false-positive side; `tools/bug-power.R` measures both over seeds.
#'
#' @section The bugs:
#' \describe{
#'   \item{`readout`}{the read-out's initialization variance not divided by
#'     the width multiplier: \eqn{1/(n n_0)} instead of \eqn{1/n^2} (width
#'     exponent \eqn{-1} instead of \eqn{-2}). Caught at initialization: the
#'     logits' RMS has width slope \eqn{-1/2} exactly, and becomes 0 (an
#'     exact test, MLP).}
#'   \item{`hidden_lr`}{the hidden (and query) Adam learning rate not
#'     scaled by \eqn{1/m_N}: the SP update, whose hidden change grows like
#'     \eqn{n^{1/2}} to \eqn{n} (an asymptotic test after 3 Adam steps,
#'     MLP).}
#'   \item{`dff_fixed`}{a transformer's FFN width \eqn{d_{ff}} held fixed
#'     while \eqn{d_{model}} grows, the rule table applied by role: the
#'     second FFN matrix, whose fan-in does not grow, still gets the hidden
#'     \eqn{1/m_N} variance and learning rate, so the FFN's update shrinks
#'     with width (slope about \eqn{-1/2}; transformer, 3 Adam steps).}
#'   \item{`attention_sqrt`}{attention logits scaled by \eqn{1/\sqrt{d_k}}
#'     (SP) instead of muP's \eqn{1/d_k}. Caught at initialization: with
#'     \eqn{d_k} proportional to the width (2 heads) the logits' RMS has
#'     slope \eqn{-1/2} exactly, and becomes 0 (an exact test,
#'     transformer; after 3 Adam steps the layers' changes move by only
#'     about 0.3 in slope, within the asymptotic tests' \eqn{\delta}).}
#'   \item{`eps_unscaled`}{CompleteP with Adam's \eqn{\epsilon} not scaled
#'     by \eqn{L^{-\alpha}} inside the branches (EleutherAI's nanoGPT-mup
#'     added the term after the fact). The base \eqn{\epsilon = 0.01} is
#'     comparable to the hidden gradients at the largest depth (their RMS
#'     is about 0.003 at depth 16, width 64, and about 0.05 at depth 2):
#'     with the default \eqn{10^{-8}} the bug is invisible, as it is in
#'     training (a depth sweep of residual MLPs, 3 Adam steps).}
#'   \item{`residual_unscaled`}{CompleteP's branch multiplier
#'     \eqn{L^{-\alpha}} left out: the output's change grows with depth (a
#'     depth sweep of residual MLPs, 3 Adam steps).}
#' }
#' Each check uses the default sizes of [coordinate_check()]: widths 32,
#' 64, 128, 256 (width sweeps) or depths 2, 4, 8, 16 at width 64 (depth
#' sweeps), 20 networks, 3 steps, batch 32 (16 rows, two sequences of 8
#' tokens, for transformers), base width 32 and base depth 2.
#'
#' @param name `NULL` for all six, or some of their names.
#' @return A named list of bugs, each a list with `name`, `description`,
#'   `correct` and `parametrization` (the buggy one: [parametrization()]
#'   objects), `net_fun` (the network builder the bug runs with),
#'   `correct_net_fun` (the correct one: `net_fun` except for `dff_fixed`)
#'   and `check` (the other arguments of [coordinate_check()]).
#' @seealso [coordinate_check()], [parametrization()].
#' @examples
#' b <- mup_bugs("readout")$readout
#' b$description
#' set.seed(1)
#' bad <- do.call(coordinate_check, c(list(b$net_fun, parametrization = b$parametrization),
#'                                    b$check))
#' attr(bad, "verdict")
#' @export
mup_bugs <- function(name = NULL) {
  all <- mup_bug_table()
  if (!is.null(name)) {
    if (!is.character(name) || length(name) < 1 || anyNA(name) || !all(name %in% names(all))) {
      bad <- if (is.character(name)) setdiff(name, names(all))[1] else name
      abort_arg("name", sprintf("NULL or names among %s", paste0("\"", names(all), "\"", collapse = ", ")),
                bad)
    }
    all <- all[unique(name)]
  }
  all
}

# A parametrization with one exponent changed: `edit(tab)` returns the
# edited table.
bugged <- function(p, label, edit) {
  p$table <- edit(p$table)
  p$label <- sprintf("%s, BUG: %s", p$label, label)
  p$reference <- paste(p$reference, "(with an injected bug)")
  p
}

mup_bug_table <- function() {
  mup <- parametrization("mup")
  cp <- parametrization("completep")
  set <- function(tab, groups, col, value) {
    tab[[col]][tab$group %in% groups] <- value
    tab
  }
  mlp_fun <- function(n) {
    mlp(c(16, n, n, 10), c("relu", "relu", "linear"),
        list(init_lecun(), init_he(), init_normal(sd = 1 / 32)))
  }
  tf_fun <- function(n) {
    transformer(n, heads = 2, depth = 1, seq_len = 8, norm = "pre", init = init_lecun())
  }
  tf_fixed <- function(n) {
    transformer(n, heads = 2, depth = 1, d_ff = 128, seq_len = 8, norm = "pre", init = init_lecun())
  }
  res_fun <- function(n, L) {
    resmlp(n, L, "relu", list(init_he(), init_lecun()), branch_depth = 2, n_in = 16, n_out = 10)
  }
  widths <- c(32, 64, 128, 256)
  steps3 <- list(what = "first_step", steps = 3, networks = 20, optimizer = "adam",
                 base_width = 32)
  w_adam <- c(list(widths = widths, layer = 1:3), steps3, list(batch = 32))
  t_adam <- c(list(widths = widths, layer = 1:2), steps3, list(batch = 16))
  d_adam <- c(list(widths = 64, depths = c(2, 4, 8, 16), layer = "output"), steps3,
              list(batch = 32, base_depth = 2))
  d_adam$base_width <- 64
  mk <- function(name, description, correct, param, net_fun, check, correct_net_fun = net_fun) {
    list(name = name, description = description, correct = correct, parametrization = param,
         net_fun = net_fun, correct_net_fun = correct_net_fun, check = check)
  }
  list(
    readout = mk("readout", "read-out variance not divided by the width multiplier (1/(n n_0), not 1/n^2)",
                 mup, bugged(mup, "read-out variance 1/(n n_0)",
                             function(t) set(t, "output", "init_var", -1)),
                 mlp_fun, list(widths = widths, layer = 3, what = "init", networks = 20,
                               batch = 32, base_width = 32)),
    hidden_lr = mk("hidden_lr", "hidden (and query) Adam learning rate not scaled by 1/m_N",
                   mup, bugged(mup, "hidden Adam learning rate not scaled",
                               function(t) set(t, c("hidden", "query"), "lr_adam", 0)),
                   mlp_fun, w_adam),
    dff_fixed = mk("dff_fixed", "FFN width d_ff held fixed (128) while d_model grows",
                   mup, bugged(mup, "d_ff held fixed, hidden rules applied by role", identity),
                   tf_fixed, t_adam, correct_net_fun = tf_fun),
    attention_sqrt = mk("attention_sqrt", "attention logits scaled by 1/sqrt(d_k), not 1/d_k",
                        mup, bugged(mup, "attention 1/sqrt(d_k)",
                                    function(t) set(t, "attention", "multiplier", -0.5)),
                        tf_fun, list(widths = widths, layer = 1, what = "logits", networks = 20,
                                     batch = 16, base_width = 32)),
    eps_unscaled = mk("eps_unscaled", "CompleteP: Adam epsilon not scaled by L^-alpha in the branches",
                      cp, bugged(cp, "Adam epsilon not scaled in depth",
                                 function(t) set(t, c("hidden", "query", "bias"), "eps_depth", 0)),
                      res_fun, c(d_adam, list(eps = 0.01))),
    residual_unscaled = mk("residual_unscaled", "CompleteP: residual branches not scaled by L^-alpha",
                           cp, bugged(cp, "branch multiplier L^-alpha left out",
                                      function(t) set(t, "branch", "multiplier_depth", 0)),
                           res_fun, d_adam)
  )
}
