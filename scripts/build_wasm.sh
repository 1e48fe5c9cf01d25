#!/usr/bin/env bash
# scripts/build_wasm.sh [OUT_DIR] [--check]: the device runtime (runtime/) as WebAssembly, with
# Debian's emscripten (apt-get install emscripten), and the offline translation page around it.
#
# Writes OUT_DIR/site/ (default build-wasm/site/), a static site that needs nothing but a web
# server (docs/device.md, "In the browser"):
#   index.html app.js worker.js edgeformer_rt.js style.css   the page (copied from web/)
#   edgeformer.js edgeformer.wasm                            portable C kernels
#   edgeformer-simd.js edgeformer-simd.wasm                  WebAssembly SIMD128 kernels
# The worker loads the SIMD128 module when the browser validates SIMD code, else the portable
# one. Both compute the same bits: runtime/kernels_wasm.c follows the portable path's order.
# --check also builds the kernel self-test (tests/runtime/kernels_checks.c) for both modules
# and runs it with node (int8 bit-exact against the formula, fp32 against double), and
# tests/web/wasm_kernels_identical.c (SIMD128 gives the portable path's bits, fp32 and int8).
# Flags are fixed here (no -march, no environment), so a build is reproducible: the same
# sources and emscripten give the same bytes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=build-wasm
check=0
for a in "$@"; do
  case $a in
  --check) check=1 ;;
  -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "build_wasm.sh: unknown option $a" >&2; exit 2 ;;
  *) out=$a ;;
  esac
done
command -v emcc >/dev/null || { echo "build_wasm.sh: emcc not found (apt-get install emscripten)" >&2; exit 1; }
# Debian's emscripten runs its JS optimiser with node and Debian's node-acorn; a node from
# elsewhere (nodesource) does not look in /usr/share/nodejs by itself
export NODE_PATH=${NODE_PATH:+$NODE_PATH:}/usr/share/nodejs
mkdir -p "$out/site"
out=$(cd "$out" && pwd)

# runtime/ minus the native vector paths; kernels_wasm.c only matters with -msimd128
srcs=()
for f in "$root"/runtime/*.c; do
  case $(basename "$f") in kernels_x86*.c | kernels_neon.c) continue ;; esac
  srcs+=("$f")
done
# No -fopenmp-simd (unlike the native build): the attention loops then keep their written
# order in both modules, so the portable and the SIMD128 module agree bit for bit.
cflags=(-O3 -DNDEBUG -std=gnu11 -ffp-contract=off -Wall -Wextra -Wno-unused-parameter
  -Wno-missing-field-initializers -Werror -I"$root")
exports=_ef_rt_load_memory,_ef_rt_translate,_ef_rt_free,_ef_rt_model_info,_ef_rt_options_default
exports+=,_ef_rt_strerror,_ef_wasm_alloc64,_ef_wasm_isa,_malloc,_free
lflags=(-sMODULARIZE=1 -sEXPORT_NAME=EdgeformerModule -sENVIRONMENT=web,worker,node
  -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=2gb -sFILESYSTEM=0 -sEXPORTED_FUNCTIONS="$exports"
  -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8)

build() { # NAME EXTRA_FLAGS...
  local name=$1; shift
  emcc "${cflags[@]}" "$@" "${lflags[@]}" "${srcs[@]}" "$root/web/edgeformer_wasm.c" \
    -o "$out/site/$name.js"
}
build edgeformer
build edgeformer-simd -msimd128
for f in index.html app.js worker.js edgeformer_rt.js style.css; do
  cp "$root/web/$f" "$out/site/$f"
done
for n in edgeformer edgeformer-simd; do
  printf '%s.wasm: %s bytes (%s bytes gzipped)\n' "$n" "$(stat -c %s "$out/site/$n.wasm")" \
    "$(gzip -9n <"$out/site/$n.wasm" | wc -c)"
done

if [ "$check" = 1 ]; then
  # node >= 18 would fetch() the .wasm by path (emscripten 3.1.6's glue); read it from disk
  nodeflags=()
  node --no-experimental-fetch -e 0 2>/dev/null && nodeflags=(--no-experimental-fetch)
  for v in portable simd; do
    extra=()
    [ $v = simd ] && extra=(-msimd128)
    emcc "${cflags[@]}" "${extra[@]}" -sALLOW_MEMORY_GROWTH=1 -sENVIRONMENT=node \
      "${srcs[@]}" "$root/tests/runtime/kernels_selftest.c" "$root/tests/runtime/kernels_checks.c" \
      -o "$out/kernels_selftest_$v.js"
    node "${nodeflags[@]}" "$out/kernels_selftest_$v.js"
  done
  emcc "${cflags[@]}" -msimd128 -sALLOW_MEMORY_GROWTH=1 -sENVIRONMENT=node "${srcs[@]}" \
    "$root/tests/web/wasm_kernels_identical.c" -o "$out/wasm_kernels_identical.js"
  node "${nodeflags[@]}" "$out/wasm_kernels_identical.js"
fi
echo "site: $out/site"
