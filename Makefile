# The two set-up commands are `make plan STACK=dev` and `make test`; both create venv/ once.
PYTHON ?= python3
VENV := venv
STACK ?= dev
INSTALLED := $(VENV)/.installed-requirements
# checkov lives in its own virtualenv: its many pinned dependencies must not move the program's.
CHECKOV := build/tools/checkov/bin/checkov

.PHONY: venv plan test golden bench clean

venv: $(INSTALLED)

# Rebuilt only when a requirements file changes, so a second `make plan` installs nothing.
$(INSTALLED): requirements.txt requirements-dev.txt policy/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check --quiet -r requirements-dev.txt
	# The tests evaluate the policy pack's CrossGuard objects; --no-deps keeps pulumi-policy's older
	# grpcio/protobuf pins out of this venv (the pack itself runs in policy/venv).
	$(VENV)/bin/python -m pip install --disable-pip-version-check --quiet --no-deps -r policy/requirements.txt
	touch $@

plan: $(INSTALLED)
	$(VENV)/bin/python -m automation plan --stack $(STACK)

$(CHECKOV): requirements-checkov.txt
	$(PYTHON) -m venv build/tools/checkov
	build/tools/checkov/bin/python -m pip install --disable-pip-version-check --quiet -r requirements-checkov.txt
	touch $@

test: $(INSTALLED) $(CHECKOV)
	CHECKOV=$(CHECKOV) $(VENV)/bin/python -m pytest -q -rs tests

# Re-approve the golden plans (tests/golden/<stack>) after an intended change; review `git diff tests/golden`.
GOLDEN_STACKS := $(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml))
golden: $(INSTALLED)
	@for stack in $(GOLDEN_STACKS); do \
		$(VENV)/bin/python -m automation plan --stack $$stack --out tests/golden/$$stack > /dev/null || exit 1; \
		echo "approved tests/golden/$$stack"; \
	done
	@git status --short tests/golden 2>/dev/null || true

bench: $(INSTALLED)
	$(VENV)/bin/python bench/plan_benchmark.py
	$(VENV)/bin/python bench/simulate_benchmark.py

clean:
	rm -rf build/plan
