/* runtime/efm.h: the `.efm` model file: one little-endian, mmap-able file holding a runtime model
 * (config, layer table, fp32 / int8 tensors), its SentencePiece model and its fairseq
 * dictionary. This header is the reader (runtime/efm.c); the writer is export/efm_write.h.
 * docs/efm.md spells out every byte; the summary:
 *
 *   offset  size  field (all integers little-endian; offsets are absolute file offsets)
 *   0       4     magic "EFM1"
 *   4       4     u32 version (RT_EFM_VERSION)
 *   8       4     u32 flags: bit 0 = some tensors are int8; other bits must be 0
 *   12      4     u32 header_size (RT_EFM_HEADER_SIZE)
 *   16      8     u64 file_size (the whole file, CRC included)
 *   24      56    i32 config[14]: encoder_layers, decoder_layers, embed_dim, attention_heads,
 *                 encoder_ffn_dim, decoder_ffn_dim, decoder_layout, layer_adaptation,
 *                 lora_rank, prefix_length, activation, max_source_positions,
 *                 max_target_positions, vocab_size (rt_config order and enum values)
 *   80      16    i32 n_tensors, n_attn, n_ffn, embed
 *   96      96    six sections as (u64 offset, u64 size): layers, tensors (directory),
 *                 names, spm, dict, data
 *   192     ...   the sections, in that order, each starting on an 8-byte boundary
 *                 (data on a 64-byte one); padding bytes are 0
 *   end-4   4     u32 CRC-32 (zlib's) of bytes [0, file_size - 4)
 *
 *   layers: i32 arrays exactly as rt_model holds them: attn[n_attn] x 8 (q_w q_b k_w k_b v_w
 *           v_b o_w o_b), ffn[n_ffn] x 4 (fc1_w fc1_b fc2_w fc2_b), enc[encoder_layers] x 17
 *           (attn ffn ln_attn.w ln_attn.b ln_ffn.w ln_ffn.b lora_q.{u_w u_b v_w v_b}
 *           lora_v.{u_w u_b v_w v_b} la_bias prefix_k prefix_v), dec[decoder_layers] x 9
 *           (self_attn cross_attn ffn ln_self.w ln_self.b ln_cross.w ln_cross.b ln_final.w
 *           ln_final.b); tensor indices, -1 = absent.
 *   tensors: n_tensors entries of 64 bytes: u32 name_off, u32 name_len (into names; the name is
 *           followed by a NUL), u32 dtype (0 f32, 1 int8), i32 rows, i32 cols, u32 0,
 *           u64 data_off, u64 scale_off, u64 rowsum_off (both 0 for f32), 16 bytes 0.
 *           f32 data: rows*cols floats; int8: rows*cols int8 q, rows f32 scales, rows i32 rowsums
 *           (W[r,c] = scale[r] * q[r,c], rowsum[r] = sum_c q[r,c]); each array 64-byte aligned
 *           inside the data section.
 *   names:  the canonical fairseq keys, each NUL-terminated.
 *   spm:    the SentencePiece `.model` file, verbatim.
 *   dict:   the fairseq dictionary as its symbols: line i (each ended by '\n') is the symbol of
 *           fairseq id 4 + i, i.e. dict.txt without the counts; vocab_size - 4 lines.
 *
 * Memory: rt_efm_open maps the file read-only (nothing is copied; the model's tensors point into
 * the mapping). rt_efm_open_memory uses the caller's buffer in place when it is 64-byte aligned
 * (the buffer must then outlive the rt_efm) and copies it otherwise. rt_efm_close releases
 * everything, including the model, tokenizer and dictionary it handed out.
 *
 * Errors: non-zero return, *out = NULL and one line in err naming the file and the field or
 * offset, e.g. "m.efm: tensor 12 (encoder.layers.0.fc1.weight): data_off 81920 + 524288 bytes
 * runs past the data section (end 600000)". Every count, offset and size is checked before use,
 * with overflow-safe arithmetic; the CRC is checked before anything else is parsed.
 */
#ifndef EF_RUNTIME_EFM_H
#define EF_RUNTIME_EFM_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/model.h"
#include "runtime/spm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RT_EFM_MAGIC "EFM1"
#define RT_EFM_VERSION 1u
#define RT_EFM_HEADER_SIZE 192u
#define RT_EFM_ENTRY_SIZE 64u   /* one tensor directory entry */
#define RT_EFM_ALIGN 64u        /* alignment of every tensor array (and the data section) */
#define RT_EFM_SECTION_ALIGN 8u /* alignment of the other sections */
#define RT_EFM_FLAG_INT8 1u     /* some tensors are int8 */
#define RT_EFM_N_CONFIG 14      /* int32 config fields */
#define RT_EFM_ENC_FIELDS 17    /* int32 per encoder layer in the layer table */
#define RT_EFM_DEC_FIELDS 9     /* int32 per decoder layer */
#define RT_EFM_MAX_TENSORS 65536
#define RT_EFM_MAX_NAME_BYTES 1024                /* longest tensor name */
#define RT_EFM_MAX_FILE_BYTES ((uint64_t)1 << 34) /* 16 GiB */

/* Section indices in the header's section table. */
enum {
  RT_EFM_SEC_LAYERS = 0,
  RT_EFM_SEC_TENSORS,
  RT_EFM_SEC_NAMES,
  RT_EFM_SEC_SPM,
  RT_EFM_SEC_DICT,
  RT_EFM_SEC_DATA,
  RT_EFM_N_SECTIONS
};

typedef struct rt_efm rt_efm;

/* Open path (mmap, read-only). 0 on success; non-zero + message otherwise. */
int rt_efm_open(const char *path, rt_efm **out, char *err, size_t errlen);
/* Same from memory; name is used in messages (may be NULL). See "Memory" above. */
int rt_efm_open_memory(const void *buf, size_t len, const char *name, rt_efm **out, char *err,
                       size_t errlen);
void rt_efm_close(rt_efm *f); /* NULL is fine */

/* The model (checked with rt_model_check), tokenizer and dictionary; owned by f. */
const rt_model *rt_efm_model(const rt_efm *f);
const rt_spm *rt_efm_spm(const rt_efm *f);
uint64_t rt_efm_file_size(const rt_efm *f);

/* Dictionary: fairseq ids 0..vocab_size-1 (0..3 are <s> <pad> </s> <unk>). */
int rt_efm_dict_size(const rt_efm *f);
const char *rt_efm_symbol(const rt_efm *f, int id); /* NULL when out of range; owned by f */
/* The fairseq id of SentencePiece id spm_id (its piece looked up in the dictionary; a symbol
 * listed twice answers with its last id, as fairseq's `#fairseq:overwrite`), RT_UNK when the
 * piece is not in the dictionary or spm_id is out of range. */
int rt_efm_spm_to_fairseq(const rt_efm *f, int spm_id);

/* Text -> fairseq source ids: SentencePiece-encode, map each piece, append </s>. *ids is
 * malloc'd (caller frees); returns the count (>= 1), or -1 with a message. */
int rt_efm_encode(const rt_efm *f, const char *text, size_t len, int **ids, char *err,
                  size_t errlen);
/* Fairseq ids -> text: <s>, <pad> and </s> are dropped, the other symbols joined by spaces and
 * SentencePiece-decoded as pieces (<unk> becomes the model's unknown surface). *out is
 * malloc'd, NUL-terminated; returns its length, or -1 with a message (id out of range, OOM). */
int rt_efm_decode(const rt_efm *f, const int *ids, int n, char **out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
