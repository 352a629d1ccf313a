# Reading the weights of a saved model: safetensors, NumPy .npy and .npz,
# or a named list of R arrays. Plain R, tensor by tensor with seek(): the
# file is never read whole, and every offset and length is checked against
# the file's size before anything is read.

#' Read a model's weights: safetensors, NumPy `.npy` / `.npz`, or R arrays
#'
#' Reads the tensors of a saved model into R arrays, keeping their names,
#' shapes and stored types, for [audit_init()]. The format is recognized by
#' the file's first bytes, not its name:
#'
#' * **safetensors**: an unsigned 64-bit little-endian header length N, N
#'   bytes of UTF-8 JSON (space padding and a `__metadata__` map allowed),
#'   then the data, whose `data_offsets` must cover it without holes or
#'   overlap. Dtypes `F64`, `F32`, `F16`, `BF16` (decoded exactly, with
#'   subnormals, infinities and NaN), `I64`, `I32`, `I16`, `I8`, `U8` (as
#'   numbers; `I64` beyond \eqn{2^{53}} rounds to the nearest double) and
#'   `BOOL` (as logicals). Any other dtype (the 8-bit floats, `U16`, ...)
#'   is an error naming it.
#' * **NumPy `.npy`** (format versions 1, 2 and 3): the header's Python
#'   dictionary is parsed, not evaluated. Types `f2`, `f4`, `f8`, `i1`,
#'   `i2`, `i4`, `i8`, `u1`, `u2`, `u4` and `b1`, little- or big-endian
#'   (big-endian bytes are swapped), C or Fortran order. Object, string,
#'   complex and structured arrays are refused.
#' * **NumPy `.npz`**: a zip of `.npy` files, stored or deflated, unpacked
#'   one member at a time with [utils::unzip()] into a temporary directory.
#' * **a named list of numeric or logical arrays**, returned as given
#'   (checked, with a `"dtype"` attribute of `"F64"`, `"I32"` or `"BOOL"`
#'   where it has none).
#'
#' A row-major (C-order) array of shape `(a, b)` is returned so that
#' `x[i, j]` is the file's element `[i, j]`: the stored shape is kept, not
#' reversed. A 0-dimensional tensor is a plain number.
#'
#' A malformed or truncated file (a header length beyond the file, bad
#' JSON, offsets beyond the data or with holes or overlaps, a shape that
#' does not match the bytes, an unknown dtype) is an error naming `path`
#' and what is wrong; nothing is read past the end of the file.
#'
#' @param path A file path (safetensors, `.npy` or `.npz`), or a named list
#'   of numeric or logical arrays.
#' @param names `NULL` (every tensor), or the names of the tensors to read:
#'   only those are read from the file. A name the file does not hold is an
#'   error.
#' @return A named list of arrays, each with attribute `"dtype"`: the
#'   stored type in safetensors' spelling (`"F32"`, `"BF16"`, `"I64"`,
#'   `"BOOL"`, ...; a `.npy` `"<f4"` is `"F32"`).
#' @seealso [audit_init()], which tests each tensor against the scheme it
#'   should have been drawn from.
#' @examples
#' # a safetensors file with one 2 x 3 F32 tensor, written byte by byte
#' path <- tempfile(fileext = ".safetensors")
#' hdr <- '{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}'
#' con <- file(path, "wb")
#' writeBin(c(as.raw(nchar(hdr)), raw(7)), con)
#' writeBin(charToRaw(hdr), con)
#' writeBin(as.double(1:6), con, size = 4, endian = "little")   # row-major
#' close(con)
#' w <- read_weights(path)
#' w$w            # rows 1 2 3 and 4 5 6
#' attr(w$w, "dtype")
#' unlink(path)
#' @export
read_weights <- function(path, names = NULL) {
  if (!is.null(names) && (!is.character(names) || anyNA(names) || length(names) == 0)) {
    abort_arg("names", "NULL or a character vector of tensor names", names)
  }
  if (is.list(path) && !is.data.frame(path)) return(weights_from_list(path, names))
  f <- open_weights_file(path)
  if (!is.null(f$con)) on.exit(close(f$con))
  switch(f$format,
    npy = {
      out <- list(read_npy_con(f$con, f$size, 0, path, ""))
      names(out) <- npy_tensor_name(path)
      if (!is.null(names)) out <- pick_tensors(out, names, path)
      out
    },
    npz = read_npz(path, names),
    safetensors = read_safetensors(f$con, f$size, f$magic, path, names))
}

npy_magic <- as.raw(c(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59))
zip_magic <- as.raw(c(0x50, 0x4b, 0x03, 0x04))

# The one opening of a weights file, shared by read_weights() and
# weights_stats(): `path` checked, its size, its format from its first 8
# bytes, and (for .npy and safetensors) an open connection just past them,
# which the caller closes; a .npz is opened member by member by npz_each().
open_weights_file <- function(path) {
  read_weights_check_path(path)
  size <- file.size(path)
  con <- file(path, "rb")
  magic <- readBin(con, "raw", 8)
  format <- if (length(magic) >= 6 && identical(magic[1:6], npy_magic)) "npy" else
    if (length(magic) >= 4 && identical(magic[1:4], zip_magic)) "npz" else "safetensors"
  if (format == "npz") {
    close(con)
    con <- NULL
  }
  list(con = con, size = size, magic = magic, format = format)
}

npy_tensor_name <- function(path) sub("\\.npy$", "", basename(path))

read_weights_check_path <- function(path) {
  if (!is.character(path) || length(path) != 1 || is.na(path) || !nzchar(path)) {
    abort_arg("path", "a file path or a named list of arrays", path)
  }
  if (!file.exists(path) || dir.exists(path)) {
    abort(sprintf("`path` \"%s\" is not a file.", path))
  }
  invisible(path)
}

# An error about the file: names `path` and what is wrong.
abort_file <- function(path, what) {
  abort(sprintf("`path` \"%s\" is not a valid weights file: %s.", path, what))
}

pick_tensors <- function(x, names, path) {
  missing_names <- setdiff(names, base::names(x))
  if (length(missing_names)) {
    abort(sprintf("`names` asks for %s, which `path` \"%s\" does not hold (it has %s).",
                  paste0("\"", missing_names, "\"", collapse = ", "), path,
                  if (length(x)) paste0("\"", utils::head(base::names(x), 8), "\"", collapse = ", ") else "no tensors"))
  }
  x[names]
}

weights_from_list <- function(x, names) {
  nm <- base::names(x)
  if (length(x) == 0 || is.null(nm) || anyNA(nm) || any(!nzchar(nm)) || anyDuplicated(nm)) {
    abort_arg("path", "a file path or a list of arrays with distinct, non-empty names", x)
  }
  for (i in seq_along(x)) {
    v <- x[[i]]
    if (!(is.numeric(v) || is.logical(v))) {
      abort(sprintf("`path`[[\"%s\"]] must be a numeric or logical array, not %s.", nm[i], describe(v)))
    }
    if (is.null(attr(v, "dtype"))) {
      attr(v, "dtype") <- if (is.logical(v)) "BOOL" else if (is.integer(v)) "I32" else "F64"
      x[[i]] <- v
    }
  }
  if (!is.null(names)) x <- pick_tensors(x, names, "<list>")
  x
}

# ---- bytes to numbers --------------------------------------------------------

dtype_bytes <- c(F64 = 8, F32 = 4, F16 = 2, BF16 = 2, I64 = 8, I32 = 4, I16 = 2,
                 I8 = 1, U8 = 1, U16 = 2, U32 = 4, BOOL = 1)

# IEEE half precision from its 16 bits (as 0..65535), exactly.
half_to_double <- function(bits) {
  s <- bits %/% 32768
  e <- (bits %/% 1024) %% 32
  m <- bits %% 1024
  v <- ifelse(e == 0, m * 2^-24,
              ifelse(e == 31, ifelse(m == 0, Inf, NaN), (1 + m / 1024) * 2^(e - 15)))
  ifelse(s == 1, -v, v)
}

# bfloat16 (the top 16 bits of a float32) from its bits, exactly.
bf16_to_double <- function(bits) {
  s <- bits %/% 32768
  e <- (bits %/% 128) %% 256
  m <- bits %% 128
  v <- ifelse(e == 0, m * 2^-133,
              ifelse(e == 255, ifelse(m == 0, Inf, NaN), (1 + m / 128) * 2^(e - 127)))
  ifelse(s == 1, -v, v)
}

# n elements of a dtype from the connection's position, as R values.
read_elements <- function(con, dtype, n, endian) {
  if (n == 0) return(if (dtype == "BOOL") logical(0) else numeric(0))
  switch(dtype,
    F64 = readBin(con, "double", n, size = 8, endian = endian),
    F32 = readBin(con, "double", n, size = 4, endian = endian),
    F16 = half_to_double(readBin(con, "integer", n, size = 2, signed = FALSE, endian = endian)),
    BF16 = bf16_to_double(readBin(con, "integer", n, size = 2, signed = FALSE, endian = endian)),
    I32 = as.double(readBin(con, "integer", n, size = 4, endian = endian)),
    I16 = as.double(readBin(con, "integer", n, size = 2, signed = TRUE, endian = endian)),
    I8 = as.double(readBin(con, "integer", n, size = 1, signed = TRUE)),
    U8 = as.double(readBin(con, "integer", n, size = 1, signed = FALSE)),
    U16 = as.double(readBin(con, "integer", n, size = 2, signed = FALSE, endian = endian)),
    U32 = {
      v <- as.double(readBin(con, "integer", n, size = 4, endian = endian))
      ifelse(v < 0, v + 2^32, v)
    },
    I64 = {
      b <- matrix(as.double(readBin(con, "raw", 8 * n)), 8)
      if (endian == "big") b <- b[8:1, , drop = FALSE]
      lo <- colSums(b[1:4, , drop = FALSE] * 256^(0:3))
      hi <- colSums(b[5:8, , drop = FALSE] * 256^(0:3))
      hi <- ifelse(hi >= 2^31, hi - 2^32, hi)
      hi * 2^32 + lo
    },
    BOOL = readBin(con, "integer", n, size = 1, signed = FALSE) != 0L)
}

# Row-major (C order) values into an R array of the stored shape.
c_order_array <- function(v, shape, fortran = FALSE) {
  if (length(shape) == 0) return(v)
  if (length(shape) == 1 || fortran) return(array(v, shape))
  aperm(array(v, rev(shape)), rev(seq_along(shape)))
}

# ---- safetensors -------------------------------------------------------------

read_safetensors <- function(con, size, first8, path, names) {
  ix <- st_index(con, size, first8, path)
  info <- ix$entries
  tn <- base::names(info)
  want <- if (is.null(names)) seq_along(info) else {
    pick_tensors(stats::setNames(as.list(seq_along(info)), tn), names, path)
    match(names, tn)
  }
  out <- lapply(want, function(i) {
    e <- info[[i]]
    seek(con, e$offset)
    v <- read_elements(con, e$dtype, e$n, "little")
    if (length(v) != e$n) abort_file(path, sprintf("tensor \"%s\" is truncated", tn[i]))
    v <- c_order_array(v, e$shape)
    attr(v, "dtype") <- e$dtype
    v
  })
  base::names(out) <- tn[want]
  out
}

# The tensors of a safetensors file, checked, without their data: a named
# list of entries (dtype, shape, n, absolute byte offset, endian).
st_index <- function(con, size, first8, path) {
  if (length(first8) < 8) abort_file(path, sprintf("it has %d bytes, fewer than the 8 of a safetensors header length", length(first8)))
  n_header <- sum(as.double(first8) * 256^(0:7))
  if (n_header == 0) abort_file(path, "the safetensors header length is 0")
  if (n_header > size - 8) {
    abort_file(path, sprintf("the header length %s is beyond the end of the file (%s bytes): truncated, or not a safetensors file",
                             format(n_header, scientific = FALSE), format(size, scientific = FALSE)))
  }
  if (n_header > 1e8) abort_file(path, "the safetensors header is longer than 100 MB")
  hdr_raw <- readBin(con, "raw", n_header)
  if (any(hdr_raw == as.raw(0))) abort_file(path, "the header holds a NUL byte")
  txt <- rawToChar(hdr_raw)
  Encoding(txt) <- "UTF-8"
  if (!validUTF8(txt)) abort_file(path, "the header is not valid UTF-8")
  h <- tryCatch(parse_json(txt), initvar_json_error = function(e) {
    abort_file(path, paste("bad JSON in the header:", conditionMessage(e)))
  })
  if (!is.list(h) || !isTRUE(attr(h, "json_object"))) abort_file(path, "the header is not a JSON object")
  h[["__metadata__"]] <- NULL
  buffer <- size - 8 - n_header
  tn <- base::names(h)
  if (anyDuplicated(tn)) abort_file(path, sprintf("tensor \"%s\" appears twice", tn[anyDuplicated(tn)]))
  info <- lapply(seq_along(h), function(i) st_entry(h[[i]], tn[i], path))
  begin <- vapply(info, `[[`, 1, "begin")
  end <- vapply(info, `[[`, 1, "end")
  o <- order(begin, end)
  pos <- 0
  for (i in o) {
    if (begin[i] < pos) abort_file(path, sprintf("tensor \"%s\"'s data_offsets [%s, %s] overlap another tensor's", tn[i], fmt_int(begin[i]), fmt_int(end[i])))
    if (begin[i] > pos) abort_file(path, sprintf("a hole in the data: bytes %s to %s belong to no tensor", fmt_int(pos), fmt_int(begin[i])))
    pos <- end[i]
  }
  if (pos > buffer) {
    abort_file(path, sprintf("data_offsets reach byte %s, beyond the %s bytes of data after the header: truncated",
                             fmt_int(pos), fmt_int(buffer)))
  }
  if (pos < buffer) abort_file(path, sprintf("%s bytes after the last tensor belong to no tensor", fmt_int(buffer - pos)))
  for (i in seq_along(info)) {
    info[[i]]$offset <- 8 + n_header + info[[i]]$begin
    info[[i]]$endian <- "little"
    info[[i]]$fortran <- FALSE
  }
  base::names(info) <- tn
  list(entries = info)
}

fmt_int <- function(x) format(x, scientific = FALSE, trim = TRUE)

st_entry <- function(e, name, path) {
  bad <- function(what) abort_file(path, sprintf("tensor \"%s\": %s", name, what))
  if (!is.list(e) || !isTRUE(attr(e, "json_object"))) bad("its entry is not a JSON object")
  dtype <- e[["dtype"]]
  if (!is.character(dtype) || length(dtype) != 1) bad("no string `dtype`")
  if (!dtype %in% base::names(dtype_bytes) || dtype %in% c("U16", "U32")) {
    abort_file(path, sprintf("tensor \"%s\" has dtype \"%s\", which read_weights() does not read (it reads %s)",
                             name, dtype, paste(setdiff(base::names(dtype_bytes), c("U16", "U32")), collapse = ", ")))
  }
  shape <- e[["shape"]]
  if (is.null(shape) || !is.list(shape) || isTRUE(attr(shape, "json_object"))) bad("no `shape` array")
  scalar_ints <- function(l) all(vapply(l, function(s) is.numeric(s) && length(s) == 1, TRUE))
  if (!scalar_ints(shape)) bad("`shape` is not an array of non-negative integers")
  shape <- unlist(shape)
  if (length(shape) && any(shape < 0 | shape != round(shape))) bad("`shape` is not an array of non-negative integers")
  shape <- as.double(shape)
  off <- e[["data_offsets"]]
  offv <- if (is.list(off) && !isTRUE(attr(off, "json_object")) && scalar_ints(off)) unlist(off)
  if (!is.numeric(offv) || length(offv) != 2 || length(off) != 2 || any(offv < 0 | offv != round(offv))) {
    bad("`data_offsets` is not two non-negative integers")
  }
  if (offv[2] < offv[1]) bad("`data_offsets` ends before it begins")
  n <- prod(shape)
  if (n > max_vector_length) bad("its shape has more elements than R can store")
  if (n * dtype_bytes[[dtype]] != offv[2] - offv[1]) {
    bad(sprintf("shape [%s] of %s needs %s bytes, but data_offsets give %s",
                paste(fmt_int(shape), collapse = ", "), dtype, fmt_int(n * dtype_bytes[[dtype]]),
                fmt_int(offv[2] - offv[1])))
  }
  list(dtype = dtype, shape = shape, n = n, begin = offv[1], end = offv[2])
}

# ---- a strict JSON parser ----------------------------------------------------
# Objects (named lists with attribute "json_object"), arrays (lists),
# strings (with every escape, surrogate pairs joined), numbers, true, false,
# null. Anything else, or anything after the value but whitespace, is an
# error of class initvar_json_error.

parse_json <- function(txt) {
  cp <- utf8ToInt(txt)
  if (length(cp) == 1 && is.na(cp)) json_fail("not valid UTF-8", 1)
  n <- length(cp)
  i <- 1L
  ws <- c(32L, 9L, 10L, 13L)
  skip <- function() while (i <= n && cp[i] %in% ws) i <<- i + 1L
  depth <- 0L
  value <- function() {
    skip()
    if (i > n) json_fail("unexpected end", i)
    ch <- cp[i]
    if (ch == 123L) return(object())
    if (ch == 91L) return(array_())
    if (ch == 34L) return(string())
    if (ch == 45L || (ch >= 48L && ch <= 57L)) return(number())
    for (lit in list(list("true", TRUE), list("false", FALSE), list("null", NULL))) {
      k <- utf8ToInt(lit[[1]])
      if (i + length(k) - 1L <= n && all(cp[i:(i + length(k) - 1L)] == k)) {
        i <<- i + length(k)
        return(lit[[2]])
      }
    }
    json_fail(sprintf("unexpected character '%s'", intToUtf8(ch)), i)
  }
  enter <- function() {
    depth <<- depth + 1L
    if (depth > 64L) json_fail("nested more than 64 deep", i)
  }
  object <- function() {
    enter()
    i <<- i + 1L
    out <- list()
    keys <- character(0)
    skip()
    if (i <= n && cp[i] == 125L) {
      i <<- i + 1L
    } else repeat {
      skip()
      if (i > n || cp[i] != 34L) json_fail("expected a string key", i)
      k <- string()
      if (k %in% keys) json_fail(sprintf("duplicate key \"%s\"", k), i)
      skip()
      if (i > n || cp[i] != 58L) json_fail("expected ':'", i)
      i <<- i + 1L
      v <- value()
      keys <- c(keys, k)
      out[length(out) + 1L] <- list(v)
      skip()
      if (i > n) json_fail("unexpected end in an object", i)
      if (cp[i] == 44L) { i <<- i + 1L; next }
      if (cp[i] == 125L) { i <<- i + 1L; break }
      json_fail("expected ',' or '}'", i)
    }
    base::names(out) <- keys
    attr(out, "json_object") <- TRUE
    depth <<- depth - 1L
    out
  }
  array_ <- function() {
    enter()
    i <<- i + 1L
    out <- list()
    skip()
    if (i <= n && cp[i] == 93L) {
      i <<- i + 1L
    } else repeat {
      v <- value()
      out[length(out) + 1L] <- list(v)
      skip()
      if (i > n) json_fail("unexpected end in an array", i)
      if (cp[i] == 44L) { i <<- i + 1L; next }
      if (cp[i] == 93L) { i <<- i + 1L; break }
      json_fail("expected ',' or ']'", i)
    }
    depth <<- depth - 1L
    out
  }
  hex4 <- function() {
    if (i + 3L > n) json_fail("truncated \\u escape", i)
    h <- intToUtf8(cp[i:(i + 3L)])
    if (!grepl("^[0-9a-fA-F]{4}$", h)) json_fail("bad \\u escape", i)
    i <<- i + 4L
    strtoi(h, 16L)
  }
  string <- function() {
    i <<- i + 1L
    out <- integer(0)
    repeat {
      # the run up to the next quote or backslash, in one step
      rest <- which(cp[i:n] == 34L | cp[i:n] == 92L | cp[i:n] < 32L)
      if (i > n || length(rest) == 0) json_fail("unterminated string", i)
      j <- i + rest[1] - 1L
      if (j > i) out <- c(out, cp[i:(j - 1L)])
      i <<- j
      ch <- cp[i]
      if (ch < 32L) json_fail("a control character in a string", i)
      if (ch == 34L) { i <<- i + 1L; break }
      i <<- i + 1L
      if (i > n) json_fail("unterminated escape", i)
      e <- cp[i]
      i <<- i + 1L
      code <- switch(intToUtf8(e), '"' = 34L, "\\" = 92L, "/" = 47L, b = 8L, f = 12L,
                     n = 10L, r = 13L, t = 9L, u = NA_integer_,
                     json_fail(sprintf("bad escape '\\%s'", intToUtf8(e)), i - 1L))
      if (is.na(code)) {
        code <- hex4()
        if (code >= 0xD800 && code <= 0xDBFF) {
          if (i + 1L <= n && cp[i] == 92L && cp[i + 1L] == 117L) {
            i <<- i + 2L
            lo <- hex4()
            if (lo < 0xDC00 || lo > 0xDFFF) json_fail("unpaired surrogate", i)
            code <- 0x10000 + (code - 0xD800) * 1024 + (lo - 0xDC00)
          } else json_fail("unpaired surrogate", i)
        } else if (code >= 0xDC00 && code <= 0xDFFF) json_fail("unpaired surrogate", i)
        if (code == 0) json_fail("a NUL character in a string", i)
      }
      out <- c(out, as.integer(code))
    }
    if (length(out)) intToUtf8(out) else ""
  }
  number <- function() {
    rest <- intToUtf8(cp[i:min(n, i + 400L)])
    m <- regmatches(rest, regexpr("^-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?", rest))
    if (length(m) == 0 || !nzchar(m)) json_fail("bad number", i)
    i <<- i + nchar(m)
    as.double(m)
  }
  v <- value()
  skip()
  if (i <= n) json_fail("text after the JSON value", i)
  v
}

json_fail <- function(msg, at) {
  stop(errorCondition(sprintf("%s at character %d", msg, at), class = "initvar_json_error"))
}

# ---- NumPy .npy and .npz -----------------------------------------------------

# A .npy array from a connection whose first 8 bytes (magic and version)
# have been read; `size` is the file's size, `start` its offset in the file.
read_npy_con <- function(con, size, start, path, member) {
  e <- npy_index(con, size, start, path, member)
  seek(con, e$offset)
  v <- read_elements(con, e$dtype, e$n, e$endian)
  v <- c_order_array(v, e$shape, e$fortran)
  attr(v, "dtype") <- e$dtype
  v
}

# The header of a .npy array, checked, as an entry (dtype, shape, n,
# absolute byte offset, endian, fortran) without its data.
npy_index <- function(con, size, start, path, member) {
  where <- if (nzchar(member)) sprintf(" (member \"%s\")", member) else ""
  bad <- function(what) abort_file(path, paste0(what, where))
  seek(con, start + 6)
  ver <- as.integer(readBin(con, "raw", 2))
  if (length(ver) < 2) bad("a truncated .npy header")
  if (!ver[1] %in% 1:3) bad(sprintf(".npy format version %d.%d, not 1, 2 or 3", ver[1], ver[2]))
  lb <- if (ver[1] == 1) 2 else 4
  lraw <- readBin(con, "raw", lb)
  if (length(lraw) < lb) bad("a truncated .npy header")
  hlen <- sum(as.double(lraw) * 256^(0:(lb - 1)))
  data_start <- start + 6 + 2 + lb + hlen
  if (data_start > size) bad(sprintf("the .npy header length %s is beyond the end of the file", fmt_int(hlen)))
  hraw <- readBin(con, "raw", hlen)
  if (any(hraw == as.raw(0))) bad("the .npy header holds a NUL byte")
  htxt <- rawToChar(hraw)
  Encoding(htxt) <- if (ver[1] == 3) "UTF-8" else "latin1"
  h <- tryCatch(parse_pydict(htxt), initvar_json_error = function(e) {
    bad(paste("a bad .npy header:", conditionMessage(e)))
  })
  for (k in c("descr", "fortran_order", "shape")) {
    if (!k %in% base::names(h)) bad(sprintf("the .npy header has no '%s'", k))
  }
  descr <- h$descr
  if (!is.character(descr) || length(descr) != 1) bad("a structured .npy dtype, which read_weights() refuses")
  fortran <- h$fortran_order
  if (!is.logical(fortran) || length(fortran) != 1) bad("'fortran_order' is not True or False")
  shape <- h$shape
  if (!isTRUE(attr(shape, "tuple")) || (length(shape) && (!is.numeric(unlist(shape)) ||
      length(unlist(shape)) != length(shape) || any(unlist(shape) < 0)))) {
    bad("'shape' is not a tuple of non-negative integers")
  }
  shape <- as.double(unlist(shape))
  dt <- npy_dtype(descr, bad)
  n <- prod(shape)
  if (n > max_vector_length) bad("its shape has more elements than R can store")
  need <- n * dtype_bytes[[dt$dtype]]
  have <- size - data_start
  if (need != have) {
    bad(sprintf("shape (%s) of '%s' needs %s bytes of data, the file has %s%s",
                paste(fmt_int(shape), collapse = ", "), descr, fmt_int(need), fmt_int(have),
                if (need > have) ": truncated" else ""))
  }
  list(dtype = dt$dtype, shape = shape, n = n, offset = data_start, endian = dt$endian,
       fortran = fortran)
}

npy_dtype <- function(descr, bad) {
  m <- regmatches(descr, regexec("^([<>|=]?)([a-zA-Z])([0-9]*)$", descr))[[1]]
  if (length(m) == 0) bad(sprintf("the .npy dtype '%s', which read_weights() does not read", descr))
  order <- m[2]
  key <- paste0(m[3], m[4])
  map <- c(f8 = "F64", f4 = "F32", f2 = "F16", i8 = "I64", i4 = "I32", i2 = "I16", i1 = "I8",
           u1 = "U8", u2 = "U16", u4 = "U32", b1 = "BOOL")
  if (!key %in% base::names(map)) {
    bad(sprintf("the .npy dtype '%s'%s, which read_weights() does not read", descr,
                if (m[3] == "O") " (an object array)" else ""))
  }
  endian <- switch(order, ">" = "big", "<" = "little", .Platform$endian)
  list(dtype = map[[key]], endian = endian)
}

# The Python dict literal of a .npy header: string keys, values strings,
# True/False/None, integers, and tuples or lists of them.
parse_pydict <- function(txt) {
  cp <- utf8ToInt(txt)
  if (length(cp) == 1 && is.na(cp)) json_fail("not valid text", 1)
  n <- length(cp)
  i <- 1L
  skip <- function() while (i <= n && cp[i] %in% c(32L, 9L, 10L, 13L)) i <<- i + 1L
  expect <- function(ch) {
    skip()
    if (i > n || cp[i] != utf8ToInt(ch)) json_fail(sprintf("expected '%s'", ch), i)
    i <<- i + 1L
  }
  pystring <- function() {
    q <- cp[i]
    i <<- i + 1L
    j <- i
    while (j <= n && cp[j] != q) {
      if (cp[j] == 92L) json_fail("an escape in a string", j)
      j <- j + 1L
    }
    if (j > n) json_fail("unterminated string", i)
    s <- if (j > i) intToUtf8(cp[i:(j - 1L)]) else ""
    i <<- j + 1L
    s
  }
  depth <- 0L
  value <- function() {
    skip()
    if (i > n) json_fail("unexpected end", i)
    ch <- cp[i]
    if (ch == 39L || ch == 34L) return(pystring())
    if (ch == 40L || ch == 91L) {
      depth <<- depth + 1L
      if (depth > 8L) json_fail("nested too deep", i)
      close <- if (ch == 40L) 41L else 93L
      i <<- i + 1L
      out <- list()
      repeat {
        skip()
        if (i > n) json_fail("unterminated tuple", i)
        if (cp[i] == close) { i <<- i + 1L; break }
        out[length(out) + 1L] <- list(value())
        skip()
        if (i <= n && cp[i] == 44L) { i <<- i + 1L; next }
        if (i <= n && cp[i] == close) { i <<- i + 1L; break }
        json_fail("expected ',' or the tuple's end", i)
      }
      depth <<- depth - 1L
      attr(out, "tuple") <- TRUE
      return(out)
    }
    rest <- intToUtf8(cp[i:min(n, i + 40L)])
    m <- regmatches(rest, regexpr("^([0-9]+L?|True|False|None)", rest))
    if (length(m) == 0) json_fail(sprintf("unexpected '%s'", intToUtf8(ch)), i)
    i <<- i + nchar(m)
    switch(m, True = TRUE, False = FALSE, None = NA, as.double(sub("L$", "", m)))
  }
  expect("{")
  out <- list()
  repeat {
    skip()
    if (i > n) json_fail("unterminated dict", i)
    if (cp[i] == 125L) { i <- i + 1L; break }
    if (!cp[i] %in% c(39L, 34L)) json_fail("expected a string key", i)
    k <- pystring()
    if (k %in% base::names(out)) json_fail(sprintf("duplicate key '%s'", k), i)
    expect(":")
    out[k] <- list(value())
    skip()
    if (i <= n && cp[i] == 44L) { i <- i + 1L; next }
    if (i <= n && cp[i] == 125L) { i <- i + 1L; break }
    json_fail("expected ',' or '}'", i)
  }
  skip()
  if (i <= n) json_fail("text after the dict", i)
  out
}

read_npz <- function(path, names) {
  npz_each(path, names, function(con, size, m) read_npy_con(con, size, 0, path, m))
}

# fun(con, size, member) on each .npy member of a .npz, unpacked one at a
# time into a temporary directory and deleted after.
npz_each <- function(path, names, fun) {
  listing <- tryCatch(utils::unzip(path, list = TRUE),
                      error = function(e) abort_file(path, paste("a bad zip archive:", conditionMessage(e))),
                      warning = function(w) abort_file(path, paste("a bad zip archive:", conditionMessage(w))))
  members <- listing$Name[grepl("\\.npy$", listing$Name)]
  tn <- sub("\\.npy$", "", members)
  if (!is.null(names)) {
    pick_tensors(stats::setNames(as.list(members), tn), names, path)
    members <- members[match(names, tn)]
    tn <- names
  }
  dir <- tempfile("initvar-npz")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  out <- lapply(members, function(m) {
    f <- tryCatch(utils::unzip(path, files = m, exdir = dir, junkpaths = TRUE),
                  error = function(e) abort_file(path, sprintf("member \"%s\" could not be unpacked: %s", m, conditionMessage(e))),
                  warning = function(w) abort_file(path, sprintf("member \"%s\" could not be unpacked: %s", m, conditionMessage(w))))
    if (length(f) != 1 || !file.exists(f)) abort_file(path, sprintf("member \"%s\" could not be unpacked", m))
    on.exit(unlink(f))
    size <- file.size(f)
    con <- file(f, "rb")
    on.exit(close(con), add = TRUE, after = FALSE)
    magic <- readBin(con, "raw", 6)
    if (!identical(magic, npy_magic)) {
      abort_file(path, sprintf("member \"%s\" is not a .npy file", m))
    }
    fun(con, size, m)
  })
  base::names(out) <- tn
  out
}

# ---- streamed per-tensor statistics ------------------------------------------
# What audit_init() needs of a tensor, computed in windows of `chunk`
# elements so that no tensor is held whole: its count, non-finite count,
# sums of the powers 1..4 about a shift (the first window's mean), minimum
# and maximum. The statistics do not
# depend on the order of the elements, so C or Fortran order is irrelevant.
# The raw moments are derived from the shifted sums.

# `spec`: NULL, or list(breaks = inner edges of bins whose counts are kept,
# or NULL; block = NULL, or the row length of a matrix, in row-major
# order, whose Gram matrix is kept: M'M when it has at least as many rows
# as columns, else M M' from its rows collected).
stats_new <- function(spec = NULL) {
  breaks <- spec$breaks
  a <- list(n = 0, bad = 0, shift = NA_real_, s = numeric(4), min = Inf, max = -Inf,
            breaks = breaks, counts = if (!is.null(breaks)) numeric(length(breaks) + 1))
  if (!is.null(spec$target)) {
    # a deterministic tensor (init_s4d()): each element against its value,
    # values[j] along the last dimension (j from the element's position:
    # row-major, or column-major with `fortran_rows` = prod(shape[-last]))
    a$target <- spec$target
    a$target_bad <- 0
    a$target_err <- 0
  }
  if (!is.null(spec$block)) {
    a$block <- spec$block
    a$tall <- spec$tall
    a$gram <- if (spec$tall) matrix(0, spec$block, spec$block)
    a$rows <- list()
  }
  a
}

stats_add <- function(a, v) {
  v <- as.double(v)
  if (!is.null(a$target) && length(v)) {
    tg <- a$target
    N <- length(tg$values)
    p <- a$n + seq_along(v) - 1
    j <- if (is.null(tg$fortran_rows)) p %% N else (p %/% tg$fortran_rows) %% N
    t <- tg$values[j + 1]
    err <- abs(v - t)
    a$target_bad <- a$target_bad + sum(!(err <= tg$tol * abs(t)))
    a$target_err <- max(a$target_err, err, na.rm = TRUE)
  }
  a$n <- a$n + length(v)
  if (!is.finite(sum(v))) {   # one pass when every value is finite
    f <- is.finite(v)
    a$bad <- a$bad + sum(!f)
    v <- v[f]
  }
  if (length(v) == 0) return(a)
  if (is.na(a$shift)) a$shift <- mean(v)
  d <- v - a$shift
  d2 <- d * d
  a$s <- a$s + c(sum(d), sum(d2), sum(d2 * d), sum(d2 * d2))
  r <- range(v)
  a$min <- min(a$min, r[1])
  a$max <- max(a$max, r[2])
  if (!is.null(a$breaks)) {
    k <- length(a$breaks) + 1L
    a$counts <- a$counts + tabulate(findInterval(v, a$breaks) + 1L, k)
  }
  if (!is.null(a$block) && a$bad == 0) {
    m <- matrix(v, ncol = a$block, byrow = TRUE)
    if (a$tall) a$gram <- a$gram + crossprod(m) else a$rows[[length(a$rows) + 1L]] <- m
  }
  a
}

# Mean, sample variance, central fourth moment (divisor n), raw moments.
stats_finish <- function(a) {
  out <- list(n = a$n, bad = a$bad, mean = NA_real_, var = NA_real_, m4 = NA_real_,
              raw2 = NA_real_, raw4 = NA_real_, min = a$min, max = a$max, counts = a$counts)
  if (!is.null(a$block) && a$bad == 0 && a$n > 0) {
    out$gram <- if (a$tall) a$gram else tcrossprod(do.call(rbind, a$rows))
  }
  if (!is.null(a$target)) {
    out$target_bad <- a$target_bad
    out$target_err <- a$target_err
  }
  n <- a$n
  if (n == 0 || a$bad > 0) return(out)
  dm <- a$s[1] / n
  out$mean <- a$shift + dm
  if (n > 1) out$var <- max(0, (a$s[2] - n * dm^2) / (n - 1))
  out$m4 <- max(0, a$s[4] / n - 4 * dm * a$s[3] / n + 6 * dm^2 * a$s[2] / n - 3 * dm^4)
  if (a$min == a$max) {
    out$mean <- a$min
    out$var <- if (n > 1) 0 else NA_real_
    out$m4 <- 0
  }
  # raw moments about 0 from the shifted sums: x = d + c
  cc <- a$shift
  out$raw2 <- (a$s[2] + 2 * cc * a$s[1]) / n + cc^2
  out$raw4 <- (a$s[4] + 4 * cc * a$s[3] + 6 * cc^2 * a$s[2] + 4 * cc^3 * a$s[1]) / n + cc^4
  out
}

# The statistics of one indexed tensor, read from `con` in windows.
stats_stream <- function(con, e, path, name, chunk, spec = NULL) {
  if (!is.null(spec$target) && isTRUE(e$fortran) && length(e$shape) > 1) {
    spec$target$fortran_rows <- prod(e$shape[-length(e$shape)])
  }
  a <- stats_new(spec)
  if (!is.null(a$block)) chunk <- max(1, floor(chunk / a$block)) * a$block   # whole rows
  if (e$n == 0) return(a)
  seek(con, e$offset)
  left <- e$n
  while (left > 0) {
    k <- min(chunk, left)
    v <- read_elements(con, e$dtype, k, e$endian)
    if (length(v) != k) abort_file(path, sprintf("tensor \"%s\" is truncated", name))
    a <- stats_add(a, v)
    left <- left - k
    rm(v)
  }
  a
}

# Per-tensor statistics of a weights file or list: a named list of
# list(d = the shape audit_init() reads fans from, dtype, stats).
# `breaks_for(name, d, dtype, n)`, if given, returns the `spec` of
# stats_new() for that tensor (bins, Gram matrix), or NULL.
weights_stats <- function(path, chunk = 2^20, breaks_for = NULL) {
  one <- function(d, dtype, a) list(d = d, dtype = dtype, stats = stats_finish(a))
  entry_d <- function(shape) if (length(shape) == 0) 1 else shape
  bins <- function(name, d, dtype, n) if (!is.null(breaks_for)) breaks_for(name, d, dtype, n)
  if (is.list(path) && !is.data.frame(path)) {
    w <- read_weights(path)
    return(lapply(stats::setNames(seq_along(w), names(w)), function(i) {
      x <- w[[i]]
      d <- if (is.null(dim(x))) length(x) else dim(x)
      dt <- attr(x, "dtype")
      spec <- bins(names(w)[i], d, dt, length(x))
      # a Gram matrix is kept from rows in row-major order, as in a file
      if (!is.null(spec$block)) x <- as.vector(t(matrix(as.double(x), ncol = spec$block)))
      # a deterministic tensor's elements in row-major order, as in a file
      if (!is.null(spec$target) && length(dim(x)) > 1) x <- as.vector(aperm(x, rev(seq_along(dim(x)))))
      one(d, dt, stats_add(stats_new(spec), x))
    }))
  }
  f <- open_weights_file(path)
  if (!is.null(f$con)) on.exit(close(f$con))
  streamed <- function(con, e, nm, where) {
    d <- entry_d(e$shape)
    one(d, e$dtype, stats_stream(con, e, path, where, chunk, bins(nm, d, e$dtype, e$n)))
  }
  switch(f$format,
    npy = stats::setNames(list(streamed(f$con, npy_index(f$con, f$size, 0, path, ""),
                                        npy_tensor_name(path), "")), npy_tensor_name(path)),
    npz = npz_each(path, NULL, function(con, size, m) {
      streamed(con, npy_index(con, size, 0, path, m), sub("\\.npy$", "", m), m)
    }),
    safetensors = {
      ix <- st_index(f$con, f$size, f$magic, path)$entries
      lapply(stats::setNames(seq_along(ix), names(ix)), function(i) {
        streamed(f$con, ix[[i]], names(ix)[i], names(ix)[i])
      })
    })
}
