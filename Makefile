# pyfalco: the single entry point. `make run` and `make test` do all set-up themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install deps build probe probe-embed test bench run lint clean kmod-test

install: $(STAMP) probe

deps:
	./tools/install-system-deps.sh

# driver/bpf sources too: the extension embeds the probe object (scap/_cffi_src/build_bpf.py)
$(STAMP): pyproject.toml setup.py $(wildcard scap/_cffi_src/*.py scap/_native/*.c scap/_native/*.h sinsp/_cffi_src/*) \
          $(wildcard driver/bpf/*.c driver/bpf/*.h driver/bpf/Makefile)
	./tools/install-system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

build: install

# The CO-RE probe: built with clang against vmlinux.h generated from the running kernel's BTF.
probe:
	@if [ -f driver/bpf/Makefile ]; then $(MAKE) -s -C driver/bpf || echo "probe build failed; live capture unavailable" >&2; fi

# Rebuild the extensions in place so scap._bpf_native embeds the probe just built (an installed
# package loads that copy; a source checkout also picks up a newer .output/probe.bpf.o itself).
probe-embed: probe
	$(PY) setup.py -q build_ext --inplace

test: install
	$(PY) -m pytest -q tests

# The kernel-module driver, built for Debian's kernel and run inside qemu (this host's kernel
# cannot load modules): tools/kmod-qemu/run.py via its test.
kmod-test: install
	$(PY) -m pytest -q tests/drivers/test_kmod.py tests/drivers/test_kmod_qemu.py

bench: install
	$(PY) bench/run.py

run: install
	$(VENV)/bin/pyfalco

lint: install
	$(PY) -m ruff check scap sinsp engine falco_cli tests
	$(PY) -m mypy scap sinsp engine falco_cli

clean:
	rm -rf $(VENV) build *.egg-info driver/bpf/.output
