# The two set-up commands are `make plan STACK=dev` and `make test`; both create venv/ once.
PYTHON ?= python3
VENV := venv
STACK ?= dev
INSTALLED := $(VENV)/.installed-requirements

.PHONY: venv plan test bench clean

venv: $(INSTALLED)

# Rebuilt only when a requirements file changes, so a second `make plan` installs nothing.
$(INSTALLED): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check --quiet -r requirements-dev.txt
	touch $@

plan: $(INSTALLED)
	$(VENV)/bin/python -m automation plan --stack $(STACK)

test: $(INSTALLED)
	$(VENV)/bin/python -m pytest -q tests

bench: $(INSTALLED)
	$(VENV)/bin/python bench/plan_benchmark.py

clean:
	rm -rf build
