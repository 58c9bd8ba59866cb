# Clinic CRM. `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NPM := node_modules/.installed

.PHONY: run test test-tools setup seed bench lint fmt messages check-deploy clean-db

setup: $(STAMP_PY) $(STAMP_NPM)
	$(PY) -m clinic.i18n_compile

$(STAMP_PY): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

$(STAMP_NPM): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

## Run the system with demo data on the embedded PostgreSQL (no Redis needed).
run: setup
	$(PY) -m clinic.devserver

## Tools the tests use that pip and npm cannot give: Debian's chromium (browser tests) and
## poppler-utils (PDF text). Installed when we are root with apt; otherwise the run ends with
## a line saying how many browser tests were skipped and how to enable them.
test-tools:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="chromium"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "== apt-get install$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null) \
	    || echo "apt-get could not install$$missing; those tests will be skipped"; \
	fi

## Run the whole test suite on real PostgreSQL (DATABASE_URL, or the embedded server).
test: setup test-tools
	@if [ -z "$$DATABASE_URL" ]; then \
	  was=$$($(PY) -m clinic.embedded status); \
	  $(PY) -m clinic.embedded start; \
	  $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ "$$was" = "stopped" ]; then $(PY) -m clinic.embedded stop; fi; \
	  exit $$rc; \
	else \
	  $(PY) -m pytest $(PYTEST_ARGS); \
	fi

seed: setup
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo

## Every benchmark at a small scale.
bench: setup
	$(PY) -m benchmarks.run_all --small

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

fmt: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

messages: setup
	$(PY) manage.py makemessages -l zh_Hans -l en --no-obsolete --add-location file -i ".venv/*" -i "node_modules/*" -i "tests/*" -i "var/*" -i "benchmarks/*"
	$(PY) -m clinic.i18n_compile

check-deploy: setup
	SECRET_KEY=$${SECRET_KEY:-check-deploy-only-0123456789abcdefghijklmnopqrstuvwxyzABCDEF} \
	ALLOWED_HOSTS=$${ALLOWED_HOSTS:-crm.example.cn} \
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} \
	$(PY) manage.py check --deploy --fail-level WARNING --settings=clinic.settings.production

clean-db:
	$(PY) -m clinic.embedded stop || true
	rm -rf var/pgdata var/.demo-loaded var/celery
