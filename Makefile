# urbanseg — `make report` runs the whole study, `make test` runs the tests.
# Both set themselves up on a fresh clone: a virtual environment in .venv, the project installed
# in it, and the Jupyter kernel "urbanseg" registered inside it.
#
# Variables (passed through to every notebook):
#   DATA=/path/to/cityscapes   the real data set (default: the embedded synthetic tree)
#   MODELS="unet fcn"          which notebooks to run (default: all in notebooks/)
#   EPOCHS=20                  training epochs (default 6)
#   SEEDS="0 1 2"              one run per model and seed (default "0 1")
#                              The defaults, two seeds of 6 epochs, fit the synthetic study in
#                              about 15 minutes on 2 cores; a real study wants more of both.
#   SIZE=256x512               training resolution HxW (multiples of 32)
#   JOBS=2                     notebooks run at once
#   FORCE=1                    rerun models whose results are complete
#   TIMEOUT=7200               per-cell time limit of the notebooks in seconds (default: none)
#   RECIPE=paper               the parameters of studies/RECIPE.yaml (paper: the papers' recipe)
#   PARAMS="-p width 1"        any other notebook parameters, as urbanseg run takes them
#   GPU=1                      `make setup` installs TensorFlow with CUDA instead of the CPU build
#   AUTHOR="Ana" GROUP=G3 COURSE="..."   who made the study, on the report's cover
#                              (or results/study.yaml with author:, group:, course:)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp-setup
JOBS   ?= 1
SEEDS  ?= 0 1
EPOCHS ?= 6

RUN_ARGS := $(if $(DATA),--root $(DATA)) $(if $(strip $(SEEDS)),--seeds $(SEEDS)) \
            $(if $(RECIPE),-f studies/$(RECIPE).yaml) \
            $(if $(EPOCHS),-p epochs $(EPOCHS)) \
            $(if $(SIZE),-p image_height $(word 1,$(subst x, ,$(SIZE))) -p image_width $(word 2,$(subst x, ,$(SIZE)))) \
            $(if $(FORCE),--force) $(if $(TIMEOUT),--timeout $(TIMEOUT)) --jobs $(JOBS) $(PARAMS)

.PHONY: help setup report test test-fast lint format lab bench paper-check new-model submission \
        clean distclean

help:
	@echo "make report   run every model notebook and render report/relatorio.{html,pdf}"
	@echo "make test     run the test suite"
	@echo "make lint     check formatting and lint (ruff); make format rewrites the files"
	@echo "make setup    create .venv, install urbanseg, register the Jupyter kernel"
	@echo "make lab      open the notebooks in JupyterLab"
	@echo "make new-model NAME=mine   notebooks/mine.ipynb from the template, for a model of your own"
	@echo "make submission   submission.zip of the study, for a teacher to check (urbanseg verify)"
	@echo "make bench    speed checks, each a ratio measured side by side (bench/RESULTS.md)"
	@echo "make paper-check DATA=...   the papers' recipe, tiny, on every model: before GPU-hours"
	@echo "make clean    remove results/ and the generated report"
	@echo "variables: DATA= MODELS= EPOCHS= SEEDS=\"0 1\" SIZE=HxW JOBS= FORCE=1 TIMEOUT=s PARAMS=\"-p NAME VALUE\" GPU=1"

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.10+ or run make PYTHON=/path/to/python3"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
ifeq ($(GPU),1)
	$(BIN)/python -m pip uninstall --yes --quiet tensorflow-cpu || true
	$(BIN)/python -m pip install --quiet -e '.[test,gpu]'
else
	$(BIN)/python -m pip install --quiet -e '.[test,cpu]'
endif
	$(BIN)/python -m ipykernel install --sys-prefix --name urbanseg --display-name "Python (urbanseg)" >/dev/null
	@touch $@
	@echo "environment ready: $(VENV) (kernel 'urbanseg')"

report: setup
	@status=0; \
	$(BIN)/urbanseg run $(MODELS) $(RUN_ARGS) || status=$$?; \
	$(BIN)/urbanseg report $(if $(AUTHOR),--author "$(AUTHOR)") $(if $(GROUP),--group "$(GROUP)") \
	    $(if $(COURSE),--course "$(COURSE)") || exit $$?; \
	exit $$status

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lab: setup
	$(BIN)/python -m pip install --quiet -e '.[test,cpu,jupyter]'
	URBANSEG_PROJECT_DIR=$(CURDIR) $(BIN)/jupyter lab notebooks/

# CPU checks, each a ratio measured side by side: bench/results.csv and bench/RESULTS.md.
# On a GPU machine: python benchmarks/bench_gpu.py (writes bench/GPU.md).
# BENCH="--only cache epoch" runs some of them.
bench: $(VENV)/.stamp-bench
	$(BIN)/python benchmarks/bench.py $(BENCH)

$(VENV)/.stamp-bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,cpu,bench]'
	@touch $@

# make paper-check DATA=/path/to/cityscapes: studies/paper.yaml on every model with 4 iterations
# on 64x128 crops, scored on the whole images; the tree checked first (synthetic without DATA)
paper-check: setup
	bash benchmarks/paper_check.sh $(DATA)

# make new-model NAME=mine: notebooks/mine.ipynb from the template
new-model: setup
	@test -n "$(NAME)" || { echo "usage: make new-model NAME=my_model"; exit 2; }
	$(BIN)/urbanseg new-model $(NAME)

# make submission AUTHOR="Ana" GROUP=G3: submission.zip of results/ and report/ (urbanseg bundle)
submission: setup
	$(BIN)/urbanseg bundle -o submission.zip $(if $(AUTHOR),--author "$(AUTHOR)") \
	    $(if $(GROUP),--group "$(GROUP)") $(if $(COURSE),--course "$(COURSE)")

clean:
	rm -rf results report/*.html report/*.pdf report/notebooks

distclean: clean
	rm -rf $(VENV) .pytest_cache .ruff_cache dist
