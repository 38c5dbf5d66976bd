# licoat: two set-up commands on a fresh Linux machine with Python >= 3.12 and a C compiler.
#   make demo   create .venv, install licoat (+ DOLFINx/PETSc wheel), run the default case
#   make test   same venv plus test extras; the whole suite, serial and under mpiexec -n 2
# Where DOLFINx is already installed (official container, conda): make demo EXTRAS= VENV_FLAGS=--system-site-packages

SHELL := /bin/bash
VENV ?= .venv
EXTRAS ?= wheels
VENV_FLAGS ?=
PY := $(VENV)/bin/python
NP ?= 2

# First Python >= 3.12 among python3.13, python3.12, python3 and pyenv's versions.
FIND_PYTHON := for p in python3.13 python3.12 python3 $$(ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python 2>/dev/null); do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then echo $$p; break; fi; done

comma := ,
extras = $(if $(strip $(1)),[$(subst $(eval) ,$(comma),$(strip $(1)))],)

.PHONY: demo test test-serial test-mpi venv clean bench

$(VENV)/bin/python:
	@PY=$$($(FIND_PYTHON)); \
	if [ -z "$$PY" ]; then echo "licoat needs Python >= 3.12 (tried python3.13, python3.12, python3, ~/.pyenv/versions/3.12+); install one and retry" >&2; exit 1; fi; \
	echo "using $$PY"; $$PY -m venv $(VENV_FLAGS) $(VENV) && $(PY) -m pip install -q --upgrade pip

$(VENV)/.installed-runtime: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e ".$(call extras,$(EXTRAS) viz)"
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed-runtime
	$(PY) -m pip install -q -e ".$(call extras,$(EXTRAS) viz test)"
	@touch $@

venv: $(VENV)/.installed-runtime

demo: $(VENV)/.installed-runtime
	$(VENV)/bin/licoat run cases/default.toml --out results/default --quiet
	$(VENV)/bin/licoat run cases/default.toml --out results/default_bare --quiet --set coating.material=none --set coating.thickness=0
	$(VENV)/bin/licoat report results/default
	@$(PY) -m licoat.demo results/default results/default_bare

test-serial: $(VENV)/.installed-test
	$(PY) -m pytest -q tests --ignore-glob='*_mpi.py'

test-mpi: $(VENV)/.installed-test
	$(VENV)/bin/mpiexec -n $(NP) $(PY) -m mpi4py -m pytest -q -p no:cacheprovider $$(ls tests/*_mpi.py)

test: test-serial test-mpi

bench: $(VENV)/.installed-test
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) results .pytest_cache
