/* data/text.h: reading the line-aligned text that datasets are built from: one file of lines
 * (PREFIX.SRC, PREFIX.TGT) or one TSV of `source<TAB>target` lines, kept in memory as one byte
 * buffer plus line offsets.
 *
 * Lines end at `\n`; a `\r` right before it is dropped (CRLF files); a last line without `\n`
 * counts; a file ending in `\n` has no extra empty line (as Python's line iteration). Every line
 * must be valid UTF-8 without NUL bytes, else the read fails naming the file and line.
 *
 * Memory: an ef_text owns its buffers (ef_text_release frees them); line i is
 * buf[off[i] .. off[i+1]) without its newline. Errors: non-zero + one line in err.
 */
#ifndef EF_DATA_TEXT_H
#define EF_DATA_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define EF_TEXT_MAX_FILE_BYTES ((size_t)1 << 33) /* largest text file accepted (8 GiB) */
#define EF_TEXT_MAX_LINES ((int64_t)INT32_MAX)   /* lines per file */

typedef struct ef_text {
  char *buf;
  size_t len, cap;
  int64_t *off; /* [n + 1] */
  int64_t n, cap_n;
} ef_text;

void ef_text_init(ef_text *t);
void ef_text_release(ef_text *t);
/* Append one line (no newline inside). 0 on success, non-zero on OOM / limits. */
int ef_text_append(ef_text *t, const char *s, size_t len);
static inline const char *ef_text_line(const ef_text *t, int64_t i, size_t *len) {
  *len = (size_t)(t->off[i + 1] - t->off[i]);
  return t->buf + t->off[i];
}
/* Read a text file into t (initialised here). */
int ef_text_read(const char *path, ef_text *t, char *err, size_t errlen);
/* Read a TSV file of `source<TAB>target` lines into src and tgt (initialised here). A line
 * without exactly one tab is an error naming the line. */
int ef_text_read_tsv(const char *path, ef_text *src, ef_text *tgt, char *err, size_t errlen);
/* 1 when s[0..len) is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
int ef_text_utf8_valid(const char *s, size_t len);

#endif
