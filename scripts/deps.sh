#!/usr/bin/env bash
# Installs the Debian packages coffer needs to build and test, if any are
# missing. Checks each with dpkg-query first, so on a ready machine it
# changes nothing and needs no network. Runs as root; otherwise uses sudo
# when it is available.
set -euo pipefail

packages=(
    meson ninja-build pkg-config gcc
    libmicrohttpd-dev libgnutls28-dev libssl-dev libjansson-dev
    libxml2-dev libsqlite3-dev libcmocka-dev
    python3-pytest awscli openssl curl
)

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
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
