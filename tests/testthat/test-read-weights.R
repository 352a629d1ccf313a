# read_weights(): files written byte by byte from R (no Python), every
# dtype's exact bit patterns, C and Fortran order, and each malformed case.

u64le <- function(n) {
  out <- raw(8)
  for (k in 1:8) { out[k] <- as.raw(n %% 256); n <- n %/% 256 }
  out
}

# A safetensors file from a list of list(name, dtype, shape, bytes).
write_st <- function(path, tensors, pad = 0, metadata = NULL, header = NULL, extra = raw(0)) {
  off <- 0
  parts <- character(0)
  for (t in tensors) {
    len <- length(t$bytes)
    parts <- c(parts, sprintf('"%s":{"dtype":"%s","shape":[%s],"data_offsets":[%s,%s]}',
                              t$name, t$dtype, paste(t$shape, collapse = ","),
                              format(off, scientific = FALSE), format(off + len, scientific = FALSE)))
    off <- off + len
  }
  if (!is.null(metadata)) parts <- c(sprintf('"__metadata__":%s', metadata), parts)
  if (is.null(header)) header <- paste0("{", paste(parts, collapse = ","), "}")
  hdr <- c(charToRaw(enc2utf8(header)), rep(charToRaw(" "), pad))
  con <- file(path, "wb")
  writeBin(u64le(length(hdr)), con)
  writeBin(hdr, con)
  for (t in tensors) writeBin(t$bytes, con)
  writeBin(extra, con)
  close(con)
  path
}

bytes_of <- function(x, size, what = "double", endian = "little") {
  con <- rawConnection(raw(0), "wb")
  on.exit(close(con))
  if (what == "double") writeBin(as.double(x), con, size = size, endian = endian)
  else writeBin(as.integer(x), con, size = size, endian = endian)
  rawConnectionValue(con)
}
# a signed 64-bit integer's little-endian bytes, exactly
i64le <- function(v) {
  hi <- floor(v / 2^32)
  lo <- v - hi * 2^32
  c(u64le(lo)[1:4], u64le(if (hi < 0) hi + 2^32 else hi)[1:4])
}
u16 <- function(bits) bytes_of(bits, 2, "integer")

# A .npy file: header dict text, then data bytes.
write_npy <- function(path, descr, shape, data, fortran = FALSE, version = 1, header = NULL) {
  shp <- if (length(shape) == 1) sprintf("(%d,)", shape) else
    sprintf("(%s)", paste(shape, collapse = ", "))
  if (is.null(header)) {
    header <- sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr,
                      if (fortran) "True" else "False", shp)
  }
  lb <- if (version == 1) 2 else 4
  total <- 6 + 2 + lb + nchar(header) + 1
  header <- paste0(header, strrep(" ", (64 - total %% 64) %% 64), "\n")
  con <- file(path, "wb")
  writeBin(as.raw(c(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0)), con)
  writeBin(bytes_of(nchar(header), lb, "integer"), con)
  writeBin(charToRaw(header), con)
  writeBin(data, con)
  close(con)
  path
}

test_that("safetensors: every float dtype decodes exactly", {
  p <- tempfile(fileext = ".safetensors")
  on.exit(unlink(p))
  # F16: 0, -0, 1, 65504, smallest subnormal, largest subnormal, smallest
  # normal, Inf, -Inf, NaN, -2
  h16 <- c(0x0000, 0x8000, 0x3C00, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x7C00, 0xFC00, 0x7E00, 0xC000)
  v16 <- c(0, 0, 1, 65504, 2^-24, 1023 * 2^-24, 2^-14, Inf, -Inf, NaN, -2)
  # BF16: 0, -0, 1, largest finite, smallest subnormal, smallest normal, Inf, -Inf, NaN, 3
  hb <- c(0x0000, 0x8000, 0x3F80, 0x7F7F, 0x0001, 0x0080, 0x7F80, 0xFF80, 0x7FC0, 0x4040)
  vb <- c(0, 0, 1, (2 - 2^-7) * 2^127, 2^-133, 2^-126, Inf, -Inf, NaN, 3)
  f32 <- c(0, -1.5, 2^-149, 3.4028234663852886e38, 0.1)
  f64 <- c(pi, -0, .Machine$double.xmin, 1e308)
  write_st(p, list(
    list(name = "h", dtype = "F16", shape = length(h16), bytes = u16(h16)),
    list(name = "b", dtype = "BF16", shape = length(hb), bytes = u16(hb)),
    list(name = "s", dtype = "F32", shape = length(f32), bytes = bytes_of(f32, 4)),
    list(name = "d", dtype = "F64", shape = length(f64), bytes = bytes_of(f64, 8))), pad = 5,
    metadata = '{"format":"pt","note":"a \\"quoted\\" \\u00e9 \\ud83d\\ude00"}')
  w <- read_weights(p)
  expect_named(w, c("h", "b", "s", "d"))
  expect_identical(as.vector(w$h), v16)
  expect_identical(1 / as.vector(w$h)[1:2], c(Inf, -Inf))   # -0 kept
  expect_identical(as.vector(w$b), vb)
  expect_identical(1 / as.vector(w$b)[1:2], c(Inf, -Inf))
  expect_identical(as.vector(w$s), c(0, -1.5, 2^-149, 3.4028234663852886e38, 0.100000001490116119384765625))
  expect_identical(as.vector(w$d), f64)
  expect_identical(vapply(w, attr, "", "dtype"), c(h = "F16", b = "BF16", s = "F32", d = "F64"))
  # names reads only those
  w2 <- read_weights(p, names = c("d", "h"))
  expect_named(w2, c("d", "h"))
  expect_identical(w2$d, w$d)
})

test_that("every half-precision bit pattern matches a plain-R reference", {
  bits <- 0:65535
  s <- bitwAnd(bits, 0x8000) != 0
  e <- bitwAnd(bitwShiftR(bits, 10), 31)
  m <- bitwAnd(bits, 1023)
  ref <- numeric(65536)
  for (k in seq_along(bits)) {
    ref[k] <- if (e[k] == 0) m[k] / 1024 * 2^-14 else if (e[k] == 31) {
      if (m[k] == 0) Inf else NaN } else 2^(e[k] - 15) * (1 + m[k] / 1024)
    if (s[k]) ref[k] <- -ref[k]
  }
  expect_identical(initvar:::half_to_double(bits), ref)
  # bfloat16 is the top half of a float32: R's own float reader is the reference
  f32 <- readBin(as.vector(rbind(raw(65536), raw(65536), as.raw(bits %% 256), as.raw(bits %/% 256))),
                 "double", 65536, size = 4, endian = "little")
  expect_identical(initvar:::bf16_to_double(bits), f32)
})

test_that("safetensors: integer types and BOOL", {
  p <- tempfile(fileext = ".safetensors")
  on.exit(unlink(p))
  i64 <- c(0, -1, 2^40 + 3, -2^52, 2^53)
  i64b <- unlist(lapply(i64, i64le))
  write_st(p, list(
    list(name = "a", dtype = "I64", shape = 5, bytes = i64b),
    list(name = "b", dtype = "I32", shape = 3, bytes = bytes_of(c(-2147483647, 0, 7), 4, "integer")),
    list(name = "c", dtype = "I16", shape = 2, bytes = bytes_of(c(-32768, 32767), 2, "integer")),
    list(name = "d", dtype = "I8", shape = 2, bytes = as.raw(c(0x80, 0x7f))),
    list(name = "e", dtype = "U8", shape = 2, bytes = as.raw(c(0, 255))),
    list(name = "f", dtype = "BOOL", shape = 3, bytes = as.raw(c(1, 0, 1)))))
  w <- read_weights(p)
  expect_identical(as.vector(w$a), i64)
  expect_identical(as.vector(w$b), c(-2147483647, 0, 7))
  expect_identical(as.vector(w$c), c(-32768, 32767))
  expect_identical(as.vector(w$d), c(-128, 127))
  expect_identical(as.vector(w$e), c(0, 255))
  expect_identical(as.vector(w$f), c(TRUE, FALSE, TRUE))
})

test_that("C order: x[i, j] and x[i, j, k] are the file's elements", {
  p <- tempfile(fileext = ".safetensors")
  on.exit(unlink(p))
  # element [i, j] of a (2, 3) C-order array is at offset (i-1)*3 + (j-1)
  m <- c(11, 12, 13, 21, 22, 23)
  a3 <- as.double(0:23)   # (2, 3, 4): [i, j, k] = 12 (i-1) + 4 (j-1) + (k-1)
  write_st(p, list(
    list(name = "m", dtype = "F64", shape = c(2, 3), bytes = bytes_of(m, 8)),
    list(name = "a", dtype = "F32", shape = c(2, 3, 4), bytes = bytes_of(a3, 4)),
    list(name = "empty", dtype = "F32", shape = c(0, 4), bytes = raw(0)),
    list(name = "one", dtype = "F16", shape = 1, bytes = u16(0x3C00)),
    list(name = "scalar", dtype = "F64", shape = integer(0), bytes = bytes_of(5, 8))))
  w <- read_weights(p)
  expect_identical(dim(w$m), c(2L, 3L))
  for (i in 1:2) for (j in 1:3) expect_identical(w$m[i, j], 10 * i + j)
  expect_identical(dim(w$a), c(2L, 3L, 4L))
  for (i in 1:2) for (j in 1:3) for (k in 1:4) {
    expect_identical(w$a[i, j, k], 12 * (i - 1) + 4 * (j - 1) + (k - 1))
  }
  expect_identical(dim(w$empty), c(0L, 4L))
  expect_identical(as.vector(w$one), 1)
  expect_identical(as.vector(w$scalar), 5)
})

test_that("malformed safetensors files are clear errors naming the path", {
  p <- tempfile(fileext = ".safetensors")
  on.exit(unlink(p))
  ok <- list(list(name = "w", dtype = "F32", shape = c(2, 2), bytes = bytes_of(1:4, 4)))
  expect_err <- function(pattern) {
    expect_error(read_weights(p), class = "initvar_error")
    expect_error(read_weights(p), p, fixed = TRUE)
    expect_error(read_weights(p), pattern)
  }
  writeBin(as.raw(1:5), p); expect_err("fewer than the 8")
  con <- file(p, "wb"); writeBin(u64le(1e6), con); writeBin(charToRaw("{}"), con); close(con)
  expect_err("beyond the end of the file")
  con <- file(p, "wb"); writeBin(u64le(2^63), con); close(con)
  expect_err("beyond the end of the file")
  write_st(p, ok, header = '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}')
  expect_err("bad JSON")
  write_st(p, ok, header = '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}} x')
  expect_err("bad JSON.*text after")
  write_st(p, ok, header = '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16],}}')
  expect_err("bad JSON")
  write_st(p, ok, header = '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"w":1}')
  expect_err("duplicate")
  write_st(p, ok, header = '{"w":{"dtype":"F8_E4M3","shape":[2,2],"data_offsets":[0,16]}}')
  expect_err("F8_E4M3")
  write_st(p, ok, header = '{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}}')
  expect_err("needs 24 bytes")
  write_st(p, ok, header = '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"v":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}}')
  expect_err("overlap")
  write_st(p, ok, header = '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[4,20]}}')
  expect_err("hole")
  write_st(p, ok, header = '{"w":{"dtype":"F32","shape":[4,2],"data_offsets":[0,32]}}')
  expect_err("beyond the 16 bytes")
  write_st(p, ok, extra = raw(4))
  expect_err("belong to no tensor")
  write_st(p, ok, header = '{"w":{"dtype":"F32","shape":[-2,2],"data_offsets":[0,16]}}')
  expect_err("non-negative")
  write_st(p, ok, header = '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[16,0]}}')
  expect_err("ends before")
  write_st(p, ok, header = '[1,2]')
  expect_err("not a JSON object")
  write_st(p, ok, header = '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"x":"\\q"}')
  expect_err("bad escape")
  write_st(p, ok)
  expect_error(read_weights(p, names = "nope"), "nope")
  expect_error(read_weights(tempfile()), "not a file")
  expect_error(read_weights(1), "`path` must be")
  expect_error(read_weights(p, names = 1), "`names` must be")
})

test_that("npy: every dtype, both byte orders, versions and Fortran order", {
  p <- tempfile(fileext = ".npy")
  on.exit(unlink(p))
  x <- c(1.5, -2, 3.25, 4, 5, 6)
  write_npy(p, "<f8", c(2, 3), bytes_of(x, 8))
  w <- read_weights(p)
  expect_named(w, sub("\\.npy$", "", basename(p)))
  expect_identical(w[[1]][2, 1], 4)
  expect_identical(w[[1]][1, 3], 3.25)
  expect_identical(attr(w[[1]], "dtype"), "F64")
  write_npy(p, ">f8", c(2, 3), bytes_of(x, 8, endian = "big"), version = 2)
  expect_identical(as.vector(t(read_weights(p)[[1]])), x)
  write_npy(p, ">f4", 6, bytes_of(x, 4, endian = "big"), version = 3)
  expect_identical(as.vector(read_weights(p)[[1]]), x)
  write_npy(p, "<f4", c(2, 3), bytes_of(x, 4), fortran = TRUE)
  expect_identical(as.vector(read_weights(p)[[1]]), x)   # column-major as stored
  expect_identical(read_weights(p)[[1]][2, 1], -2)
  write_npy(p, "<f2", 3, u16(c(0x3C00, 0x8000, 0x7C00)))
  expect_identical(as.vector(read_weights(p)[[1]]), c(1, 0, Inf))
  write_npy(p, "<i8", 2, c(i64le(5), i64le(-3)))
  expect_identical(as.vector(read_weights(p)[[1]]), c(5, -3))
  write_npy(p, "<i4", 2, bytes_of(c(-7, 9), 4, "integer"))
  expect_identical(as.vector(read_weights(p)[[1]]), c(-7, 9))
  write_npy(p, "|u1", 2, as.raw(c(200, 1)))
  expect_identical(as.vector(read_weights(p)[[1]]), c(200, 1))
  write_npy(p, "|b1", 2, as.raw(c(0, 1)))
  expect_identical(as.vector(read_weights(p)[[1]]), c(FALSE, TRUE))
  write_npy(p, "<f8", c(0, 3), raw(0))
  expect_identical(dim(read_weights(p)[[1]]), c(0L, 3L))
  write_npy(p, "<f8", 1, bytes_of(7, 8), header = "{'descr': '<f8', 'fortran_order': False, 'shape': ()}")
  expect_identical(as.vector(read_weights(p)[[1]]), 7)
  # refused
  write_npy(p, "|O", 2, raw(16))
  expect_error(read_weights(p), "object array")
  write_npy(p, "<c16", 1, raw(16))
  expect_error(read_weights(p), "c16")
  write_npy(p, "<f8", 1, raw(16), header = "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,)}")
  expect_error(read_weights(p), "structured")
  write_npy(p, "<f8", 4, bytes_of(1:3, 8))
  expect_error(read_weights(p), "truncated")
  write_npy(p, "<f8", 4, raw(0), header = "{'descr': '<f8', 'shape': (4,)}")
  expect_error(read_weights(p), "fortran_order")
  write_npy(p, "<f8", 4, raw(0), header = "{'descr': '<f8', 'fortran_order': __import__('os'), 'shape': (4,)}")
  expect_error(read_weights(p), "bad .npy header")
  con <- file(p, "wb")
  writeBin(as.raw(c(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0xff, 0xff)), con)
  close(con)
  expect_error(read_weights(p), "beyond the end")
})

test_that("npz: stored and deflated archives", {
  if (!nzchar(Sys.which("zip"))) skip("no `zip` program to write the .npz fixtures")
  d <- tempfile("npz")
  dir.create(d)
  on.exit(unlink(d, recursive = TRUE))
  write_npy(file.path(d, "w.npy"), "<f4", c(2, 2), bytes_of(c(1, 2, 3, 4), 4))
  write_npy(file.path(d, "b.npy"), "<f8", 300, bytes_of(rep(0.5, 300), 8))
  for (flag in c("-0", "-9")) {
    z <- file.path(d, paste0("m", flag, ".npz"))
    old <- setwd(d)
    utils::zip(z, c("w.npy", "b.npy"), flags = paste("-q", flag))
    setwd(old)
    w <- read_weights(z)
    expect_setequal(names(w), c("w", "b"))
    expect_identical(w$w[1, 2], 2)
    expect_identical(as.vector(w$b), rep(0.5, 300))
    expect_named(read_weights(z, names = "b"), "b")
    expect_error(read_weights(z, names = "q"), "\"q\"")
  }
})

test_that("a named list is passed through, checked", {
  w <- read_weights(list(a = matrix(1:4, 2), b = c(TRUE, FALSE), c = matrix(0.5, 2, 2)))
  expect_identical(vapply(w, attr, "", "dtype"), c(a = "I32", b = "BOOL", c = "F64"))
  expect_error(read_weights(list(1, 2)), "`path` must be")
  expect_error(read_weights(list(a = "x")), "numeric or logical")
  expect_named(read_weights(list(a = 1, b = 2), names = "b"), "b")
})

test_that("fuzz: every truncation and random byte corruptions are clean errors or reads", {
  # A valid safetensors file (F32, F16, I64, BOOL tensors) and a valid .npy
  # file; every strict prefix of each must be an initvar_error (from
  # read_weights(), whose header checks weights_stats() shares), and 100
  # (600 in the full tier) random corruptions (1-4 bytes set to random
  # values, or a run of bytes deleted or duplicated) must either read or be
  # an initvar_error: never another error, a warning or a crash.
  # read_weights() and the streamed weights_stats() must agree.
  hdr <- paste0('{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},',
                '"b":{"dtype":"F16","shape":[4],"data_offsets":[24,32]},',
                '"c":{"dtype":"I64","shape":[1],"data_offsets":[32,40]},',
                '"d":{"dtype":"BOOL","shape":[2],"data_offsets":[40,42]}}')
  n <- nchar(hdr)
  st <- c(as.raw(c(n %% 256, n %/% 256)), raw(6), charToRaw(hdr),
          writeBin(as.double(1:6), raw(), size = 4, endian = "little"),
          as.raw(c(0, 60, 0, 188, 0, 0, 0, 124)), as.raw(c(5, rep(0, 7))), as.raw(c(1, 0)))
  h <- "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }"
  h <- paste0(h, strrep(" ", 128 - 10 - nchar(h) - 1), "\n")
  np <- c(as.raw(c(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, nchar(h), 0)), charToRaw(h),
          writeBin(c(0.5, -1, 2, 0), raw(), size = 4, endian = "little"))
  p <- tempfile()
  on.exit(unlink(p))
  put <- function(bytes) writeBin(bytes, p)
  outcome <- function(both = TRUE) {
    r <- c(
      tryCatch({ read_weights(p); "ok" }, initvar_error = function(e) "error",
               error = function(e) paste("other error:", conditionMessage(e)),
               warning = function(w) paste("warning:", conditionMessage(w))),
      if (both) tryCatch({ initvar:::weights_stats(p, chunk = 3); "ok" }, initvar_error = function(e) "error",
               error = function(e) paste("other error:", conditionMessage(e)),
               warning = function(w) paste("warning:", conditionMessage(w))))
    r
  }
  put(st)
  expect_identical(outcome(), c("ok", "ok"))
  put(np)
  expect_identical(outcome(), c("ok", "ok"))
  for (bytes in list(st, np)) {
    for (k in seq_len(length(bytes)) - 1L) {
      put(bytes[seq_len(k)])
      expect_identical(outcome(both = FALSE), "error", info = sprintf("prefix of %d bytes", k))
    }
  }
  set.seed(77)
  for (trial in seq_len(if (test_tier() == "full") 600 else 100)) {
    bytes <- if (trial %% 2) st else np
    kind <- sample(3, 1)
    if (kind == 1) {
      at <- sample(length(bytes), sample(4, 1))
      bytes[at] <- as.raw(sample(0:255, length(at), replace = TRUE))
    } else {
      at <- sample(length(bytes), 1)
      run <- seq(at, min(length(bytes), at + sample(0:7, 1)))
      bytes <- if (kind == 2) bytes[-run] else append(bytes, bytes[run], after = max(run))
    }
    put(bytes)
    r <- outcome()
    expect_true(all(r %in% c("ok", "error")), info = sprintf("trial %d: %s", trial, paste(r, collapse = "; ")))
    expect_identical(r[1], r[2], info = sprintf("trial %d", trial))
  }
})

test_that("malformed .npy files and cut data are clear errors naming the path", {
  # issue 25's four cases in both formats: truncated, a header lying about
  # the shape, an unknown dtype, a header length beyond the file
  p <- tempfile()
  on.exit(unlink(p))
  expect_err <- function(pattern) {
    for (f in list(read_weights, function(x) initvar:::weights_stats(x, chunk = 3))) {
      expect_error(f(p), class = "initvar_error")
      expect_error(f(p), p, fixed = TRUE)
      expect_error(f(p), pattern)
    }
    expect_error(audit_init(p, init_glorot(), layout = "torch"), "`weights`")
  }
  data4 <- bytes_of(c(0.5, -1, 2, 0), 4)
  write_npy(p, "<f4", c(2, 2), data4[1:13]); expect_err("truncated")
  write_npy(p, "<f4", c(2, 3), data4); expect_err("needs 24 bytes")
  write_npy(p, "<f4", c(2, 2), c(data4, raw(4))); expect_err("needs 16 bytes")
  write_npy(p, "<c8", c(2, 2), data4); expect_err("'<c8'")
  write_npy(p, "|O", c(2, 2), data4); expect_err("object")
  write_npy(p, "<f4", c(2, 2), data4, header = "{'descr': '<f4', 'shape': (2, 2), }")
  expect_err("no 'fortran_order'")
  write_npy(p, "<f4", c(2, 2), data4, header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -2), }")
  expect_err("bad .npy header|non-negative")
  b <- readBin(write_npy(p, "<f4", c(2, 2), data4), "raw", 1000)
  b[9:10] <- as.raw(c(0xff, 0xff)); writeBin(b, p); expect_err("beyond the end of the file")
  # safetensors: the data cut short, the header's length beyond the file
  ok <- list(list(name = "w", dtype = "F32", shape = c(2, 2), bytes = bytes_of(1:4, 4)))
  b <- readBin(write_st(p, ok), "raw", 1000)
  writeBin(b[seq_len(length(b) - 3)], p); expect_err("beyond the 13 bytes of data.*truncated")
  b2 <- b; b2[1:8] <- u64le(length(b)); writeBin(b2, p); expect_err("beyond the end of the file")
})
