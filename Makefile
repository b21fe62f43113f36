# Two commands on a fresh machine:  `make run`  and  `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONDONTWRITEBYTECODE = 1
# Tools that shell out (nbgrader -> alembic, jupyter kernels) must find the venv's copies.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: lint venv venv-student browser-deps sandbox-deps test-browser run test test-fast test-colab test-min data demo notebooks release publish autograde feedback export check-notebooks bench clean

# This repository's environment: both roles' packages (the instructor's are a superset of
# the students') plus the test tools.
$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[instructor,test,lint]"
	@touch $(STAMP)

venv: $(STAMP)

## A student's environment (`pip install -e ".[student]"`: no nbgrader), for the browser
## test. STUDENT_VENV may point outside the checkout so that CI reuses it between runs: it
## is rebuilt from scratch when pyproject.toml or constraints.txt change, and only the
## editable install of this package is redone when the checkout moves.
STUDENT_VENV ?= .venv-student
STUDENT_KEY  := $(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
venv-student:
	@if [ ! -f "$(STUDENT_VENV)/.songrec-$(STUDENT_KEY)" ]; then \
	  echo "building the student environment in $(STUDENT_VENV) ..."; \
	  rm -rf "$(STUDENT_VENV)" && $(PY) -m venv "$(STUDENT_VENV)" && \
	  "$(STUDENT_VENV)/bin/python" -m pip install -q --upgrade pip && \
	  "$(STUDENT_VENV)/bin/python" -m pip install -q -c constraints.txt -e ".[student]" && \
	  touch "$(STUDENT_VENV)/.songrec-$(STUDENT_KEY)" && echo "$(CURDIR)" > "$(STUDENT_VENV)/.songrec-checkout"; \
	elif [ "$$(cat "$(STUDENT_VENV)/.songrec-checkout" 2>/dev/null)" != "$(CURDIR)" ]; then \
	  echo "student environment $(STUDENT_VENV): pointing it at this checkout"; \
	  "$(STUDENT_VENV)/bin/python" -m pip install -q --no-deps -e . && echo "$(CURDIR)" > "$(STUDENT_VENV)/.songrec-checkout"; \
	else \
	  echo "student environment $(STUDENT_VENV) is up to date"; \
	fi

## What the browser test needs: Debian's chromium (installed with apt when running as root),
## Playwright's Python package (drives that chromium; downloads no browser), the student
## environment. Each piece that cannot be had makes the test skip with the reason.
browser-deps: venv
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
	  echo "browser-deps: could not install chromium (needs root and apt); the browser test will skip"
	@$(BIN)/python -m pip install -q -c constraints.txt -e ".[browser]" || \
	  echo "browser-deps: could not install playwright; the browser test will skip"
	@$(MAKE) --no-print-directory venv-student || \
	  echo "browser-deps: could not build the student environment; the browser test will skip"

## bubblewrap, the sandbox autograde runs each student's kernel in (apt, when running as
## root). Without it `make autograde` refuses unless told SANDBOX=none, and the sandbox
## tests skip (fail under .ci/run, which sets SONGREC_REQUIRE_SANDBOX=1).
sandbox-deps:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null 2>&1; }; }; } || \
	  echo "sandbox-deps: could not install bubblewrap (needs root and apt): autograde needs --sandbox none"

## The real-browser test alone: JupyterLab (student and instructor environments) in headless Chromium.
test-browser: browser-deps
	SONGREC_PROFILE=ci SONGREC_STUDENT_VENV="$(STUDENT_VENV)" $(BIN)/python -m pytest -m browser -p no:cacheprovider tests/instructor/test_browser.py tests/instructor/test_browser_report.py

## The main job: find (or download) the data, train the reference model, print
## recommendations, then execute the six notebooks into build/.
run: venv
	$(BIN)/songrec demo
	$(MAKE) --no-print-directory notebooks

## Every test: helpers, CLI, notebooks (nbval, CI profile) and the nbgrader round trip.
## The simulated-Colab run has its own target (it builds a second, cached environment).
## Sets up the browser and sandbox tests' pieces first where it can (root with apt), as .ci/run
## does; whatever still skips is listed, with the reason and the fix, at the end of the run.
test: venv browser-deps sandbox-deps
	SONGREC_PROFILE=ci SONGREC_STUDENT_VENV="$(STUDENT_VENV)" $(BIN)/python -m pytest -m "not colab" --durations=30

test-fast: venv
	SONGREC_PROFILE=ci $(BIN)/python -m pytest -m "not slow and not browser and not colab"

## The released notebooks on a simulated Colab runtime (Colab's pinned versions, Python 3.13,
## one fresh runtime per notebook); needs SONGREC_DATA_DIR. See docs/TESTING.md.
test-colab: venv
	SONGREC_PROFILE=ci $(BIN)/python -m pytest -m colab

## The fast tests (the six notebooks and the nbgrader toy round trip included) on the oldest
## versions pyproject.toml accepts (tests/min/), in a venv cached under ~/.cache/songrec-ci.
## Needs no `make venv`.
test-min:
	@venv=$$($(PY) tools/ci_venv.py min) && echo "test-min: $$venv" && \
	export PATH="$$venv/bin:$$PATH" PYTHONPATH="$(CURDIR)" SONGREC_PROFILE=ci && \
	"$$venv/bin/python" -m pytest -p no:cacheprovider -m "not slow and not colab"

## One linter for the whole repository (settings in pyproject.toml [tool.ruff]).
lint: venv
	$(BIN)/ruff check .

data: venv
	$(BIN)/songrec data fetch

## The six notebooks into build/. Parts 5 and 6 use the reference runs of your last `make release`
## where their settings match, else train them (REFERENCE_RUNS=retrain always trains them).
notebooks: venv
	$(BIN)/python tools/run_notebooks.py --out build --reference-runs $(or $(REFERENCE_RUNS),auto)

## Student notebooks in release/song2vec/ (+ zip). For Colab set SONGREC_COURSE_REPO (and
## SONGREC_RELEASE_REF) or SONGREC_PIP_SPEC, and SONGREC_DATA_URL for a data mirror.
release: venv
	SONGREC_PUBLISH_REFERENCE=1 $(BIN)/python -m tools.instructor release

## Commit release/song2vec/ to the branch the Colab badges open (default: student).
publish: venv
	$(BIN)/python -m tools.instructor publish

# Grades come from the test cells, which build their own small inputs, so grading in the
# small `grading` profile gives the same scores; GRADE_PROFILE=default reruns the full
# assignment. JOBS=N grades N students at once (default: one per CPU core); SANDBOX=none
# runs student code unconfined; AUTOGRADE_ARGS passes anything else (--force,
# --student ID, --scheduler tcp://HOST:PORT). docs/GRADING.md, "Grading a class".
GRADE_PROFILE ?= grading
JOBS ?=
SANDBOX ?=
AUTOGRADE_ARGS ?=
autograde: venv
	$(BIN)/python -m tools.instructor autograde --profile $(GRADE_PROFILE) $(if $(JOBS),--jobs $(JOBS)) \
	  $(if $(SANDBOX),--sandbox $(SANDBOX)) $(AUTOGRADE_ARGS)

feedback: venv
	$(BIN)/python -m tools.instructor feedback --profile $(GRADE_PROFILE)

export: venv
	$(BIN)/python -m tools.instructor export

check-notebooks: venv
	$(BIN)/python -m tools.instructor check

## BENCH_ARGS=--waits: issue 19's waits only (about half an hour); --quick: a smoke run.
bench: venv
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[bench]"
	$(BIN)/python -m bench.run_all $(BENCH_ARGS)

clean:
	rm -rf build release autograded feedback exchange runs/course .pytest_cache autograde-logs autograde-state.json
