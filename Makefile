# Two commands do everything on a fresh machine: `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test demo lint format bench clean translations frontend screenshots

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

## run: install, initialize the embedded SQLite database with the demo data, start everything
run: $(STAMP)
	$(VENV)/bin/portal run

## test: install, lint, and run the whole test suite (SQLite and PostgreSQL)
test: $(STAMP)
	$(VENV)/bin/ruff check app tests $(wildcard bench)
	$(PY) -m pytest -q -p no:cacheprovider

demo: $(STAMP)
	$(VENV)/bin/portal demo --consignments 10

lint: $(STAMP)
	$(VENV)/bin/ruff check app tests $(wildcard bench)

format: $(STAMP)
	$(VENV)/bin/ruff format app tests $(wildcard bench)

## screenshots: run the browser tests and keep their pictures of the pages in docs/screenshots/ (the README's)
screenshots: $(STAMP)
	PORTAL_UPDATE_SCREENSHOTS=1 $(PY) -m pytest -q -p no:cacheprovider tests/browser

bench: $(STAMP)
	$(PY) bench/throughput.py

## frontend: rebuild the vendored browser bundles in app/static/vendor/ (needs Node 20+; commit the result)
frontend:
	cd frontend && npm ci && npm run build

clean:
	rm -rf $(VENV) instance .pytest_cache

## translations: re-extract the messages, merge them into the Vietnamese catalog, compile it
translations: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ --no-location -o app/translations/messages.pot app
	$(VENV)/bin/pybabel update -i app/translations/messages.pot -d app/translations -l vi --no-fuzzy-matching
	$(VENV)/bin/pybabel compile -d app/translations -l vi --statistics
