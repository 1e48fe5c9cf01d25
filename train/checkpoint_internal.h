/* train/checkpoint_internal.h: what the checkpoint writer (checkpoint.c) and loader
 * (checkpoint_load.c) share: group names, the config checksum, the error formatter. Private to
 * train/checkpoint*.c; it must never be included elsewhere. */
#ifndef EF_TRAIN_CHECKPOINT_INTERNAL_H
#define EF_TRAIN_CHECKPOINT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "train/checkpoint.h"

/* Group names of state slots 0 and 1 under /optimizer (PyTorch Adam's state keys). */
extern const char *const ef_ckpt_moment_group[EF_CKPT_N_MOMENTS];

/* zlib's CRC-32 of n bytes, stored in /config's crc32 attribute. */
uint64_t ef_ckpt_crc32(const char *s, size_t n);

__attribute__((format(printf, 3, 4))) void ef_ckpt_err(char *err, size_t errlen, const char *fmt,
                                                       ...);

#endif
