# Two commands set everything up on a fresh Debian / Raspberry Pi OS machine:
#   make run    install into .venv, initialise ./var, start web + worker + bridge
#   make test   install (with test tools and system packages), then the whole suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Debian packages the box or the tests need (see system-packages.txt)
SYSTEM_PACKAGES := $(shell grep -v '^\#' system-packages.txt)

.PHONY: run test install system-deps lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# apt-get only when something is missing, so repeated runs stay fast
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages: $$missing"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

run: install
	$(VENV)/bin/stampbox init
	STAMPBOX_DEV_MODE=$${STAMPBOX_DEV_MODE:-1} $(VENV)/bin/stampbox run

test: system-deps install
	$(PY) -m ruff check appliance firmware_bridge web tests bench
	$(PY) -m pytest

bench: install
	$(PY) bench/tap.py

clean:
	rm -rf $(VENV) .pytest_cache
