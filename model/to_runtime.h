/* model/to_runtime.h: the bridge from a live training model to the runtime's representation, so
 * training-side generation (validation BLEU, `edgeformer generate`) and the exporter use the one
 * decoder in runtime/. Nothing is copied: the rt_model's float32 tensors point into the
 * parameter store, so the model sees every later update and must not outlive the ef_model.
 */
#ifndef EF_MODEL_TO_RUNTIME_H
#define EF_MODEL_TO_RUNTIME_H

#include <stddef.h>

#include "model/edgeformer.h"
#include "runtime/model.h"

/* Tensor i of *out is unique parameter i of m->params (names = canonical fairseq keys); the
 * layer table is m's. Checked with rt_model_check. 0, or -1 with a message. Free with
 * rt_model_free. */
int ef_model_to_runtime(ef_model *m, rt_model **out, char *err, size_t errlen);

/* The runtime config of a model config. */
void ef_model_runtime_config(const ef_model_config *c, rt_config *out);

#endif
