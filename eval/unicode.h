/* eval/unicode.h: the few Unicode operations the metrics need, defined as CPython defines
 * them (sacreBLEU and rouge-score are Python): strict UTF-8 decoding, str.isspace(),
 * str.split() and str.lower() (with the Final_Sigma rule). Tables are generated from
 * Python by tests/reference/unicode_tables.py. It must never accept invalid UTF-8 silently:
 * every function that reads text reports where the first bad byte is. */
#ifndef EF_EVAL_UNICODE_H
#define EF_EVAL_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "eval/buf.h"

/* Decodes the code point at s[0..len) (len > 0). Returns its length in bytes (1-4), or 0 if
 * the bytes are not valid UTF-8 (overlong, surrogate, > U+10FFFF, truncated, stray byte). */
int ef_utf8_decode(const char *s, size_t len, uint32_t *cp);
/* Encodes cp (valid scalar value) into out[0..4); returns the length. */
int ef_utf8_encode(uint32_t cp, char *out);
/* 0 if s[0..len) is valid UTF-8; else -1 with the byte offset of the first bad sequence. */
int ef_utf8_check(const char *s, size_t len, size_t *bad_offset);
/* The inputs of one metric segment: 1..max_refs references, hypothesis and every reference
 * valid UTF-8. 0, or -1 with "hypothesis is not valid UTF-8 at byte N" (1-based) etc. */
int ef_segment_check(const char *hyp, size_t hyp_len, const char *const *refs,
                     const size_t *ref_lens, int nrefs, int max_refs, char *err, size_t errlen);

/* Python's str.isspace() for one code point. */
int ef_py_isspace(uint32_t cp);
/* Decodes valid UTF-8 into code points (out is overwritten). -1 on bad UTF-8 or memory. */
int ef_utf8_to_cps(const char *s, size_t len, ef_u32s *out);
/* Python's str.lower() of valid UTF-8 s[0..len), written to out (overwritten,
 * NUL-terminated). -1 on invalid UTF-8 or out of memory. */
int ef_py_lower(const char *s, size_t len, ef_bytes *out);
/* Python's str.rstrip(): the length of s without trailing str.isspace() code points. */
size_t ef_py_rstrip_len(const char *s, size_t len);

/* The Unicode version of the tables (that of the Python they were generated with). */
const char *ef_unicode_version(void);

#endif
