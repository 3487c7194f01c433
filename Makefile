# Two entry points (see README): `make demo` runs the autograding demo, `make test` the test suite.
# Both create the virtual environment .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
# A fixed torch first: on the course machines this is a local CPU wheel, and installing it before
# the package keeps pip from pulling a newer CUDA build to satisfy the open `torch>=2.2` range.
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin

.PHONY: setup system demo test benchmarks labs clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

# System packages (Debian/Ubuntu, as root): bubblewrap sandboxes each student's kernel when
# autograding; chromium runs the browser tests. Without them the autograder falls back to process
# limits and the browser tests are skipped, each saying why.
system:
	@missing=""; command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing; fi

demo: setup
	$(BIN)/seqlab-grade demo

test: setup
	$(BIN)/python -m pytest -n auto

benchmarks: setup
	$(BIN)/python benchmarks/lab_runtime.py 01_rnn
	$(BIN)/python benchmarks/recurrent_vs_torch.py --cell rnn
	$(BIN)/python benchmarks/lab_runtime.py 02_lstm_gru
	$(BIN)/python benchmarks/recurrent_vs_torch.py --cell lstm
	$(BIN)/python benchmarks/word2vec_vs_gensim.py
	$(BIN)/python benchmarks/seq2seq_accuracy.py dates
	$(BIN)/python benchmarks/lab_runtime.py 04_attention
	$(BIN)/python benchmarks/music_validity.py
	$(BIN)/python benchmarks/mha_vs_torch.py
	$(BIN)/python benchmarks/lab_runtime.py 08_language_model
	$(BIN)/python benchmarks/kv_cache_speedup.py
	$(BIN)/python benchmarks/nanogpt_head_to_head.py
	$(BIN)/python benchmarks/autograde_throughput.py

labs: setup
	$(BIN)/seqlab-grade labs

clean:
	rm -rf $(VENV) .pytest_cache
