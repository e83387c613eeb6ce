#!/usr/bin/env bash
# The main job on the example graph in graphs/: `bash scripts/demo.sh`.
source "$(dirname "$0")/env.sh"
exec .venv/bin/kgdistill demo "$@"
