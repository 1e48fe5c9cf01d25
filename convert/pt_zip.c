/* convert/pt_zip.c: the zip container of torch.save files: end of central directory (zip64
 * too), the central directory, each entry's local header, and reading an entry (stored or
 * deflated with zlib) with its CRC-32 checked. It must never read outside the file it was
 * given: every offset and size is checked against the file size before use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "convert/pt_internal.h"

#define ZIP_EOCD_SIG 0x06054b50u
#define ZIP_EOCD_BYTES 22
#define ZIP_EOCD64_LOC_SIG 0x07064b50u
#define ZIP_EOCD64_LOC_BYTES 20
#define ZIP_EOCD64_SIG 0x06064b50u
#define ZIP_EOCD64_BYTES 56
#define ZIP_CDIR_SIG 0x02014b50u
#define ZIP_CDIR_BYTES 46
#define ZIP_LOCAL_SIG 0x04034b50u
#define ZIP_LOCAL_BYTES 30
#define ZIP_MAX_COMMENT 65535
#define ZIP_ZIP64_EXTRA_ID 0x0001
#define ZIP_FLAG_ENCRYPTED 0x0001u
#define ZIP_CRC_CHUNK ((uint64_t)1 << 30) /* zlib's crc32 takes a uInt length */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* 1 when [off, off + len) lies inside a file of size bytes (no overflow). */
static int inside(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

void ef_zip_free(ef_zip *z) {
  if (!z) return;
  for (size_t i = 0; i < z->n; i++) free(z->e[i].name);
  free(z->e);
  z->e = NULL;
  z->n = 0;
}

/* The zip64 extended-information extra field: replaces the 0xFFFFFFFF sizes and offset. */
static int zip64_extra(const uint8_t *x, uint32_t xlen, ef_zip_entry *e, int need_u, int need_c,
                       int need_o) {
  uint32_t p = 0;
  while (p + 4 <= xlen) {
    uint16_t id = rd16(x + p), len = rd16(x + p + 2);
    if (p + 4 + (uint32_t)len > xlen) return -1;
    if (id == ZIP_ZIP64_EXTRA_ID) {
      const uint8_t *q = x + p + 4;
      uint32_t left = len;
      if (need_u) {
        if (left < 8) return -1;
        e->usize = rd64(q), q += 8, left -= 8;
      }
      if (need_c) {
        if (left < 8) return -1;
        e->csize = rd64(q), q += 8, left -= 8;
      }
      if (need_o) {
        if (left < 8) return -1;
        e->local_off = rd64(q);
      }
      return 0;
    }
    p += 4 + (uint32_t)len;
  }
  return (need_u || need_c || need_o) ? -1 : 0;
}

int ef_zip_open(ef_zip *z, const uint8_t *base, uint64_t size, const char *file, char *err,
                size_t errlen) {
  memset(z, 0, sizeof *z);
  z->base = base;
  z->size = size;
  if (size < ZIP_EOCD_BYTES) {
    ef_pt_seterr(err, errlen, "%s: truncated: %llu bytes cannot hold a zip directory", file,
                 (unsigned long long)size);
    return -1;
  }
  /* the end-of-central-directory record: the last signature whose comment ends the file */
  uint64_t lo =
      size > ZIP_EOCD_BYTES + ZIP_MAX_COMMENT ? size - ZIP_EOCD_BYTES - ZIP_MAX_COMMENT : 0;
  uint64_t eocd = UINT64_MAX;
  for (uint64_t p = size - ZIP_EOCD_BYTES + 1; p-- > lo;) {
    if (rd32(base + p) == ZIP_EOCD_SIG && p + ZIP_EOCD_BYTES + rd16(base + p + 20) == size) {
      eocd = p;
      break;
    }
  }
  if (eocd == UINT64_MAX) {
    ef_pt_seterr(err, errlen,
                 "%s: no zip end-of-central-directory record (truncated or not a zip archive)",
                 file);
    return -1;
  }
  const uint8_t *E = base + eocd;
  uint64_t n_entries = rd16(E + 10), cd_size = rd32(E + 12), cd_off = rd32(E + 16);
  if (rd16(E + 4) != 0 || rd16(E + 6) != 0) {
    ef_pt_seterr(err, errlen, "%s: multi-disk zip archives are not supported", file);
    return -1;
  }
  if (n_entries == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
    if (eocd < ZIP_EOCD64_LOC_BYTES ||
        rd32(base + eocd - ZIP_EOCD64_LOC_BYTES) != ZIP_EOCD64_LOC_SIG) {
      ef_pt_seterr(err, errlen, "%s: zip64 archive without its zip64 locator before offset %llu",
                   file, (unsigned long long)eocd);
      return -1;
    }
    uint64_t off64 = rd64(base + eocd - ZIP_EOCD64_LOC_BYTES + 8);
    if (!inside(off64, ZIP_EOCD64_BYTES, size) || rd32(base + off64) != ZIP_EOCD64_SIG) {
      ef_pt_seterr(err, errlen,
                   "%s: zip64 end-of-central-directory at offset %llu is missing "
                   "or damaged",
                   file, (unsigned long long)off64);
      return -1;
    }
    n_entries = rd64(base + off64 + 32);
    cd_size = rd64(base + off64 + 40);
    cd_off = rd64(base + off64 + 48);
  }
  if (n_entries > EF_PT_MAX_ZIP_ENTRIES) {
    ef_pt_seterr(err, errlen, "%s: %llu zip entries, more than the limit %d", file,
                 (unsigned long long)n_entries, EF_PT_MAX_ZIP_ENTRIES);
    return -1;
  }
  if (!inside(cd_off, cd_size, size)) {
    ef_pt_seterr(err, errlen,
                 "%s: truncated: zip central directory at offset %llu (%llu bytes) "
                 "ends past the end of the file (%llu bytes)",
                 file, (unsigned long long)cd_off, (unsigned long long)cd_size,
                 (unsigned long long)size);
    return -1;
  }
  z->e = calloc(n_entries ? n_entries : 1, sizeof *z->e);
  if (!z->e) {
    ef_pt_seterr(err, errlen, "%s: out of memory for %llu zip entries", file,
                 (unsigned long long)n_entries);
    return -1;
  }
  uint64_t p = cd_off, end = cd_off + cd_size;
  for (uint64_t k = 0; k < n_entries; k++) {
    if (p + ZIP_CDIR_BYTES > end || rd32(base + p) != ZIP_CDIR_SIG) {
      ef_pt_seterr(err, errlen, "%s: zip central directory entry %llu at offset %llu is damaged",
                   file, (unsigned long long)k, (unsigned long long)p);
      goto fail;
    }
    const uint8_t *C = base + p;
    ef_zip_entry *e = &z->e[z->n];
    uint16_t flags = rd16(C + 8);
    e->method = rd16(C + 10);
    e->crc = rd32(C + 16);
    e->csize = rd32(C + 20);
    e->usize = rd32(C + 24);
    uint32_t nlen = rd16(C + 28), xlen = rd16(C + 30), clen = rd16(C + 32);
    e->local_off = rd32(C + 42);
    if (p + ZIP_CDIR_BYTES + nlen + xlen + clen > end) {
      ef_pt_seterr(err, errlen,
                   "%s: zip central directory entry %llu at offset %llu runs past "
                   "the directory",
                   file, (unsigned long long)k, (unsigned long long)p);
      goto fail;
    }
    if (nlen == 0 || nlen > EF_PT_MAX_NAME_BYTES || memchr(C + ZIP_CDIR_BYTES, 0, nlen)) {
      ef_pt_seterr(err, errlen, "%s: zip entry %llu at offset %llu has an invalid name", file,
                   (unsigned long long)k, (unsigned long long)p);
      goto fail;
    }
    e->name = malloc(nlen + 1);
    if (!e->name) {
      ef_pt_seterr(err, errlen, "%s: out of memory", file);
      goto fail;
    }
    memcpy(e->name, C + ZIP_CDIR_BYTES, nlen);
    e->name[nlen] = 0;
    z->n++;
    if (zip64_extra(C + ZIP_CDIR_BYTES + nlen, xlen, e, e->usize == 0xFFFFFFFFu,
                    e->csize == 0xFFFFFFFFu, e->local_off == 0xFFFFFFFFu)) {
      ef_pt_seterr(err, errlen, "%s: zip entry %s: damaged zip64 extra field", file, e->name);
      goto fail;
    }
    if (flags & ZIP_FLAG_ENCRYPTED) {
      ef_pt_seterr(err, errlen, "%s: zip entry %s is encrypted", file, e->name);
      goto fail;
    }
    if (e->method != 0 && e->method != 8) {
      ef_pt_seterr(err, errlen,
                   "%s: zip entry %s uses compression method %d (only stored and "
                   "deflate are supported)",
                   file, e->name, e->method);
      goto fail;
    }
    if (e->method == 0 && e->csize != e->usize) {
      ef_pt_seterr(err, errlen, "%s: zip entry %s is stored but its sizes differ (%llu, %llu)",
                   file, e->name, (unsigned long long)e->csize, (unsigned long long)e->usize);
      goto fail;
    }
    /* the local header: the data starts after its own name and extra field */
    if (!inside(e->local_off, ZIP_LOCAL_BYTES, size) ||
        rd32(base + e->local_off) != ZIP_LOCAL_SIG) {
      ef_pt_seterr(err, errlen,
                   "%s: zip entry %s: local header at offset %llu is missing or "
                   "damaged (truncated file?)",
                   file, e->name, (unsigned long long)e->local_off);
      goto fail;
    }
    const uint8_t *L = base + e->local_off;
    uint64_t doff = e->local_off + ZIP_LOCAL_BYTES + rd16(L + 26) + rd16(L + 28);
    if (rd16(L + 26) != nlen || memcmp(L + ZIP_LOCAL_BYTES, e->name, nlen) != 0) {
      ef_pt_seterr(err, errlen,
                   "%s: zip entry %s: local header at offset %llu names another "
                   "entry",
                   file, e->name, (unsigned long long)e->local_off);
      goto fail;
    }
    if (!inside(doff, e->csize, size)) {
      ef_pt_seterr(err, errlen,
                   "%s: truncated: zip entry %s (%llu bytes at offset %llu) ends "
                   "past the end of the file (%llu bytes)",
                   file, e->name, (unsigned long long)e->csize, (unsigned long long)doff,
                   (unsigned long long)size);
      goto fail;
    }
    e->data_off = doff;
    for (size_t j = 0; j + 1 < z->n; j++) {
      if (!strcmp(z->e[j].name, e->name)) {
        ef_pt_seterr(err, errlen, "%s: zip entry %s appears twice", file, e->name);
        goto fail;
      }
    }
    p += ZIP_CDIR_BYTES + nlen + xlen + clen;
  }
  return 0;
fail:
  ef_zip_free(z);
  return -1;
}

const ef_zip_entry *ef_zip_find(const ef_zip *z, const char *name) {
  for (size_t i = 0; i < z->n; i++)
    if (!strcmp(z->e[i].name, name)) return &z->e[i];
  return NULL;
}

static uint32_t crc_of(const uint8_t *p, uint64_t n) {
  uLong c = crc32(0L, Z_NULL, 0);
  while (n) {
    uint64_t k = n < ZIP_CRC_CHUNK ? n : ZIP_CRC_CHUNK;
    c = crc32(c, p, (uInt)k);
    p += k;
    n -= k;
  }
  return (uint32_t)c;
}

int ef_zip_read(const ef_zip *z, const ef_zip_entry *e, const uint8_t **data, uint8_t **owned,
                uint64_t *budget, const char *file, char *err, size_t errlen) {
  *data = NULL;
  *owned = NULL;
  const uint8_t *src = z->base + e->data_off;
  if (e->method == 0) {
    if (crc_of(src, e->usize) != e->crc) {
      ef_pt_seterr(err, errlen, "%s: zip entry %s fails its CRC-32 (corrupt file)", file, e->name);
      return -1;
    }
    *data = src;
    return 0;
  }
  if (e->usize > *budget) {
    ef_pt_seterr(err, errlen,
                 "%s: zip entry %s inflates to %llu bytes, more than the %llu "
                 "bytes still allowed (EF_PT_MAX_TENSOR_BYTES)",
                 file, e->name, (unsigned long long)e->usize, (unsigned long long)*budget);
    return -1;
  }
  uint8_t *out = malloc(e->usize ? e->usize : 1);
  if (!out) {
    ef_pt_seterr(err, errlen, "%s: out of memory inflating zip entry %s", file, e->name);
    return -1;
  }
  z_stream s;
  memset(&s, 0, sizeof s);
  if (inflateInit2(&s, -MAX_WBITS) != Z_OK) {
    free(out);
    ef_pt_seterr(err, errlen, "%s: zlib cannot start inflating %s", file, e->name);
    return -1;
  }
  uint64_t in_left = e->csize, out_done = 0;
  const uint8_t *in = src;
  int rc = Z_OK;
  while (rc == Z_OK) {
    uInt ichunk = (uInt)(in_left < ZIP_CRC_CHUNK ? in_left : ZIP_CRC_CHUNK);
    uint64_t out_left = e->usize - out_done;
    uInt ochunk = (uInt)(out_left < ZIP_CRC_CHUNK ? out_left : ZIP_CRC_CHUNK);
    s.next_in = (Bytef *)in;
    s.avail_in = ichunk;
    s.next_out = out + out_done;
    s.avail_out = ochunk;
    rc = inflate(&s, Z_NO_FLUSH);
    in += ichunk - s.avail_in;
    in_left -= ichunk - s.avail_in;
    out_done += ochunk - s.avail_out;
    if (rc == Z_OK && ichunk == s.avail_in && ochunk == s.avail_out) rc = Z_BUF_ERROR; /* stuck */
  }
  inflateEnd(&s);
  if (rc != Z_STREAM_END || out_done != e->usize) {
    free(out);
    ef_pt_seterr(err, errlen,
                 "%s: zip entry %s does not inflate to its %llu bytes (corrupt or "
                 "truncated deflate stream)",
                 file, e->name, (unsigned long long)e->usize);
    return -1;
  }
  if (crc_of(out, e->usize) != e->crc) {
    free(out);
    ef_pt_seterr(err, errlen, "%s: zip entry %s fails its CRC-32 (corrupt file)", file, e->name);
    return -1;
  }
  *budget -= e->usize;
  *data = *owned = out;
  return 0;
}
