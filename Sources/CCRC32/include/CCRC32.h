// CRC-32 of zip and gzip (reflected polynomial 0xEDB88320), the checksum every zip entry and
// gzip member carries. zlib 1.2.13's table loop costs ~4 instructions a byte, which made it the
// largest single cost of a Core ML job (the upload's entries are verified, the output's summed
// twice: zip entry and gzip member). With PCLMULQDQ the bulk is folded 64 bytes at a time by
// carry-less multiplication, about twenty times faster; other CPUs take the table loop.
#ifndef CCRC32_H
#define CCRC32_H
#include <stddef.h>
#include <stdint.h>

// The CRC of `bytes` continuing from `crc` (0 for a new checksum), as zlib's crc32(crc, …).
uint32_t ccrc32_update(uint32_t crc, const void *bytes, size_t count);

// The portable table loop alone, for tests that compare the two paths.
uint32_t ccrc32_update_portable(uint32_t crc, const void *bytes, size_t count);

// Nonzero when ccrc32_update uses carry-less multiplication on this CPU.
int ccrc32_accelerated(void);

#endif
