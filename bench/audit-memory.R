# Benchmark (not in CI): audit_init() on a multi-gigabyte safetensors file
# stays under 300 MB of peak RSS (VmHWM from /proc/self/status), and its
# throughput against reading the file alone. Issue 25's file: 64 F32
# tensors of 32 MB (4096 x 2048) and one of 512 MB (32768 x 4096), 2.5 GB,
# drawn from torch's default. Each step runs in a fresh R process, so each
# VmHWM is that step's own.
#   Rscript bench/audit-memory.R          (INITVAR_BENCH_TENSORS, default 64;
#                                          INITVAR_BENCH_BIG=0 drops the 512 MB one)
#   INITVAR_LIB=/path/to/lib              (where initvar is installed)
args <- commandArgs(TRUE)
lib <- Sys.getenv("INITVAR_LIB", "")
hwm_mb <- function() {
  s <- readLines("/proc/self/status")
  as.numeric(sub("[^0-9]*([0-9]+).*", "\\1", grep("^VmHWM", s, value = TRUE))) / 1024
}

write_file <- function(path, k, big) {
  shapes <- c(rep(list(c(4096, 2048)), k), if (big) list(c(32768, 4096)))
  nm <- c(sprintf("layers.%d.weight", seq_len(k) - 1), if (big) "embed.weight")
  bytes <- vapply(shapes, function(s) 4 * prod(s), 1)
  end <- cumsum(bytes)
  begin <- end - bytes
  ent <- sprintf('"%s":{"dtype":"F32","shape":[%d,%d],"data_offsets":[%.0f,%.0f]}',
                 nm, vapply(shapes, `[`, 1, 1), vapply(shapes, `[`, 1, 2), begin, end)
  hdr <- paste0('{"__metadata__":{"format":"pt"},', paste(ent, collapse = ","), "}")
  pad <- (8 - nchar(hdr) %% 8) %% 8
  hdr <- paste0(hdr, strrep(" ", pad))
  con <- file(path, "wb")
  on.exit(close(con))
  n <- nchar(hdr)
  writeBin(as.raw(c(n %% 256, (n %/% 256) %% 256, (n %/% 65536) %% 256, 0, 0, 0, 0, 0)), con)
  writeBin(charToRaw(hdr), con)
  set.seed(1)
  for (s in shapes) {
    bound <- 1 / sqrt(s[2])           # torch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    left <- prod(s)
    while (left > 0) {
      m <- min(left, 2^22)
      writeBin(stats::runif(m, -bound, bound), con, size = 4, endian = "little")
      left <- left - m
    }
  }
}

if (length(args) >= 2) {
  mode <- args[1]
  path <- args[2]
  if (nzchar(lib)) library(initvar, lib.loc = lib) else library(initvar)
  t0 <- proc.time()[["elapsed"]]
  if (mode == "write") {
    write_file(path, as.integer(args[3]), args[4] == "1")
  } else if (mode == "read") {
    # the file alone: every byte through readBin() in 32 MB windows
    con <- file(path, "rb")
    repeat if (length(readBin(con, "raw", 2^25)) == 0) break
    close(con)
  } else if (mode == "audit") {
    a <- audit_init(path, init_torch_default(), layout = "torch")
    d <- as.data.frame(a)
    cat(sprintf("audited %d tensors, %d consistent (Holm); ratio range %.4f-%.4f\n",
                nrow(d), sum(d$consistent_holm), min(d$ratio), max(d$ratio)), file = stderr())
  }
  cat(sprintf("%.3f %.1f\n", proc.time()[["elapsed"]] - t0, hwm_mb()))
  quit(save = "no")
}

k <- as.integer(Sys.getenv("INITVAR_BENCH_TENSORS", "64"))
big <- Sys.getenv("INITVAR_BENCH_BIG", "1") != "0"
path <- tempfile(fileext = ".safetensors")
on.exit(unlink(path))
self <- normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
rscript <- file.path(R.home("bin"), "Rscript")
step <- function(...) {
  out <- system2(rscript, c(shQuote(self), ...), stdout = TRUE)
  as.numeric(strsplit(out[length(out)], " ")[[1]])
}
w <- step("write", shQuote(path), k, if (big) 1 else 0)
mb <- file.size(path) / 2^20
r <- step("read", shQuote(path))
a <- step("audit", shQuote(path))
unlink(path)
cat(sprintf("file: %d tensors of 32 MB%s, %.0f MB (written in %.1f s)\n", k,
            if (big) " and one of 512 MB" else "", mb, w[1]))
cat(sprintf("read alone: %6.1f s, %6.0f MB/s, peak RSS %5.0f MB\n", r[1], mb / r[1], r[2]))
cat(sprintf("audit_init: %6.1f s, %6.0f MB/s, peak RSS %5.0f MB (target < 300 MB): %s\n",
            a[1], mb / a[1], a[2], if (a[2] < 300) "PASS" else "FAIL"))
