#!/usr/bin/env bash
# The test suite (slow benchmarks excluded; add `-m slow` to run them).
source "$(dirname "$0")/env.sh"
# The web page is tested in a real headless Chromium: install Debian's chromium and
# chromium-driver where we can (root with apt-get, as in CI); elsewhere those tests are
# skipped with the reason.
if ! command -v chromedriver >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "kgdistill: installing chromium and chromium-driver for the browser test (first run only)" >&2
    (DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 ||
     { apt-get update -q >/dev/null 2>&1 &&
       DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; }) ||
        echo "kgdistill: could not install chromium; the browser tests will be skipped" >&2
fi
# The SPARQL backend is also tested against Debian's Virtuoso (the store behind many
# public endpoints), installed the same way; skipped with the reason where it is absent.
if ! command -v virtuoso-t >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "kgdistill: installing virtuoso-opensource for the SPARQL endpoint tests (first run only)" >&2
    (DEBIAN_FRONTEND=noninteractive apt-get install -y -q virtuoso-opensource >/dev/null 2>&1 ||
     { apt-get update -q >/dev/null 2>&1 &&
       DEBIAN_FRONTEND=noninteractive apt-get install -y -q virtuoso-opensource >/dev/null 2>&1; }) ||
        echo "kgdistill: could not install virtuoso-opensource; its tests will be skipped" >&2
fi
exec .venv/bin/python -m pytest "$@"
