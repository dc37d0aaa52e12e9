#!/usr/bin/env bash
# Packs what the GPU report needs on a bare Linux x86-64 machine with an NVIDIA GPU and no network
# into one folder, device-pack/ (at most 60 MiB): this machine's Node binary and the `webgpu`
# package's Dawn (both xz-compressed), the report's runner built with every other dependency
# inside it (scripts/device/report.ts), the Vulkan loader and GL dispatch libraries, and run.sh,
# which runs it there.
#
#   bash scripts/device/pack.sh && bash device-pack/run.sh OUT_FOLDER [--quick]
set -euo pipefail
cd "$(dirname "$0")/../.."
pack=device-pack
limit=$((60 * 1024 * 1024))

rm -rf "$pack"
mkdir -p "$pack/node_modules/webgpu/dist/linux-x64" "$pack/lib"
npx vite build --mode device --logLevel warn
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$pack/node_modules/webgpu/"
xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$pack/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
xz -T0 -6 -c "$(readlink -f "$(command -v node)")" > "$pack/node.xz"
# The Vulkan loader and the GL dispatch libraries NVIDIA's Vulkan driver loads (Debian's), for a
# machine that has the driver but not these; else this machine's loader alone.
debs=$(mktemp -d)
if (cd "$debs" && apt-get download -qq libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libgles2 libopengl0 2>/dev/null); then
  for deb in "$debs"/*.deb; do dpkg -x "$deb" "$debs/root"; done
  cp -L "$debs"/root/usr/lib/x86_64-linux-gnu/*.so* "$pack/lib/"
else
  cp -L "$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ {print $NF; exit}')" "$pack/lib/libvulkan.so.1"
fi
rm -rf "$debs"
cp scripts/device/run.sh "$pack/run.sh"

bytes=$(du -sb "$pack" | cut -f1)
echo "device-pack: $bytes bytes ($(awk "BEGIN {printf \"%.1f\", $bytes / 1048576}") MiB; Node $(node --version), webgpu $(node -p "require('./node_modules/webgpu/package.json').version"))"
if [ "$bytes" -gt "$limit" ]; then
  echo "device-pack is larger than 60 MiB" >&2
  exit 1
fi
