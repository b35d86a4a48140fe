# d2dense: one-command set-up.  `make test` (what CI runs) and `make demo` both create .venv if
# missing and install everything first.
PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.d2dense-installed
# A detectron2 you built yourself (GPU route) in the base interpreter is reused: the venv then sees
# the base site-packages, so torch and detectron2 come from there.
SYSTEM_SITE := $(shell $(PYTHON) -c "import detectron2" >/dev/null 2>&1 && echo --system-site-packages)

.PHONY: install test demo bench clean

install: $(STAMP)

$(STAMP): setup.py requirements.txt requirements-torch.txt tools/install_detectron2.sh
	test -x $(VPY) || $(PYTHON) -m venv $(SYSTEM_SITE) $(VENV)
	$(VPY) -c "import torch, torchvision" 2>/dev/null || $(VPY) -m pip install -r requirements-torch.txt
	$(VPY) -m pip install -r requirements.txt
	tools/install_detectron2.sh $(VPY)
	$(VPY) -m pip install --no-deps --no-build-isolation -e . --config-settings editable_mode=compat
	$(VPY) -c "import detectron2, d2dense, matchcost; print('d2dense install OK')"
	touch $@

test: install
	$(VPY) -m pytest -q tests

demo: install
	$(VPY) tools/cpu_demo.py --output-dir output/demo

bench: install
	$(VPY) benchmarks/bench_matchcost.py

clean:
	rm -rf $(VENV) output build *.egg-info
