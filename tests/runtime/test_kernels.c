/* tests/runtime/test_kernels.c: the linear-layer kernels (runtime/kernels.h) on every ISA path
 * this CPU has: fp32 against a double reference, int8 integer-exact and bit-identical across
 * ISAs, 1 vs 2 threads bit-identical, zero rows, steady state without reallocation, the
 * quantiser. The checks themselves are plain C in kernels_checks.c, shared with the aarch64
 * self-test (kernels_selftest.c) that runs under qemu. */
#include <check.h>
#include <stdlib.h>

#include "kernels_checks.h"

static const rt_isa ISAS[] = {RT_ISA_PORTABLE, RT_ISA_AVX2, RT_ISA_AVX512, RT_ISA_AVX512_VNNI,
                              RT_ISA_NEON};
#define NISA ((int)(sizeof ISAS / sizeof ISAS[0]))

/* _i is the ISA index: paths the CPU lacks pass trivially (kernels_checks skips them) */
START_TEST(f32_matches_double_reference_on_odd_shapes) {
  ck_assert_int_eq(kc_f32_vs_reference(ISAS[_i]), 0);
}
END_TEST
START_TEST(i8_dot_products_are_exact_and_epilogue_bit_identical) {
  ck_assert_int_eq(kc_i8_exact(ISAS[_i]), 0);
}
END_TEST
START_TEST(one_and_two_threads_are_bit_identical) {
  ck_assert_int_eq(kc_threads_identical(ISAS[_i]), 0);
}
END_TEST
START_TEST(zero_rows_give_the_bias) { ck_assert_int_eq(kc_zero_rows(ISAS[_i]), 0); }
END_TEST
START_TEST(steady_state_does_not_reallocate) { ck_assert_int_eq(kc_steady_state(ISAS[_i]), 0); }
END_TEST
START_TEST(quantize_roundtrip_within_half_a_step) { ck_assert_int_eq(kc_quantize_roundtrip(), 0); }
END_TEST
START_TEST(isa_env_caps_detection) { ck_assert_int_eq(kc_isa_selection(), 0); }
END_TEST

int main(void) {
  Suite *s = suite_create("kernels");
  TCase *tc = tcase_create("kernels");
  tcase_set_timeout(tc, 300);
  tcase_add_loop_test(tc, f32_matches_double_reference_on_odd_shapes, 0, NISA);
  tcase_add_loop_test(tc, i8_dot_products_are_exact_and_epilogue_bit_identical, 0, NISA);
  tcase_add_loop_test(tc, one_and_two_threads_are_bit_identical, 0, NISA);
  tcase_add_loop_test(tc, zero_rows_give_the_bias, 0, NISA);
  tcase_add_loop_test(tc, steady_state_does_not_reallocate, 0, NISA);
  tcase_add_test(tc, quantize_roundtrip_within_half_a_step);
  tcase_add_test(tc, isa_env_caps_detection);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
