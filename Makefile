# Two commands do everything on a fresh machine: `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test demo lint format bench clean translations

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

bench: $(STAMP)
	$(PY) bench/throughput.py

clean:
	rm -rf $(VENV) instance .pytest_cache

## translations: re-extract the messages, merge them into the Vietnamese catalog, compile it
translations: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ --no-location -o app/translations/messages.pot app
	$(VENV)/bin/pybabel update -i app/translations/messages.pot -d app/translations -l vi --no-fuzzy-matching
	$(VENV)/bin/pybabel compile -d app/translations -l vi --statistics
