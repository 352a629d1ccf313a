# Developer targets. The README's two commands are `make install`-equivalent
# and `make test`-equivalent; `make check` is what CI runs.
PKG := initvar
VERSION := $(shell sed -n 's/^Version: //p' DESCRIPTION)
TARBALL := $(PKG)_$(VERSION).tar.gz

.PHONY: all document install test check build bench clean \
	fuzz interrupts sanitize gctorture valgrind hardening

all: install

document:
	Rscript -e 'roxygen2::roxygenise()'

install:
	R CMD INSTALL --preclean .

test: install
	Rscript tools/test.R

build:
	R CMD build .

check: build
	_R_CHECK_CRAN_INCOMING_REMOTE_=false _R_CHECK_SYSTEM_CLOCK_=0 R CMD check --as-cran --no-manual $(TARBALL)

bench: install
	Rscript bench/sample.R
	INITVAR_BENCH_THREADS=2 Rscript bench/sample.R
	Rscript bench/propagate.R
	Rscript bench/identities.R
	Rscript bench/test-tiers.R

# ---- hardening (see README, "Hardening") ------------------------------------
# fuzz: 1e6 malformed calls to every .Call entry point and exported function
fuzz: install
	Rscript tools/fuzz.R 1e6 $${SEED:-1}

# interrupts: every long-running function and routine, 50 times at 1 and 2 threads
interrupts: install
	Rscript tools/interrupts.R 50

# sanitize: ASan + UBSan build and the whole test suite (with a planted-bug self-test)
sanitize:
	tools/sanitize.sh --self-test

# gctorture: every routine and exported function under gctorture(TRUE)
gctorture: install
	Rscript tools/gctorture.R all

# valgrind: memcheck over the C-facing tests
valgrind: install
	tools/valgrind.sh --self-test

hardening: fuzz interrupts sanitize gctorture valgrind

clean:
	rm -rf src/*.o src/*.so $(PKG).Rcheck $(PKG)_*.tar.gz
