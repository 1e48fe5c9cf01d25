/* web/edgeformer_wasm.c: the little the JavaScript binding (web/edgeformer_rt.js) needs beyond
 * the C API itself, which the module exports unchanged (ef_rt_load_memory, ef_rt_translate,
 * ef_rt_free, ef_rt_model_info, ef_rt_options_default, ef_rt_strerror): a 64-byte-aligned
 * buffer for the model bytes (so ef_rt_load_memory uses them in place instead of copying them),
 * and the name of the kernel path the module runs. The binding reads and writes ef_rt_options
 * and ef_rt_info at the offsets checked below. Built by scripts/build_wasm.sh only. */
#include <stddef.h>
#include <stdlib.h>

#include "runtime/edgeformer_rt.h"
#include "runtime/kernels.h"

/* the layouts web/edgeformer_rt.js assumes (wasm32) */
_Static_assert(offsetof(ef_rt_options, beam) == 0, "ef_rt_options.beam");
_Static_assert(offsetof(ef_rt_options, lenpen) == 4, "ef_rt_options.lenpen");
_Static_assert(offsetof(ef_rt_options, max_len_a) == 8, "ef_rt_options.max_len_a");
_Static_assert(offsetof(ef_rt_options, max_len_b) == 16, "ef_rt_options.max_len_b");
_Static_assert(offsetof(ef_rt_options, threads) == 20, "ef_rt_options.threads");
_Static_assert(offsetof(ef_rt_options, no_repeat_ngram_size) == 24, "ef_rt_options.nrng");
_Static_assert(sizeof(ef_rt_options) == 32, "ef_rt_options size");
_Static_assert(offsetof(ef_rt_info, max_source_tokens) == 16, "ef_rt_info.max_source_tokens");
_Static_assert(offsetof(ef_rt_info, int8) == 20, "ef_rt_info.int8");
_Static_assert(offsetof(ef_rt_info, file_bytes) == 24, "ef_rt_info.file_bytes");
_Static_assert(sizeof(ef_rt_info) == 32, "ef_rt_info size");

/* n bytes, 64-byte aligned (free with free()); NULL when out of memory */
void *ef_wasm_alloc64(size_t n) { return aligned_alloc(64, (n + 63) / 64 * 64); }

/* "simd128" or "portable": the linear-layer path this module runs */
const char *ef_wasm_isa(void) { return rt_isa_name(rt_isa_detect()); }
