# hsmops.cloudhsm: every check and the demo run from a fresh clone with `make test` and `make demo`.
# Set-up (a virtualenv from requirements-dev.txt, the dependency collections from the PyPI `ansible` wheel, the
# collection copied into an ansible_collections tree) is done here and reused by later runs.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
BUILD := $(CURDIR)/build
COLLECTIONS := $(BUILD)/collections
CDIR := $(COLLECTIONS)/ansible_collections/hsmops/cloudhsm
# Dependency collections come from this release of the `ansible` package on PyPI (no Galaxy needed).
ANSIBLE_PACKAGE := ansible==12.3.0
SDK ?= 5
KMS ?= 0
# Debian's rpm package (rpmbuild, rpm) for the test of the client role's RPM install path; pinned to bookworm's.
RPM_DEB_VERSION := 4.18.0+dfsg-1+deb12u1
MIGRATE ?= 0

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_PYTHON_INTERPRETER := $(BIN)/python
export ANSIBLE_LOCAL_TEMP := $(BUILD)/ansible-tmp
export PYTHONDONTWRITEBYTECODE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Run from the build-tree copy, so the cloud config it writes is the one ansible-test reads there.
WITH_SIM := $(BIN)/python scripts/with_simulator.py
# A command on a client host of its own (private /opt, package database and client lock), beside the runs that use
# the machine's /opt/cloudhsm.
PRIVATE_CLIENT := $(BIN)/python scripts/private_client_host.py

.PHONY: help venv deps system-deps build-tree lint sanity units pytests e2e e2e-shared e2e-private chaos-fast integration molecule artifact test quick \
	transcripts demo bench chaos docs clean

help:
	@echo "make demo       clone a CloudHSM cluster across regions against the local simulator (SDK=3 for SDK 3,"
	@echo "                KMS=1 for KMS custom key stores on the clone and a restore in the source's Region,"
	@echo "                MIGRATE=1 for an SDK 3 / hsm1.medium DR set moved to SDK 5 / hsm2m.medium)"
	@echo "make test       every check: lint sanity units pytests e2e chaos-fast integration molecule artifact"
	@echo "make quick      the inner loop (a few minutes): lint, unit tests, the simulator's transcript tests"
	@echo "make bench      benchmarks (not part of test), results in bench/RESULTS.md"

venv: $(VENV)/.stamp

$(VENV)/.stamp: requirements-dev.txt simulator/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e simulator
	touch $@

deps: $(COLLECTIONS)/.deps-stamp

$(COLLECTIONS)/.deps-stamp: $(VENV)/.stamp
	mkdir -p $(BUILD)/cache $(COLLECTIONS)/ansible_collections
	$(BIN)/python -m pip download -q --no-deps $(ANSIBLE_PACKAGE) -d $(BUILD)/cache
	$(BIN)/python scripts/extract_collections.py $(BUILD)/cache $(COLLECTIONS) amazon.aws community.crypto
	touch $@

build-tree: deps
	@mkdir -p $(ANSIBLE_LOCAL_TEMP)
	@$(BIN)/python scripts/sync_build_tree.py $(CURDIR) $(CDIR)

lint: build-tree
	$(BIN)/yamllint -s .
	cd $(CDIR) && $(BIN)/ansible-lint --offline -q

sanity: build-tree
	$(BIN)/python scripts/ansible_test_pip_bootstrap.py
	cd $(CDIR) && $(BIN)/ansible-test sanity --python 3.11 --color no

units: build-tree
	cd $(CDIR) && $(BIN)/ansible-test units --python 3.11 --color no

# System packages the tests need beyond Python's: Debian's rpm tools (installed with apt-get when missing).
system-deps:
	@command -v rpmbuild >/dev/null || { \
		echo "installing Debian's rpm $(RPM_DEB_VERSION) (rpmbuild) for the RPM install test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			rpm=$(RPM_DEB_VERSION) >/dev/null; }

# The simulator's own tests and the tooling tests (execution environment, AWX-style runs, end to end). Those that
# install the client (marked client_host) run beside the others on a client host of their own (a private mount
# namespace, scripts/private_client_host.py), so they never wait for the e2e lane's client.
pytests: build-tree system-deps
	@rm -rf $(BUILD)/private-client; \
	$(PRIVATE_CLIENT) $(BUILD)/private-client -- \
		$(BIN)/python -m pytest -q -p no:cacheprovider --durations=10 -m client_host tests/tooling \
		> $(BUILD)/pytests-client-host.log 2>&1 & client_host=$$!; \
	$(BIN)/python -m pytest -q -n 2 -p no:cacheprovider --durations=25 -m "not client_host" tests/simulator tests/tooling; \
	others=$$?; wait $$client_host; mine=$$?; \
	echo "--- the client_host tests (on a private client host):"; cat $(BUILD)/pytests-client-host.log; \
	exit $$(( others || mine ))

# The whole DR flow for SDK 5 and SDK 3, as `make demo` runs it, with its assertions (serial: it uses the client host).
# E2E_ARGS narrows the run in the inner loop, e.g. make e2e E2E_ARGS="tests/e2e/test_day2_sync.py -k check".
E2E_ARGS ?= tests/e2e
e2e: build-tree
	cd $(CDIR) && $(BIN)/python -m pytest -q -p no:cacheprovider --durations=40 $(E2E_ARGS)

# make test runs the e2e tests in two steps, one per lane: those of E2E_PRIVATE on a client host of their own.
E2E_PRIVATE := tests/e2e/test_key_material.py
e2e-shared: build-tree
	cd $(CDIR) && $(BIN)/python -m pytest -q -p no:cacheprovider --durations=40 tests/e2e \
		$(addprefix --ignore=,$(E2E_PRIVATE))
e2e-private: build-tree
	cd $(CDIR) && $(PRIVATE_CLIENT) $(BUILD)/private-e2e -- $(BIN)/python -m pytest -q -p no:cacheprovider \
		--durations=10 $(E2E_PRIVATE)

# The fast subset of the fault tests; `make chaos` runs all of them. Both on a client host of their own.
chaos-fast: build-tree
	cd $(CDIR) && $(PRIVATE_CLIENT) $(BUILD)/private-chaos -- $(BIN)/python -m pytest -q -p no:cacheprovider \
		--durations=10 tests/chaos

# ansible-test skips cloud targets silently when it finds no cloud config: a skip fails the run here.
integration: build-tree
	set -o pipefail; cd $(CDIR) && $(WITH_SIM) -- $(BIN)/ansible-test integration --python 3.11 --color no \
		$(TARGETS) 2>&1 | tee $(BUILD)/integration.log
	! grep -E "Excluding tests marked|All targets skipped" $(BUILD)/integration.log

molecule: build-tree
	cd $(CDIR) && $(WITH_SIM) --lock-client --no-cloud-config -- $(BIN)/molecule test --all

artifact: build-tree
	$(BIN)/python scripts/check_artifact.py $(CDIR) $(BUILD)/artifact $(COLLECTIONS)

# Two lanes side by side (steps in a lane run one after another): the steps that use the machine's CloudHSM client
# (/opt/cloudhsm) in one, the others in the other (chaos-fast, e2e-private and the client_host pytests on private
# client hosts).
# Steps that need the machine's client wait for it through its lock.
TEST_LANES := artifact,lint,sanity,units,pytests,chaos-fast,e2e-private,integration e2e-shared,molecule

test: build-tree
	$(BIN)/python scripts/run_steps.py $(TEST_LANES)
	@echo "make test: every check passed"

# The inner loop: what most changes break first, in a few minutes. `make test` before a change is done.
quick: lint units transcripts
	@echo "make quick: passed (run make test before a change is done)"

transcripts: build-tree
	$(BIN)/python -m pytest -q -n 2 -p no:cacheprovider tests/simulator/test_transcripts_sdk3.py \
		tests/simulator/test_transcripts_sdk5.py

demo: build-tree
	cd $(CDIR) && $(BIN)/python scripts/demo.py --sdk $(SDK) --kms $(KMS) --migrate $(MIGRATE)

# BENCH_ARGS="--lanes key_sync --sdks 5 --out DIR" measures one figure without the rest (keep DIR out of bench/);
# "--lanes critical_path --scales 0.5,2 --out DIR": the time to a DR-ready clone at two time scales.
BENCH_ARGS ?= --out $(CURDIR)/bench
bench: build-tree
	cd $(CDIR) && $(BIN)/python bench/run.py $(BENCH_ARGS)

# Extra pytest arguments, e.g. CHAOS_ARGS="-k migrate --chaos-results /tmp/chaos.md" for some of the tests (a run of
# part of them would otherwise replace tests/chaos/RESULTS.md with its rows alone).
CHAOS_ARGS ?=
chaos: build-tree
	cd $(CDIR) && $(PRIVATE_CLIENT) $(BUILD)/private-chaos -- $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/chaos --chaos-full $(CHAOS_ARGS)

docs: build-tree
	$(BIN)/python scripts/build_docs.py $(CDIR) $(BUILD)/docs

clean:
	rm -rf $(BUILD) tests/output tests/integration/cloud-config-aws.ini
