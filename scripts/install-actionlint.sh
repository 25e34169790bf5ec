#!/usr/bin/env bash
# Make the workflow linter complete: actionlint itself comes with the dev extra (make setup installs
# it into .venv); the shellcheck it runs over every `run:` script is Debian's, installed here with
# apt-get when it is missing and we can (root, apt-get present).
#
# Without shellcheck, actionlint still checks the workflows but not their shell scripts: said here,
# and make lint goes on; under CI=true that is an error (exit 1), so CI never lints less than it says.
set -uo pipefail

if ! command -v shellcheck >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "actionlint: installing shellcheck with apt-get" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends shellcheck >/dev/null \
            || echo "actionlint: apt-get could not install shellcheck" >&2
    fi
fi

if ! command -v shellcheck >/dev/null 2>&1; then
    echo "actionlint: shellcheck is not installed, so the run: scripts of the workflows are not checked" \
         "(install Debian's shellcheck: sudo bash scripts/install-actionlint.sh)" >&2
    if [ "${CI:-}" = "true" ]; then
        echo "actionlint: CI=true: failing, as the lint would be incomplete" >&2
        exit 1
    fi
fi
exit 0
