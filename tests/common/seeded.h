/* seeded.h: seeded weights that C and Python (tests/reference/seeded.py) compute bit-identically,
 * so fixtures and benchmarks of any model size need no committed weights.
 *
 * Every UNIQUE parameter is filled from its canonical key alone (visiting order does not
 * matter): state_0 = seed XOR fnv1a64(key); per element i (row-major) a splitmix64 step
 * (state += 0x9E3779B97F4A7C15, the usual two xor-shift-multiply rounds); r = (z >> 40) - 2^23;
 * value = (float)r * 2^-23f * (float)bound, each product one float32 rounding. bound is
 * computed in double (division and sqrt only) and rounded to float once:
 *   encoder.embed_tokens.weight   6 / sqrt(d); then row 1 (pad) = 0, row 2 (</s>) *= 3.0f
 *   {q,k}_proj.weight             sqrt(12 / (in + out))
 *   v_proj.weight                 sqrt(3 / (in + out))
 *   out_proj.weight               sqrt(6 / (in + out))
 *   *layer_norm.weight            1.7     (*layer_norm.bias 0.1)
 *   la_bias, prefix_k, prefix_v   0.1
 *   any other weight / bias       1 / sqrt(in features of the weight)
 * tests/reference/seeded.py's docstring explains why these bounds (peaked, varied generation).
 * Must never use any other random source or compute a value in double.
 */
#ifndef EF_TESTS_SEEDED_H
#define EF_TESTS_SEEDED_H

#include <stdint.h>

#include "model/edgeformer.h"

/* FNV-1a 64 of a NUL-terminated string. */
uint64_t fx_fnv1a64(const char *s);
/* The bound of the parameter called key (canonical) with shape [ndim] of model m; -1 when
 * the key is of no known kind. */
double fx_seeded_bound(const ef_model *m, const char *key, int ndim, const int64_t *shape);
/* n values of the stream of key with the given float32 bound (no row rules applied). */
void fx_seeded_values(uint64_t seed, const char *key, float bound, float *out, int64_t n);
/* Fill every unique parameter of m. 0, or -1 if a parameter has no known kind (its name is
 * then printed to stderr). */
int fx_seeded_fill(ef_model *m, uint64_t seed);

#endif
