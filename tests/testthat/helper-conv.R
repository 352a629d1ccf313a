# A plain-R reference convolution, independent of the package, for
# test-conv.R and test-jacobian-conv.R.

# x: B x (c H W), rows flattened channel-major (NCHW); Wt: torch's (c_out,
# c_in / G, kh, kw) array; one output row per example, NCHW as well.
ref_conv <- function(x, Wt, b, H, Wd, k, s, dl, G, padding) {
  B <- nrow(x); cout <- dim(Wt)[1]; cing <- dim(Wt)[2]; cin <- cing * G
  if (padding == "valid") {
    pad <- c(0, 0)
    out <- floor((c(H, Wd) - dl * (k - 1) - 1) / s) + 1
  } else {
    pad <- floor(dl * (k - 1) / 2)
    out <- ceiling(c(H, Wd) / s)
  }
  col <- function(ci, h, w) (ci - 1) * H * Wd + (h - 1) * Wd + w
  res <- matrix(0, B, cout * prod(out))
  coutg <- cout / G
  for (o in seq_len(cout)) {
    g <- (o - 1) %/% coutg
    for (ho in seq_len(out[1])) for (wo in seq_len(out[2])) {
      acc <- rep(b[o], B)
      for (cc in seq_len(cing)) for (a in seq_len(k[1])) for (t in seq_len(k[2])) {
        ih <- s[1] * (ho - 1) + dl[1] * (a - 1) - pad[1]
        iw <- s[2] * (wo - 1) + dl[2] * (t - 1) - pad[2]
        if (padding == "circular") { ih <- ih %% H; iw <- iw %% Wd }
        if (ih < 0 || ih >= H || iw < 0 || iw >= Wd) next
        acc <- acc + Wt[o, cc, a, t] * x[, col(g * cing + cc, ih + 1, iw + 1)]
      }
      res[, (o - 1) * prod(out) + (ho - 1) * out[2] + wo] <- acc
    }
  }
  res
}

# Global average pool over positions of each channel, then x V + b.
ref_pool <- function(x, V, b, c) {
  P <- ncol(x) / c
  m <- sapply(seq_len(c), function(ch) rowMeans(x[, (ch - 1) * P + seq_len(P), drop = FALSE]))
  m <- matrix(m, nrow(x))
  m %*% V + matrix(b, nrow(x), length(b), byrow = TRUE)
}

# Layer i of a cnn() as the reference sees it: a function of its input and
# the engine's drawn W (K x c_out, column o = torch's weight[o, , , ] in C
# order) and b.
ref_layer <- function(l, W, b) {
  if (isTRUE(l$pool)) return(function(x) ref_pool(x, W, b, l$conv$in_features))
  cl <- l$conv
  hw <- function(v) if (length(v) == 1) c(1, v) else v
  k <- hw(cl$kernel_size)
  Wt <- aperm(array(W, c(k[2], k[1], cl$in_channels / cl$groups, cl$out_channels)), 4:1)
  si <- hw(l$spatial_in)
  function(x) ref_conv(x, Wt, b, si[1], si[2], k, hw(cl$stride), hw(cl$dilation),
                       cl$groups, cl$padding)
}

ref_act <- function(name) switch(name, tanh = tanh, relu = function(x) pmax(x, 0),
                                 linear = identity)

