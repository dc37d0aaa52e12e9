#!/usr/bin/env bash
# Runs the GPU report from the folder scripts/device/pack.sh made, on a Linux x86-64 machine with
# a Vulkan driver (an NVIDIA GPU, say) and no network: unpacks Node and Dawn into a temporary
# folder, then runs the benchmark, the TensorFlow.js side-by-side and the paper's experiment,
# writing report.json and report.md into the output folder (argument, else $REPORT_OUT, else $OUT).
#
#   bash device-pack/run.sh OUT_FOLDER [--quick] [--seconds N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${REPORT_OUT:-${OUT:-}}}
[ -n "$out" ] || { echo "usage: bash run.sh OUT_FOLDER [--quick] [--seconds N]" >&2; exit 2; }
[ $# -gt 0 ] && shift
mkdir -p "$out"
out=$(cd "$out" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unpack() { # xz where the machine has it, else Python's lzma
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
cp -r "$here/node_modules" "$here/report.js" "$work/"
[ -d "$here/assets" ] && cp -r "$here/assets" "$work/"
unpack "$here/node.xz" "$work/node" && chmod +x "$work/node"
unpack "$here/node_modules/webgpu/dist/linux-x64/dawn.node.xz" "$work/node_modules/webgpu/dist/linux-x64/dawn.node"

# The Vulkan loader and GL dispatch libraries: the machine's own where it has them, else those packed.
for lib in libvulkan.so.1 libGLdispatch.so.0; do
  if ! ldconfig -p 2>/dev/null | grep -q "$lib"; then
    export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$here/lib"
    break
  fi
done
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work}

# Which adapter Dawn finds; where it finds none, NVIDIA's Vulkan driver may be mounted but not
# registered with the loader (/usr/local/nvidia on some machines): name its manifest.
probe() {
  (cd "$work" && "$work/node" --input-type=module -e "
    import { create } from 'webgpu';
    const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
    console.log(adapter ? [adapter.info.vendor, adapter.info.architecture, adapter.info.description].join(' / ') : 'none');
    process.exit(0);") 2>/dev/null | tail -n 1 || true
}
adapter=$(probe)
if [ "$adapter" = none ] || [ -z "$adapter" ] || [[ "$adapter" == *llvmpipe* && -z "${VK_DRIVER_FILES:-}" ]]; then
  for manifest in /usr/local/nvidia/share/vulkan/icd.d/*.json /usr/local/nvidia/etc/vulkan/icd.d/*.json \
    /usr/share/vulkan/icd.d/nvidia*.json /etc/vulkan/icd.d/nvidia*.json; do
    [ -f "$manifest" ] || continue
    found=$(VK_DRIVER_FILES=$manifest probe)
    if [ -n "$found" ] && [ "$found" != none ]; then
      export VK_DRIVER_FILES=$manifest
      adapter=$found
      break
    fi
  done
fi

{
  uname -a
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
  echo "adapter: $adapter"
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-} LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  ls /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1 || true
} > "$out/machine.txt" 2>&1
cat "$out/machine.txt"
cd "$work"
"$work/node" report.js --out "$out" "$@" 2>&1 | tee "$out/log.txt"
