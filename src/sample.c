/* Weight sampling: elementwise (constant-free iid families), orthogonal and
 * sparse.  Every sampler cuts its work into fixed chunks (IV_CHUNK elements,
 * or one column) and draws chunk c from stream c of the call's seed, so the
 * result does not depend on the number of threads. */
#define USE_FC_LEN_T
#include <R.h>
#include <Rinternals.h>
#include <Rmath.h>
#include <R_ext/Lapack.h>
#ifndef FCONE
#define FCONE
#endif
#include "rng.h"
#include "checks.h"
#include "api.h"
#include "sample.h"
#include "threads.h"
#if defined(__linux__)
#include <stdint.h>
#include <unistd.h>
#include <sys/mman.h>
#endif

/* Chunks processed between two checks for a user interrupt. */
#define IV_BATCH 64

/* Choose the exact rejection sampler with the highest acceptance rate for
 * the standard normal truncated to [lo, hi] (Robert 1995). */
void iv_tn_setup(iv_family *f)
{
    double lo = f->lo, hi = f->hi;
    f->tn_flip = 0;
    if (hi <= 0) { /* entirely on the negative side: sample the mirror image */
        double t = lo; lo = -hi; hi = -t;
        f->tn_flip = 1;
        f->lo = lo; f->hi = hi;
    }
    /* Scores are log acceptance rates minus the common term
       log Z + 0.5 log(2 pi) + m^2 / 2 (Z the interval's mass): it cancels in
       the comparison, and it is what under- or overflows for narrow or
       far-out intervals. */
    double m = lo > 0 ? lo : 0.0; /* point of [lo, hi] closest to 0 */
    f->tn_m1 = m;
    double best = -(0.5 * log(2 * M_PI) + 0.5 * m * m); /* plain rejection */
    f->tn_method = TN_NORMAL;
    if (R_FINITE(hi)) {
        double acc = -log(hi - lo);
        if (acc > best) { best = acc; f->tn_method = TN_UNIFORM; }
    }
    if (lo >= 0) {
        double root = hypot(lo, 2.0);
        double gap = 2.0 / (lo + root), alpha = lo + gap; /* gap = alpha - lo */
        double acc = log(alpha) - 0.5 * gap * gap;
        if (acc > best) { f->tn_method = TN_EXP; f->tn_alpha = alpha; } /* the last candidate */
    }
}

static inline double tn_draw(const iv_family *f, iv_rng *r)
{
    const double lo = f->lo, hi = f->hi;
    double x;
    switch (f->tn_method) {
    case TN_UNIFORM:
        for (;;) {
            x = lo + (hi - lo) * iv_unif(r);
            if (iv_unif(r) <= exp(-0.5 * (x - f->tn_m1) * (x + f->tn_m1))) break;
        }
        break;
    case TN_EXP:
        for (;;) {
            x = lo + iv_exp(r) / f->tn_alpha;
            if (x > hi) continue;
            double d = x - f->tn_alpha;
            if (iv_unif(r) <= exp(-0.5 * d * d)) break;
        }
        break;
    default:
        do x = iv_norm(r); while (x < lo || x > hi);
    }
    return f->tn_flip ? -x : x;
}

void iv_fill(double *out, R_xlen_t len, const iv_family *f, iv_rng *r)
{
    const double p1 = f->p1, p2 = f->p2;
    switch (f->family) {
    case FAM_UNIFORM: {
        const double w = p2 - p1;
        for (R_xlen_t i = 0; i < len; i++) out[i] = p1 + w * iv_unif(r);
        break;
    }
    case FAM_NORMAL:
        for (R_xlen_t i = 0; i < len; i++) out[i] = p1 + p2 * iv_norm(r);
        break;
    default:
        for (R_xlen_t i = 0; i < len; i++) out[i] = p1 + p2 * tn_draw(f, r);
    }
}

static void fill_chunk(double *out, R_xlen_t len, const iv_family *f,
                       uint64_t seed, uint64_t stream)
{
    iv_rng r;
    iv_rng_init(&r, seed, stream);
    iv_fill(out, len, f, &r);
}

/* Fill out[0..n) chunk by chunk, streams stream0, stream0 + 1, ... */
static void fill_iid(double *out, R_xlen_t n, const iv_family *f,
                     uint64_t seed, int nth)
{
    R_xlen_t nchunks = (n + IV_CHUNK - 1) / IV_CHUNK;
    (void) nth;
    for (R_xlen_t start = 0; start < nchunks; start += IV_BATCH) {
        R_xlen_t end = start + IV_BATCH < nchunks ? start + IV_BATCH : nchunks;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nth) schedule(static)
#endif
        for (R_xlen_t c = start; c < end; c++) {
            R_xlen_t off = c * IV_CHUNK;
            R_xlen_t len = n - off < IV_CHUNK ? n - off : IV_CHUNK;
            fill_chunk(out + off, len, f, seed, (uint64_t) c);
        }
        R_CheckUserInterrupt();
    }
}

/* Fresh memory whose pages have not been touched yet (a large R vector,
 * which R's allocator takes straight from mmap; the engine's workspace):
 * ask the kernel for transparent huge pages on it before the first write,
 * so that the first touch costs one fault per 2 MiB instead of per 4 KiB.
 * Advice only: where it is not available, or refused, nothing changes. */
#define IV_HUGE_MIN ((size_t) 8 << 20) /* bytes */

void iv_advise_huge(void *x, size_t bytes)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes < IV_HUGE_MIN) return;
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0) return;
    uintptr_t lo = (uintptr_t) x, hi = lo + bytes;
    uintptr_t a = (lo + (uintptr_t) pg - 1) & ~((uintptr_t) pg - 1);
    uintptr_t b = hi & ~((uintptr_t) pg - 1);
    if (b > a) (void) madvise((void *) a, b - a, MADV_HUGEPAGE);
#else
    (void) x; (void) bytes;
#endif
}

static SEXP iv_alloc_real(R_xlen_t n)
{
    SEXP ans = allocVector(REALSXP, n);
    iv_advise_huge(REAL(ans), (size_t) n * sizeof(double));
    return ans;
}

static SEXP alloc_with_dim(SEXP dim, R_xlen_t n)
{
    SEXP ans = PROTECT(iv_alloc_real(n));
    R_xlen_t nd = XLENGTH(dim);
    if (nd > 1) {
        /* a fresh integer vector: never the argument itself, no names */
        SEXP d = PROTECT(allocVector(INTSXP, nd));
        for (R_xlen_t i = 0; i < nd; i++)
            INTEGER(d)[i] = (int) (isReal(dim) ? REAL(dim)[i] : INTEGER(dim)[i]);
        setAttrib(ans, R_DimSymbol, d);
        UNPROTECT(1);
    }
    UNPROTECT(1);
    return ans;
}

static iv_family family_from_args(SEXP family, SEXP params)
{
    iv_family f;
    f.family = iv_int_arg(family, "family");
    if (f.family < FAM_UNIFORM || f.family > FAM_TRUNC)
        error("`family` must be 1 (uniform), 2 (normal) or 3 (truncated normal).");
    const double *p = iv_real_vec_arg(params, "params", 4);
    f.p1 = p[0]; f.p2 = p[1]; f.lo = p[2]; f.hi = p[3];
    f.tn_method = TN_NORMAL; f.tn_flip = 0; f.tn_alpha = 1; f.tn_m1 = 0;
    if (!R_FINITE(f.p1) || !R_FINITE(f.p2))
        error("`params[1:2]` must be finite.");
    if (f.family == FAM_UNIFORM && !(f.p1 <= f.p2))
        error("uniform bounds must satisfy a <= b.");
    if (f.family != FAM_UNIFORM && f.p2 < 0)
        error("`sd` must be non-negative.");
    if (f.family == FAM_TRUNC) {
        if (!(f.lo < f.hi)) error("truncation bounds must satisfy lower < upper.");
        if (f.lo == R_PosInf || f.hi == R_NegInf)
            error("truncation bounds must leave a non-empty interval.");
        iv_tn_setup(&f);
    }
    return f;
}

/* C_sample_iid(dim, family, params, threads):
 * family 1 uniform(a, b), 2 normal(mean, sd), 3 normal(mean, sd) truncated
 * to [mean + lower sd, mean + upper sd]; params = c(p1, p2, lower, upper). */
SEXP C_sample_iid(SEXP dim, SEXP family, SEXP params, SEXP threads)
{
    R_xlen_t n = iv_dims_total(dim, "dim");
    iv_family f = family_from_args(family, params);
    int nth = iv_threads(iv_int_arg(threads, "threads"));
    uint64_t seed = iv_seed_from_R();
    SEXP ans = PROTECT(alloc_with_dim(dim, n));
    fill_iid(REAL(ans), n, &f, seed, nth);
    UNPROTECT(1);
    return ans;
}

/* C_test_fill_repeat(n, family, params, threads, reps): for benchmarks, the
 * generator alone into a warm buffer: fills one vector of length n reps
 * times (the first fill is the one of C_sample_iid, the later ones write
 * into pages already touched) and returns it. */
SEXP C_test_fill_repeat(SEXP n_, SEXP family, SEXP params, SEXP threads, SEXP reps_)
{
    R_xlen_t n = (R_xlen_t) iv_size_arg(n_, "n", 1e12);
    iv_family f = family_from_args(family, params);
    int nth = iv_threads(iv_int_arg(threads, "threads"));
    int reps = (int) iv_size_arg(reps_, "reps", 1e6);
    uint64_t seed = iv_seed_from_R();
    SEXP ans = PROTECT(iv_alloc_real(n));
    for (int k = 0; k < reps; k++) fill_iid(REAL(ans), n, &f, seed, nth);
    UNPROTECT(1);
    return ans;
}

int iv_qr_lwork(int m, int k)
{
    int info = 0, lwork = -1;
    double wq = 0, wq2 = 0, dummy = 0;
    F77_CALL(dgeqrf)(&m, &k, &dummy, &m, &dummy, &wq, &lwork, &info);
    F77_CALL(dorgqr)(&m, &k, &k, &dummy, &m, &dummy, &wq2, &lwork, &info);
    lwork = (int) (wq > wq2 ? wq : wq2);
    /* room for the signs of R's diagonal after the LAPACK workspace */
    return (lwork < 1 ? 1 : lwork) + k;
}

int iv_orthonormalize(double *a, int m, int k, double gain, double *tau,
                      double *work, int lwork)
{
    int info = 0;
    double *sgn = work + (lwork - k);
    int lw = lwork - k;
    F77_CALL(dgeqrf)(&m, &k, a, &m, tau, work, &lw, &info);
    if (info != 0) return info;
    for (int j = 0; j < k; j++)
        sgn[j] = (a[j + (R_xlen_t) j * m] < 0 ? -gain : gain);
    F77_CALL(dorgqr)(&m, &k, &k, a, &m, tau, work, &lw, &info);
    if (info != 0) return info;
    for (int j = 0; j < k; j++) {
        double *col = a + (R_xlen_t) j * m;
        for (int i = 0; i < m; i++) col[i] *= sgn[j];
    }
    return 0;
}

void iv_transpose(const double *a, int m, int k, double *o)
{
    /* a is m x k, o is k x m */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < k; j++)
            o[j + (R_xlen_t) i * k] = a[i + (R_xlen_t) j * m];
}

void iv_sparse_column(double *col, int nr, int nz, double sd, int *perm,
                      iv_rng *r)
{
    for (int i = 0; i < nr; i++) {
        col[i] = sd * iv_norm(r);
        perm[i] = i;
    }
    /* partial Fisher-Yates: the first nz entries of perm are a uniformly
       random nz-subset of the rows */
    for (int i = 0; i < nz; i++) {
        int t = i + (int) iv_below(r, (uint64_t) (nr - i));
        int tmp = perm[i]; perm[i] = perm[t]; perm[t] = tmp;
        col[perm[i]] = 0.0;
    }
}

/* C_sample_orthogonal(rows, cols, gain, threads): a rows x cols matrix with
 * orthonormal columns (rows >= cols) or rows (rows < cols), times gain,
 * Haar-distributed: the Q of the QR decomposition of a Gaussian matrix with
 * the signs of R's diagonal moved into Q (Mezzadri 2007). */
SEXP C_sample_orthogonal(SEXP rows, SEXP cols, SEXP gain, SEXP threads)
{
    int nr = (int) iv_size_arg(rows, "rows", INT_MAX);
    int nc = (int) iv_size_arg(cols, "cols", INT_MAX);
    double g = iv_real_arg(gain, "gain");
    int nth = iv_threads(iv_int_arg(threads, "threads"));
    /* work on the tall orientation m x k, m >= k */
    int wide = nr < nc;
    int m = wide ? nc : nr, k = wide ? nr : nc;
    if ((double) m * k > (double) R_XLEN_T_MAX)
        error("`rows` * `cols` is more elements than R can store in one vector.");
    uint64_t seed = iv_seed_from_R();
    R_xlen_t n = (R_xlen_t) m * k;
    SEXP A = PROTECT(iv_alloc_real(n));
    double *a = REAL(A);
    iv_family f = { FAM_NORMAL, 0.0, 1.0, 0, 0, TN_NORMAL, 0, 1, 0 };
    fill_iid(a, n, &f, seed, nth);

    int lwork = iv_qr_lwork(m, k);
    double *tau = (double *) R_alloc(k, sizeof(double));
    double *work = (double *) R_alloc(lwork, sizeof(double));
    int info = iv_orthonormalize(a, m, k, g, tau, work, lwork);
    if (info != 0) error("LAPACK QR failed (info = %d).", info);

    SEXP ans = PROTECT(wide ? allocVector(REALSXP, n) : A);
    if (wide) iv_transpose(a, m, k, REAL(ans));
    SEXP d = PROTECT(allocVector(INTSXP, 2));
    INTEGER(d)[0] = nr; INTEGER(d)[1] = nc;
    setAttrib(ans, R_DimSymbol, d);
    UNPROTECT(3);
    return ans;
}

/* C_sample_sparse(rows, cols, nzero, sd, threads): a rows x cols matrix of
 * N(0, sd^2) entries with exactly nzero zeros in each column, at positions
 * drawn uniformly without replacement.  Column j comes from stream j. */
SEXP C_sample_sparse(SEXP rows, SEXP cols, SEXP nzero, SEXP sd, SEXP threads)
{
    int nr = (int) iv_size_arg(rows, "rows", INT_MAX);
    int nc = (int) iv_size_arg(cols, "cols", INT_MAX);
    int nz = iv_int_arg(nzero, "nzero");
    if (nz < 0 || nz > nr) error("`nzero` must be between 0 and `rows`.");
    double s = iv_real_arg(sd, "sd");
    if (s < 0) error("`sd` must be non-negative.");
    int nth = iv_threads(iv_int_arg(threads, "threads"));
    if ((double) nr * nc > (double) R_XLEN_T_MAX)
        error("`rows` * `cols` is more elements than R can store in one vector.");
    uint64_t seed = iv_seed_from_R();
    SEXP ans = PROTECT(iv_alloc_real((R_xlen_t) nr * nc));
    SEXP dm = PROTECT(allocVector(INTSXP, 2));
    INTEGER(dm)[0] = nr; INTEGER(dm)[1] = nc;
    setAttrib(ans, R_DimSymbol, dm);
    UNPROTECT(1);
    double *o = REAL(ans);
    int *idx = (int *) R_alloc((size_t) nth * nr, sizeof(int));
    R_xlen_t batch = 1 + (1 << 20) / nr; /* about 2^20 elements between checks */
    for (R_xlen_t start = 0; start < nc; start += batch) {
        int end = (int) (nc - start > batch ? start + batch : nc);
#ifdef _OPENMP
#pragma omp parallel for num_threads(nth) schedule(static)
#endif
        for (int j = (int) start; j < end; j++) {
            int *perm = idx + (size_t) iv_thread_num() * nr;
            iv_rng r;
            iv_rng_init(&r, seed, (uint64_t) j);
            iv_sparse_column(o + (R_xlen_t) j * nr, nr, nz, s, perm, &r);
        }
        R_CheckUserInterrupt();
    }
    UNPROTECT(1);
    return ans;
}
