/* tests/runtime/kernels_checks.h: the checks of runtime/kernels.h as plain C (no test
 * framework), so the same checks run in the Check suite (test_kernels.c) and, cross-compiled,
 * under qemu-aarch64 (kernels_selftest.c). Each returns the number of failures and prints the
 * first few mismatches to stderr. An ISA argument the CPU lacks is skipped (0 failures).
 */
#ifndef EF_TESTS_KERNELS_CHECKS_H
#define EF_TESTS_KERNELS_CHECKS_H

#include "runtime/kernels.h"

/* fp32 rt_linear of `isa` against a double-precision reference over odd shapes, bias or not:
 * |y - ref| <= 2·(K+2)·2^-24·(Σ_k |x_k·w_k| + |b|) (the worst-case bound of any summation order).
 */
int kc_f32_vs_reference(rt_isa isa);
/* int8 rt_linear of `isa`: the integer dot products are exact and the result is bit-identical
 * to the defined epilogue (float)d·(xs·ws) + b computed here from an exact int64 dot, for
 * weights over the whole int8 range (including -128) and activations hitting ±127. */
int kc_i8_exact(rt_isa isa);
/* int8 and fp32 results of `isa` are bit-identical with 1 and 2 threads. */
int kc_threads_identical(rt_isa isa);
/* All-zero activation rows give exactly the bias (or 0); K = 0 gives the bias; M = 0 or N = 0
 * writes nothing. */
int kc_zero_rows(rt_isa isa);
/* Growing then shrinking then regrowing shapes: correct results, and no scratch reallocation
 * once the largest shape has been seen (or reserved). */
int kc_steady_state(rt_isa isa);
/* rt_quantize_rows: |w - scale·q| <= scale/2·(1+2^-14), the max maps to ±127, rowsum, zero and
 * tiny rows. */
int kc_quantize_roundtrip(void);
/* EF_RUNTIME_ISA caps rt_isa_detect; rt_kernels_new falls back to a supported ISA. */
int kc_isa_selection(void);

/* Every check (or, when only != NULL, those whose name contains it) for every ISA the CPU
 * has up to rt_isa_detect() (so EF_RUNTIME_ISA limits them); prints one line per check. */
int kc_run_all(const char *only);

#endif
