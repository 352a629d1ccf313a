# Developer targets. The README's two commands are `make install`-equivalent
# and `make test`-equivalent; `make check` is what CI runs.
PKG := initvar
VERSION := $(shell sed -n 's/^Version: //p' DESCRIPTION)
TARBALL := $(PKG)_$(VERSION).tar.gz

.PHONY: all document install test check build bench clean

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

clean:
	rm -rf src/*.o src/*.so $(PKG).Rcheck $(PKG)_*.tar.gz
