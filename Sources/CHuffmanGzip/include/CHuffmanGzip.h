// A gzip member whose deflate stream is Huffman-only (dynamic Huffman blocks of literals, no
// LZ matches), written without zlib's per-byte machinery. Quantized weights are high-entropy:
// LZ matching finds almost nothing in them, and zlib's Huffman-only mode still runs at ~60 MB/s
// per core here, slower than the quantization itself. Any inflater reads the output.
#ifndef CHUFFMANGZIP_H
#define CHUFFMANGZIP_H
#include <stddef.h>
#include <stdint.h>

// Bytes `out` must hold for `count` input bytes.
size_t chg_bound(size_t count);

// Writes one complete gzip member (header, deflate stream, CRC-32 and size) of `in` to `out`
// and returns its size, or 0 if `capacity` is below chg_bound(count).
size_t chg_gzip_member(const uint8_t *in, size_t count, uint8_t *out, size_t capacity);

#endif
