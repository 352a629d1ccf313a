/* Thread policy (see threads.h): OpenMP thread counts, forked processes,
 * and the threads of the BLAS in use. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* dladdr() in glibc */
#endif
#include <R.h>
#include <Rinternals.h>
#include <string.h>
#include <stdint.h>
#include <limits.h>
#include "threads.h"

#if defined(__linux__) || defined(__APPLE__) || defined(__FreeBSD__) || \
    defined(__OpenBSD__) || defined(__NetBSD__) || defined(__sun)
#define IV_UNIX 1
#include <unistd.h>
#include <sys/types.h>
#include <dlfcn.h>
#endif

/* --- forked processes --------------------------------------------------
 * The pid of the process that loaded the DLL is kept; a process whose pid
 * differs is a fork of it, or a fork of a fork (the variables are copied
 * into each child, so the pid stays the original's at any depth). Once seen,
 * the state sticks (iv_forked), so that nothing depends on the pid being
 * unique afterwards. Unlike a pthread_atfork() handler, this leaves nothing
 * behind in the C library when the DLL is unloaded. */

#ifdef IV_UNIX
static pid_t iv_load_pid = 0;
#endif
static int iv_forked = 0;

void iv_threads_init(void)
{
#ifdef IV_UNIX
    iv_load_pid = getpid();
#endif
}

int iv_in_fork(void)
{
#ifdef IV_UNIX
    if (!iv_forked && iv_load_pid != 0 && getpid() != iv_load_pid) iv_forked = 1;
#endif
    return iv_forked;
}

int iv_threads(int requested)
{
    if (requested < 1 || iv_in_fork()) return 1;
#ifdef _OPENMP
    int lim = omp_get_thread_limit();
    int procs = omp_get_num_procs();
    if (requested > lim) requested = lim;
    if (requested > procs) requested = procs;
    if (requested < 1) requested = 1;
    return requested;
#else
    return 1;
#endif
}

/* C_openmp_threads(): how many threads OpenMP would give (1 without it). */
SEXP C_openmp_threads(void)
{
    return ScalarInteger(iv_threads(INT_MAX));
}

/* --- the BLAS in use ----------------------------------------------------
 * Found by the thread-control symbols its library exports, looked up in the
 * process's global scope (R's BLAS is a dependency of libR), without linking
 * to any of them. */

enum { BLAS_UNKNOWN = 0, BLAS_REFERENCE, BLAS_OPENBLAS, BLAS_MKL, BLAS_BLIS,
       BLAS_FLEXIBLAS, BLAS_ACCELERATE, BLAS_ATLAS };
static const char *blas_names[] = { "unknown", "reference", "OpenBLAS", "MKL",
                                    "BLIS", "FlexiBLAS", "Accelerate", "ATLAS" };

typedef int (*int_get_t)(void);
typedef void (*int_set_t)(int);
typedef int64_t (*dim_get_t)(void);
typedef void (*dim_set_t)(int64_t);
typedef char *(*str_get_t)(void);

static struct {
    int done, kind;
    int_get_t get;        /* int-valued getter and setter (OpenBLAS, MKL, FlexiBLAS) */
    int_set_t set;
    dim_get_t dget;       /* BLIS: dim_t (64-bit) */
    dim_set_t dset;
    char path[1024];
    char config[256];
} blas;

#ifdef IV_UNIX
static void *global_sym(const char *name)
{
    void *h = dlopen(NULL, RTLD_LAZY); /* the program and its dependencies */
    if (h == NULL) return NULL;
    void *p = dlsym(h, name);
    dlclose(h);
    return p;
}

/* A function pointer from dlsym()'s void * without a cast that ISO C
   leaves undefined. */
#define IV_SYM(fp, name) do { void *p_ = global_sym(name); \
        if (p_ != NULL) memcpy(&(fp), &p_, sizeof(fp)); } while (0)

static int path_has(const char *s) { return strstr(blas.path, s) != NULL; }
#endif

static void blas_detect(void)
{
    if (blas.done) return;
    blas.done = 1;
    blas.kind = BLAS_UNKNOWN;
    blas.path[0] = blas.config[0] = '\0';
#ifdef IV_UNIX
    void *dgemm = global_sym("dgemm_");
#if defined(__linux__) || defined(__APPLE__) || defined(__FreeBSD__)
    Dl_info info;
    if (dgemm != NULL && dladdr(dgemm, &info) != 0 && info.dli_fname != NULL)
        snprintf(blas.path, sizeof(blas.path), "%s", info.dli_fname);
#endif
    int_get_t g = NULL;
    int_set_t s = NULL;
    IV_SYM(g, "flexiblas_get_num_threads");
    IV_SYM(s, "flexiblas_set_num_threads");
    if (g && s) { blas.kind = BLAS_FLEXIBLAS; blas.get = g; blas.set = s; return; }
    g = NULL; s = NULL;
    IV_SYM(g, "MKL_Get_Max_Threads");
    IV_SYM(s, "MKL_Set_Num_Threads");
    if (g && s) { blas.kind = BLAS_MKL; blas.get = g; blas.set = s; return; }
    g = NULL; s = NULL;
    IV_SYM(g, "openblas_get_num_threads");
    IV_SYM(s, "openblas_set_num_threads");
    if (g && s) {
        blas.kind = BLAS_OPENBLAS; blas.get = g; blas.set = s;
        str_get_t cfg = NULL;
        IV_SYM(cfg, "openblas_get_config");
        if (cfg) {
            const char *c = cfg();
            if (c) snprintf(blas.config, sizeof(blas.config), "%s", c);
        }
        return;
    }
    dim_get_t dg = NULL;
    dim_set_t ds = NULL;
    IV_SYM(dg, "bli_thread_get_num_threads");
    IV_SYM(ds, "bli_thread_set_num_threads");
    if (dg && ds) { blas.kind = BLAS_BLIS; blas.dget = dg; blas.dset = ds; return; }
    if (path_has("Accelerate") || path_has("vecLib")) { blas.kind = BLAS_ACCELERATE; return; }
    if (global_sym("ATL_xerbla") != NULL) { blas.kind = BLAS_ATLAS; return; }
    if (path_has("Rblas") || path_has("libblas") || path_has("libR.")) blas.kind = BLAS_REFERENCE;
#endif
}

static int blas_controllable(void)
{
    return blas.set != NULL || blas.dset != NULL;
}

static int blas_get(void)
{
    if (blas.get) return blas.get();
    if (blas.dget) {
        int64_t n = blas.dget(); /* BLIS: -1 when unset (then 1 thread) */
        return n < 1 ? 1 : (n > INT_MAX ? INT_MAX : (int) n);
    }
    return -1;
}

int iv_blas_set_threads(int n)
{
    blas_detect();
    if (!blas_controllable()) return -1;
    int old = blas_get();
    if (n >= 1 && n != old) {
        if (blas.set) blas.set(n); else blas.dset((int64_t) n);
    }
    return old;
}

/* C_blas_threads(n): set the BLAS to n threads (n NA or < 1: only query);
   the previous number, NA when the BLAS cannot be controlled. */
SEXP C_blas_threads(SEXP n)
{
    if (!(isInteger(n) || isReal(n)) || XLENGTH(n) != 1)
        error("`n` must be a single number.");
    double v = asReal(n);
    /* never more threads than processors: an oversubscribed BLAS spins */
    int req = (ISNAN(v) || v < 1) ? 0 : (v > 1024 ? 1024 : (int) v);
#ifdef _OPENMP
    if (req > omp_get_num_procs()) req = omp_get_num_procs();
#endif
    int old = iv_blas_set_threads(req);
    return ScalarInteger(old < 0 ? NA_INTEGER : old);
}

/* C_blas_info(): list(name, threads, controllable, path, config). */
SEXP C_blas_info(void)
{
    blas_detect();
    const char *nm[] = { "name", "threads", "controllable", "path", "config", "" };
    SEXP ans = PROTECT(mkNamed(VECSXP, nm));
    SET_VECTOR_ELT(ans, 0, mkString(blas_names[blas.kind]));
    int th = blas_controllable() ? blas_get() : NA_INTEGER;
    SET_VECTOR_ELT(ans, 1, ScalarInteger(th));
    SET_VECTOR_ELT(ans, 2, ScalarLogical(blas_controllable()));
    SEXP p = PROTECT(allocVector(STRSXP, 1));
    SET_STRING_ELT(p, 0, blas.path[0] ? mkChar(blas.path) : NA_STRING);
    SET_VECTOR_ELT(ans, 3, p);
    SEXP c = PROTECT(allocVector(STRSXP, 1));
    SET_STRING_ELT(c, 0, blas.config[0] ? mkChar(blas.config) : NA_STRING);
    SET_VECTOR_ELT(ans, 4, c);
    UNPROTECT(3);
    return ans;
}
