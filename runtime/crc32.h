/* runtime/crc32.h: CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum of
 * `.efm` files. Same values as zlib's crc32(), which the writer uses: rt_crc32(0, buf, n) ==
 * crc32(0, buf, n), and rt_crc32(rt_crc32(0, a, na), b, nb) is the CRC of a followed by b.
 * Table-driven, libc only, thread-safe (the table is a constant).
 */
#ifndef EF_RUNTIME_CRC32_H
#define EF_RUNTIME_CRC32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

uint32_t rt_crc32(uint32_t crc, const void *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
