# Set-up and entry points. Everything installs into .venv: our import package
# `rdbtools` shares its name with the abandoned redis-rdb-tools, so rdbkit keeps
# an environment of its own.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test redis man bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,fuzz]' || $(PY) -m pip install -q -e '.[test]'
	touch $@

# Real Redis 7.0 (Debian) is the judge the tests compare against.
redis:
	@command -v redis-server >/dev/null && command -v redis-check-aof >/dev/null && command -v redis-check-rdb >/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq redis-server redis-tools)
	@command -v strace >/dev/null || (apt-get install -y -qq strace || true)

# The main job on the shipped fixtures: check every RDB and AOF, print each one's offline
# DEBUG DIGEST, and dump one RDB as JSON Lines.
demo: $(VENV)/.installed
	$(VENV)/bin/rdbkit check-rdb --summary fixtures/rdb/*.rdb
	$(VENV)/bin/rdbkit check-aof fixtures/aof/preamble/appendonlydir
	$(VENV)/bin/rdbkit digest fixtures/rdb/*.rdb fixtures/aof/*/appendonlydir
	$(VENV)/bin/rdbkit dump --format jsonl --db 1 fixtures/rdb/all-types.rdb

test: $(VENV)/.installed redis
	$(PY) -m pytest -q $(PYTEST_ARGS)

man: $(VENV)/.installed
	$(PY) man/build.py

bench: $(VENV)/.installed redis
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info
