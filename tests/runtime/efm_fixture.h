/* tests/runtime/efm_fixture.h: small seeded models for the .efm tests, the CLI script and the
 * fuzz seed corpus: a model of a config file with fairseq's initialisation from a seed, a
 * dictionary made of the pieces of a SentencePiece fixture model, and the files `edgeformer
 * export` expects (checkpoint, dict.src.txt, spm.model) written into a folder. It must never
 * write outside the folder it is given. */
#ifndef EF_TESTS_RUNTIME_EFM_FIXTURE_H
#define EF_TESTS_RUNTIME_EFM_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "data/dictionary.h"
#include "model/edgeformer.h"

typedef struct efm_fixture {
  ef_model *model;
  ef_dict *dict; /* specials + the spm model's normal/user/byte pieces, padded to 8 */
  void *spm;     /* the .model bytes */
  size_t spm_len;
} efm_fixture;

/* ini: a config with a [model] section (other sections ignored); vocab_size is replaced by the
 * dictionary's size. 0, or -1 with a message. */
int efm_fixture_make(const char *ini, const char *spm_path, uint64_t seed, efm_fixture *fx,
                     char *err, size_t errlen);
void efm_fixture_free(efm_fixture *fx);
/* dir/checkpoint.h5 (its config's [data] data = dir), dir/dict.src.txt, dir/spm.model. */
int efm_fixture_save(const efm_fixture *fx, const char *dir, char *err, size_t errlen);

#endif
