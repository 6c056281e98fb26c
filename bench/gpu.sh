#!/usr/bin/env bash
# bench/gpu.sh: bench:kernels and bench:train on a machine with a real GPU (written for an NVIDIA GPU with
# its Vulkan driver, e.g. a cloud H100/H200 under Linux). Run from the repository root after `npm ci`:
#
#   bash bench/gpu.sh                       # FP32 peak looked up from nvidia-smi's GPU name
#   FP32_PEAK_TFLOPS=67 bash bench/gpu.sh   # or given
#
# Chromium first (Debian's /usr/bin/chromium or $COCKTAIL_CHROMIUM). Headless Chromium may still hand
# WebGPU to SwiftShader when it does not take the GPU (blocklist, no display): the kernels run is then
# repeated on Dawn in Node (the `webgpu` package over the system's Vulkan driver), and the train run is
# reported as not run on the GPU. Results go to bench/results/gpu-<date>-*.{json,md}, with the adapter's
# name, its features and, per product, ours as a share of the FP32 peak. VK_ICD_FILENAMES must be unset,
# or point at the GPU's driver (the CPU-only setup points it at SwiftShader).
set -euo pipefail
cd "$(dirname "$0")/.."
unset VK_ICD_FILENAMES
stamp=$(date -u +%Y-%m-%d)
out=bench/results/gpu-$stamp

gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || true)
echo "GPU: ${gpu_name:-none found by nvidia-smi}"
peak=${FP32_PEAK_TFLOPS:-}
if [ -z "$peak" ]; then
  # Dense FP32 (non-tensor-core) peaks from NVIDIA's data sheets; ENGINEERING.md §5.
  case "$gpu_name" in
    *H200*|*"H100 80GB HBM3"*|*"H100 SXM"*) peak=67 ;;
    *"H100 PCIe"*|*"H100"*) peak=51 ;;
    *A100*) peak=19.5 ;;
    *L40S*) peak=91.6 ;;
    *L4*) peak=30.3 ;;
    *"RTX 4090"*) peak=82.6 ;;
    *T4*) peak=8.1 ;;
    *) peak= ;;
  esac
fi
peak_args=()
if [ -n "$peak" ]; then peak_args=(--peak-tflops "$peak"); else echo "FP32 peak unknown for '$gpu_name': set FP32_PEAK_TFLOPS to get shares of peak"; fi

adapter_of() { node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).adapter)' "$1"; }
# Which GEMM route f16 weights should take on this GPU: bench:kernels times gemm and gemm-f16 (enable f16;)
# on every frozen-weight product where the adapter has shader-f16, and its notes say which was faster.
f16_verdict_of() { node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).notes.match(/[^.]*gemm-f16[^]*?\.(?= |$)/)?.[0] ?? "no f16 verdict")' "$1"; }

node bin/run-ts.mjs bench/kernels.ts "${peak_args[@]}" --out "$out-kernels-chromium"
if adapter_of "$out-kernels-chromium.json" | grep -qi swiftshader; then
  echo "Chromium ran WebGPU on SwiftShader here, not the GPU: running bench:kernels on Dawn in Node instead"
  node bin/run-ts.mjs bench/kernels.ts --node "${peak_args[@]}" --out "$out-kernels-node"
  f16_verdict_of "$out-kernels-node.json"
else
  f16_verdict_of "$out-kernels-chromium.json"
fi
# Decoding (M = 1): gemv-subgroup where the adapter has subgroups, then gemv on a device created without them.
kernels_runner=(node bin/run-ts.mjs bench/kernels.ts)
if adapter_of "$out-kernels-chromium.json" | grep -qi swiftshader; then kernels_runner+=(--node); fi
"${kernels_runner[@]}" --tokens 1 --only "X·Wᵀ" "${peak_args[@]}" --out "$out-kernels-decode" || true
"${kernels_runner[@]}" --tokens 1 --only "X·Wᵀ" --without subgroups "${peak_args[@]}" --out "$out-kernels-decode-without-subgroups" || true
# The GPU family forced, then the CPU family forced: which kernels suit this GPU (the router's choice is the first run).
node bin/run-ts.mjs bench/kernels.ts --kernels cpu "${peak_args[@]}" --out "$out-kernels-cpu-family" || true

node bin/run-ts.mjs bench/train.ts --out "$out-train"
if adapter_of "$out-train.json" | grep -qi swiftshader; then
  echo "bench:train ran on SwiftShader in Chromium, not on the GPU: it has no Node mode yet, so there is no GPU figure for it"
fi
echo "done: $out-*.json and .md"
