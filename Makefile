# netsec.bjnp developer entry points. `make test` is what CI runs (.ci/run); `make demo`
# runs the lab. Both install what they need: Debian packages (tools/install-host-deps.sh),
# the locked Python toolchain in .venv, and the local container image.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV        := .venv
BIN         := $(CURDIR)/$(VENV)/bin
# The controller Python of .venv and of every matrix venv: 3.12 is the one release every
# ansible-core of the matrix supports (docs/testing.md, "ansible-core matrix").
PYTHON_BASE ?= /root/.pyenv/versions/3.12.1/bin/python3.12
PYTHON_VERSION := $(shell $(PYTHON_BASE) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifeq ($(PYTHON_VERSION),)
$(error PYTHON_BASE=$(PYTHON_BASE) is not a working Python; install 3.12 (pyenv install 3.12.1) or pass PYTHON_BASE=/path/to/python3.12)
endif
VENV_SITE   := $(CURDIR)/$(VENV)/lib/python$(PYTHON_VERSION)/site-packages
COLLECTIONS := $(CURDIR)/.cache/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/netsec/bjnp
MOLECULE_WORKERS ?= 2
# Debian releases Molecule runs on (docs/testing.md, "Distributions"): every scenario on debian12,
# the scenarios of MOLECULE_MATRIX on the others.
MOLECULE_DISTROS ?= debian11 debian12 debian13
MOLECULE_MATRIX ?= nftables iptables-nft iptables-legacy ufw firewalld
# The ansible-core matrix (tools/matrix/cores.txt; docs/testing.md, "ansible-core matrix"):
# sanity and unit tests on every minor; on MATRIX_FULL (the oldest) also the integration files
# of MATRIX_INTEGRATION (the modules, the role and the playbooks run through ansible-core on this
# machine; docs/testing.md names the files left out and why) and the Molecule jobs of
# MATRIX_MOLECULE. The newest minor, the default toolchain, runs everything in the targets above.
MATRIX_FULL ?= 2.16
MATRIX_INTEGRATION ?= $(addprefix tests/integration/,test_firewall_modules.py test_firewall_role.py \
  test_role_input.py test_playbook_guards.py test_monitor_playbook.py test_probe_loopback.py \
  test_probe_errors.py test_report_html.py test_report_action.py test_playbook_scan.py test_probe_from_sites.py \
  test_awx_slices.py test_listeners_role.py)
MATRIX_MOLECULE ?= nftables iptables-nft iptables-legacy ufw firewalld gateway
MATRIX_MOLECULE_DISTROS ?= debian12
# Empty: every older minor of tools/matrix/cores.txt.
MATRIX_MINORS ?=
# CI's share of the matrix, to stay under 60 minutes on 2 cores (docs/testing.md, "What CI runs"):
# the oldest minor in full, with these Molecule jobs; `make matrix` runs every minor.
MATRIX_CI_MOLECULE ?= nftables iptables-nft gateway

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS):$(VENV_SITE)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export CONTAINERS_CONF := $(CURDIR)/tests/podman/containers.conf
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

# --- set-up -----------------------------------------------------------------------------
.cache/host-deps.stamp: tools/install-host-deps.sh
	bash tools/install-host-deps.sh
	@mkdir -p $(@D) && touch $@

$(VENV)/.installed: requirements-dev.txt
	@# A venv of another Python (an older PYTHON_BASE) is rebuilt, not reused.
	$(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != tuple(map(int, "$(PYTHON_VERSION)".split("."))))' 2>/dev/null || \
	  { rm -rf $(VENV); $(PYTHON_BASE) -m venv $(VENV); }
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(@D)
	ln -sfn $(CURDIR) $@

.PHONY: setup image lock
setup: .cache/host-deps.stamp $(VENV)/.installed $(COLLECTION_LINK) ## Install host packages, the venv, the FQCN link

image: setup ## Build the local container images, one pair per release in MOLECULE_DISTROS (debootstrap + podman import)
	bash tools/build-image.sh $(MOLECULE_DISTROS)

lock: ## Re-resolve requirements-dev.in into requirements-dev.txt
	rm -rf .cache/lock-venv && $(PYTHON_BASE) -m venv .cache/lock-venv
	.cache/lock-venv/bin/pip install --quiet -r requirements-dev.in
	{ echo '# Locked dev toolchain: `make lock` regenerates it from requirements-dev.in.'; \
	  .cache/lock-venv/bin/pip freeze; } > requirements-dev.txt

# --- the demo lab -----------------------------------------------------------------------
.PHONY: demo demo-clean
demo: image ## Build the podman lab and run detect, remediate, verify, rollback, detect
	bash tests/lab/demo.sh

demo-clean: ## Remove the demo lab's containers and networks
	bash tests/lab/demo.sh clean

# --- checks -----------------------------------------------------------------------------
.PHONY: test lint sanity unit integration molecule matrix matrix-ci build-check publish-check
test: lint sanity unit integration molecule build-check publish-check matrix-ci ## Everything CI runs; the matrix's share last
	@echo "make test: all checks passed"

lint: setup ## ansible-lint, production profile
	ansible-lint --offline --profile production

sanity: setup ## ansible-test sanity on a copy of the tracked tree
	bash tools/run-sanity.sh

unit: setup ## Unit and property-based tests (no sockets, no root)
	pytest -q -n 2 tests/unit

integration: setup ## Probe and emulator against real sockets, nmap, tshark, nftables
	pytest -q tests/integration

molecule: image ## Every Molecule scenario on debian12, MOLECULE_MATRIX on the other releases (podman, local images)
	BJNP_MOL_DISTROS="$(MOLECULE_DISTROS)" BJNP_MOL_MATRIX="$(MOLECULE_MATRIX)" bash tools/run-molecule.sh $(MOLECULE_WORKERS)

matrix: image ## The older ansible-core minors: sanity and unit on each, integration and Molecule on MATRIX_FULL (a venv each in .cache/matrix)
	PYTHON_BASE="$(PYTHON_BASE)" BJNP_MATRIX_FULL="$(MATRIX_FULL)" BJNP_MATRIX_MOLECULE="$(MATRIX_MOLECULE)" \
	  BJNP_MATRIX_INTEGRATION="$(MATRIX_INTEGRATION)" \
	  BJNP_MOL_DISTROS="$(MATRIX_MOLECULE_DISTROS)" MOLECULE_WORKERS="$(MOLECULE_WORKERS)" \
	  bash tools/matrix/run.sh $(MATRIX_MINORS)

matrix-ci: image ## What CI runs of the matrix: MATRIX_FULL (the oldest minor) in full, Molecule jobs MATRIX_CI_MOLECULE
	$(MAKE) --no-print-directory matrix MATRIX_MINORS="$(MATRIX_FULL)" MATRIX_MOLECULE="$(MATRIX_CI_MOLECULE)"

build-check: setup ## Build the collection tarball; it must hold no tests, lab or bench files
	bash tools/check-build.sh

# --- publishing: its own locked venv (galaxy-importer pins apart from the dev toolchain) ----
PUBLISH_VENV := .cache/publish-venv

$(PUBLISH_VENV)/.installed: tools/requirements-publish.txt
	test -x $(PUBLISH_VENV)/bin/python || $(PYTHON_BASE) -m venv $(PUBLISH_VENV)
	$(PUBLISH_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-publish.txt
	touch $@

.PHONY: publish-check lock-publish
publish-check: build-check $(PUBLISH_VENV)/.installed ## galaxy-importer, antsibull-docs and antsibull-changelog on the built tarball: no error, no finding
	bash tools/publish-check.sh

lock-publish: ## Re-resolve tools/requirements-publish.in into tools/requirements-publish.txt
	rm -rf .cache/lock-publish-venv && $(PYTHON_BASE) -m venv .cache/lock-publish-venv
	.cache/lock-publish-venv/bin/pip install --quiet -r tools/requirements-publish.in
	{ echo '# Locked publish-check toolchain: `make lock-publish` regenerates it from tools/requirements-publish.in.'; \
	  .cache/lock-publish-venv/bin/pip freeze; } > tools/requirements-publish.txt
