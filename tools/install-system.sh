#!/usr/bin/env bash
# Installs the system packages the tests need on Debian 12, as root, and does nothing that is
# already done: Mesa's lavapipe (Vulkan on the CPU) from bookworm-backports, for WebGPU in Node
# (Dawn), and Debian's Chromium, for the headless browser tests. `npm test` runs it first: without
# root, when something is missing, it stops before any suite starts and says what to run.
set -euo pipefail

need_lavapipe() { ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || ! dpkg -s mesa-vulkan-drivers 2>/dev/null | grep -q '^Version: 2[5-9]'; }
need_chromium() { ! command -v chromium >/dev/null 2>&1; }

missing=()
need_lavapipe && missing+=("Mesa's lavapipe 25 (mesa-vulkan-drivers from bookworm-backports), for WebGPU in Node")
need_chromium && missing+=("Chromium, for the browser tests")
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  printf 'install-system: missing %s.\n' "$(IFS=';'; echo "${missing[*]}" | sed 's/;/ and /g')" >&2
  if command -v apt-get >/dev/null 2>&1; then
    echo "Run, then test again:  sudo bash tools/install-system.sh" >&2
  else
    echo "This is not a Debian machine: install a Vulkan driver (Mesa 25 or newer) and Chromium, then test again (CONTRIBUTING.md)." >&2
  fi
  exit 1
fi

echo "install-system: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
sources=/etc/apt/sources.list.d/debian.sources
backports=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -f "$backports" ]; then
  # Same mirror as the existing Debian entry, suite bookworm-backports.
  uri=$(awk '/^URIs:/ {print $2; exit}' "$sources" 2>/dev/null || true)
  [ -n "$uri" ] || uri=http://deb.debian.org/debian
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$backports"
fi
apt-get update -qq
if need_lavapipe; then
  apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1
fi
if need_chromium; then
  apt-get install -y -qq chromium fonts-dejavu-core
fi
