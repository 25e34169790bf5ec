#!/usr/bin/env bash
# Install the programs some tests need: redis-server (response cache tests), Debian's chromium
# (HTML report tests), valgrind (instruction-count tests) and shellcheck (the workflow linter of
# make lint, run by the workflow tests). The tests start and stop their own redis and chromium
# instances, bound to 127.0.0.1.
#
# Installs with apt only when it can (root, apt-get present). Elsewhere it says what is missing:
# those tests are then skipped with the reason locally, and fail under CI=true.
set -uo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "test services: installing ${need[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    for pkg in "${need[@]}"; do  # one at a time: a package that fails does not take the others down
        if ! apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null; then
            echo "test services: apt-get could not install $pkg; the tests that need it will say so" >&2
        fi
    done
else
    echo "test services: ${need[*]} not installed and apt-get is not usable here;" \
         "the tests that need them are skipped (and fail under CI=true)" >&2
fi
exit 0
