# Two commands on a fresh machine:  `make run`  and  `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONDONTWRITEBYTECODE = 1
# Tools that shell out (nbgrader -> alembic, jupyter kernels) must find the venv's copies.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv run test test-fast test-colab test-min data demo notebooks release publish autograde feedback export check-notebooks bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[course,test]"
	@touch $(STAMP)

venv: $(STAMP)

## The main job: find (or download) the data, train the reference model, print
## recommendations, then execute the six notebooks into build/.
run: venv
	$(BIN)/songrec demo
	$(MAKE) --no-print-directory notebooks

## Every test: helpers, CLI, notebooks (nbval, CI profile) and the nbgrader round trip.
## The simulated-Colab run has its own target (it builds a second, cached environment).
test: venv
	SONGREC_PROFILE=ci $(BIN)/python -m pytest -m "not colab"

## The released notebooks on a simulated Colab runtime (Colab's pinned versions, Python 3.13,
## one fresh runtime per notebook); needs SONGREC_DATA_DIR. See README "Colab".
test-colab: venv
	SONGREC_PROFILE=ci $(BIN)/python -m pytest -m colab

## The fast tests (the six notebooks and the nbgrader toy round trip included) on the oldest
## versions pyproject.toml accepts (tests/min/), in a venv cached under ~/.cache/songrec-ci.
## Needs no `make venv`.
test-min:
	@venv=$$($(PY) tools/ci_venv.py min) && echo "test-min: $$venv" && \
	export PATH="$$venv/bin:$$PATH" PYTHONPATH="$(CURDIR)" SONGREC_PROFILE=ci && \
	"$$venv/bin/python" -m pytest -p no:cacheprovider -m "not slow and not colab"

data: venv
	$(BIN)/songrec data fetch

notebooks: venv
	$(BIN)/python tools/run_notebooks.py --out build

## Student notebooks in release/song2vec/ (+ zip). For Colab set SONGREC_COURSE_REPO (and
## SONGREC_RELEASE_REF) or SONGREC_PIP_SPEC, and SONGREC_DATA_URL for a data mirror.
release: venv
	$(BIN)/python tools/course.py release

## Commit release/song2vec/ to the branch the Colab badges open (default: student).
publish: venv
	$(BIN)/python tools/course.py publish

# Grades come from the test cells, which build their own small inputs, so grading in the
# fast profile gives the same scores; GRADE_PROFILE=default reruns the full assignment.
GRADE_PROFILE ?= ci
autograde: venv
	$(BIN)/python tools/course.py autograde --profile $(GRADE_PROFILE)

feedback: venv
	$(BIN)/python tools/course.py feedback --profile $(GRADE_PROFILE)

export: venv
	$(BIN)/python tools/course.py export

check-notebooks: venv
	$(BIN)/python tools/course.py check

bench: venv
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[bench]"
	$(BIN)/python bench/run_all.py

clean:
	rm -rf build release autograded feedback runs/course .pytest_cache
