/* data/sha256.h: SHA-256 (FIPS 180-4) of byte buffers, used to fingerprint dictionaries and
 * SentencePiece models so a dataset can prove which vocabulary it was built with.
 * It must never be used for security decisions (no constant-time guarantees) and never
 * allocates. */
#ifndef EF_DATA_SHA256_H
#define EF_DATA_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define EF_SHA256_BYTES 32
#define EF_SHA256_HEX_LEN 64 /* hex digest length, without the NUL */

typedef struct ef_sha256 {
  uint32_t h[8];
  uint64_t nbytes;
  uint8_t buf[64];
  size_t nbuf;
} ef_sha256;

void ef_sha256_init(ef_sha256 *s);
void ef_sha256_update(ef_sha256 *s, const void *data, size_t len);
void ef_sha256_final(ef_sha256 *s, uint8_t out[EF_SHA256_BYTES]);
/* One-shot: lowercase hex digest written NUL-terminated to hex (65 bytes). */
void ef_sha256_hex(const void *data, size_t len, char hex[EF_SHA256_HEX_LEN + 1]);
/* Digest of a whole file; 0 on success, non-zero with a one-line message naming the file. */
int ef_sha256_file(const char *path, char hex[EF_SHA256_HEX_LEN + 1], char *err, size_t errlen);
/* Hex of a finished digest (65 bytes written). */
void ef_sha256_to_hex(const uint8_t d[EF_SHA256_BYTES], char hex[EF_SHA256_HEX_LEN + 1]);

#endif
