#!/usr/bin/env bash
# The runtime is one binary for every x86-64 CPU: only the dispatched kernel functions and the
# decoder's target_clones variants (`name.avx512f`, `name.avx2`, chosen by an ifunc resolver at
# load time, runtime/decode_internal.h RT_HOT) may contain AVX-512 (zmm registers, opmasks) or
# AVX2 (ymm) instructions; everything else in libef_runtime.a must be baseline x86-64. Usage: check_runtime_isa.sh path/to/libef_runtime.a
set -euo pipefail
lib=$1
command -v objdump >/dev/null || { echo "error: check_runtime_isa: objdump not found (binutils)" >&2; exit 1; }
out=$(objdump -d --no-show-raw-insn "$lib" | awk '
  /^[0-9a-f]+ <.*>:$/ { fn = substr($2, 2, length($2) - 3) }
  /%zmm|\{%k[1-7]\}/ { if (fn !~ /^rt_(f32|i8|quant)_avx512/ && fn !~ /\.avx512f(\.[0-9]+)?$/) bad[fn] = "AVX-512" }
  /%ymm/ { if (fn !~ /^rt_(f32|i8|quant)_(avx2|avx512|avxvnni)/ && fn !~ /\.(avx512f|avx2)(\.[0-9]+)?$/) bad[fn] = "AVX" }
  END { for (f in bad) print f " uses " bad[f] " instructions" }')
if [ -n "$out" ]; then
  echo "error: check_runtime_isa: non-dispatched code in $lib needs a newer CPU:" >&2
  echo "$out" >&2
  exit 1
fi
echo "check_runtime_isa: only rt_*_avx2* / rt_*_avxvnni / rt_*_avx512* and *.avx2 / *.avx512f clones use AVX2 / AVX-512"
