# The two commands of the README: `make demo` (main job on built-in data) and `make test`.
# Each creates .venv on first use from the pinned recipe (requirements.txt + constraints.txt).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export PYTHONHASHSEED ?= 0

.PHONY: setup test sync-check demo bench figures gpu-check gpu-check-dry

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt setup.py settings.ini
	@echo "== setting up $(VENV) (first use, or the install recipe changed): a few minutes"
	@test -x $(BIN)/python || { echo "   creating the virtual environment with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "   installing requirements.txt under constraints.txt (torch 2.14.1, open_clip 3.3, nbdev 2, pydensecrf2 builds ~30 s, ...)"
	@$(BIN)/python -m pip install --progress-bar off -r requirements.txt -c constraints.txt 2>&1 | tee $(VENV)/pip.log \
	  | grep --line-buffered -E "^(Collecting|Building wheel|Successfully installed|ERROR)" | sed -u -e 's/^/   /'; \
	  rc=$${PIPESTATUS[0]}; if [ $$rc -ne 0 ]; then echo "== pip failed (exit $$rc; whole log: $(VENV)/pip.log): nothing else is installed." \
	    "'No space left on device' means the disk is full: .venv needs about 6 GB."; exit 1; fi
	@echo "   installing excel_nb itself (editable)"
	@$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e . > $(VENV)/pip-self.log 2>&1 \
	  || { grep -v "^WARNING: Location" $(VENV)/pip-self.log | sed -e 's/^/   /'; echo "== installing excel_nb failed"; exit 1; }
	@$(BIN)/python -c "import torch, open_clip, nbdev, excel_nb, pydensecrf, sklearn, papermill" \
	  && echo "== $(VENV) ready: torch, open_clip, nbdev, excel_nb, pydensecrf, sklearn, papermill import"
	@touch $(STAMP)

# notebooks stripped and library in sync: nbdev_clean and nbdev_export must change nothing
sync-check: $(STAMP)
	@before=$$(find nbs excel_nb -type f \( -name '*.ipynb' -o -name '*.py' \) | sort | xargs sha1sum); \
	$(BIN)/nbdev_clean && $(BIN)/nbdev_export; \
	after=$$(find nbs excel_nb -type f \( -name '*.ipynb' -o -name '*.py' \) | sort | xargs sha1sum); \
	if [ "$$before" != "$$after" ]; then \
	  echo "nbdev_clean/nbdev_export changed these files (notebooks unstripped or excel_nb/ out of sync):"; \
	  diff <(echo "$$before") <(echo "$$after") | grep '^[<>]' | awk '{print $$3}' | sort -u; \
	  echo "They are now fixed in the work tree: review and commit them."; exit 1; fi; \
	echo "sync-check: notebooks stripped, excel_nb/ in sync"

# two pytest workers with one thread each use the 2 cores better than one worker with two threads
test: sync-check
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --durations=15 tests

demo: $(STAMP)
	$(BIN)/excel-nb demo

bench: $(STAMP)
	$(BIN)/excel-nb bench cams

# The GPU check (issue 14, README "GPU"): on a CUDA machine with PyTorch, no venv and no network needed (it installs
# this tree and the wheels in .whl/ into a temporary folder); figures go to gpu_check.{json,md,log} in OUT.
gpu-check:
	tools/gpu_check.sh --out $(or $(OUT),/tmp/excel_nb_gpu_check) $(GPU_CHECK_ARGS)

# the same check at small sizes on the CPU with this venv (what tests/test_gpu_check.py runs)
gpu-check-dry: $(STAMP)
	OMP_NUM_THREADS=1 tools/gpu_check.sh --python $(BIN)/python --wheels none --device cpu --dry-run \
	    --out $(or $(OUT),/tmp/excel_nb_gpu_check_dry) $(GPU_CHECK_ARGS)

# redraw the figures committed in the notebooks (cells tagged `figure`; after the world CLIP or such a cell changes,
# tests/test_figures.py asks for this); `make figures NB="05_cam 09_lvc"` redraws some notebooks only
figures: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python tools/make_figures.py $(NB)
	$(BIN)/nbdev_clean
