#!/usr/bin/env bash
# Installs the Debian packages coffer needs to build and test, if any are
# missing, and the JavaScript SDK of the integration tests with npm ci
# when it is not installed yet. Checks each package with dpkg-query first,
# so on a ready machine it changes nothing and needs no network. Runs as
# root; otherwise uses sudo when it is available.
set -euo pipefail

packages=(
    meson ninja-build pkg-config gcc
    libmicrohttpd-dev libgnutls28-dev libssl-dev libjansson-dev
    libxml2-dev libsqlite3-dev libcmocka-dev
    python3-pytest awscli openssl curl libcurl4-openssl-dev
    s3cmd rclone nodejs
    libp11-kit-dev softhsm2 opensc
)

# The JavaScript SDK the integration tests drive, from its lock file, once.
install_js_sdk() {
    local js
    js="$(cd "$(dirname "$0")/.." && pwd)/tests/integration/js"
    if [ ! -d "$js/node_modules/@aws-sdk/client-s3" ]; then
        (cd "$js" && npm ci --no-audit --no-fund)
    fi
}

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    install_js_sdk
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "deps.sh: missing packages: ${missing[*]}" >&2
    echo "deps.sh: not root and no sudo; install them and retry" >&2
    exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y "${missing[@]}"
install_js_sdk
