#!/usr/bin/env bash
# The test suite (slow benchmarks excluded; add `-m slow` to run them).
source "$(dirname "$0")/env.sh"
exec .venv/bin/python -m pytest "$@"
