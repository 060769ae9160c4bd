# Two commands set everything up on a fresh Debian / Raspberry Pi OS machine:
#   make run    install into .venv, initialise ./var, start web + worker + bridge
#   make test   install (with test tools and system packages), then the whole suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Debian packages the box needs, and those only the tests need
SYSTEM_PACKAGES := $(shell grep -hv '^\#' system-packages.txt)
TEST_PACKAGES := $(shell grep -hv '^\#' system-packages-test.txt)

.PHONY: run test install system-deps test-system-deps apt-install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# apt-get only when something is missing, so repeated runs stay fast
system-deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(SYSTEM_PACKAGES)"

test-system-deps: system-deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(TEST_PACKAGES)"

apt-install:
	@command -v dpkg >/dev/null || { echo "not a Debian system: install $(PACKAGES) yourself"; exit 0; }; \
	missing=$$(for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages: $$missing"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

run: system-deps install
	$(VENV)/bin/stampbox init
	STAMPBOX_DEV_MODE=$${STAMPBOX_DEV_MODE:-1} $(VENV)/bin/stampbox run

test: test-system-deps install
	$(PY) -m ruff check appliance firmware_bridge web tests bench
	# the printer tests' independent ESC/POS emulator runs from its own Python 3.13 venv
	$(PY) tests/fixtures/emupos_peer.py
	$(PY) -m pytest

bench: install
	$(PY) bench/tap.py

clean:
	rm -rf $(VENV) .pytest_cache
