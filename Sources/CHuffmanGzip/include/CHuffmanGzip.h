// Pieces of one deflate stream that are Huffman-only (dynamic Huffman blocks of literals, no
// LZ matches), written without zlib's per-byte machinery, one chunk at a time and independently
// (no history crosses a chunk), so that chunks can be coded in parallel and concatenated. Quantized weights are high-entropy:
// LZ matching finds almost nothing in them, and zlib's Huffman-only mode still runs at ~60 MB/s
// per core here, slower than the quantization itself. Any inflater reads the output.
#ifndef CHUFFMANGZIP_H
#define CHUFFMANGZIP_H
#include <stddef.h>
#include <stdint.h>

// Bytes `out` must hold for `count` input bytes.
size_t chg_bound(size_t count);

// Writes the raw deflate blocks of `in` to `out` and returns their size, or 0 if `capacity` is
// below chg_bound(count). The `last` chunk's final block carries the final-block bit; any
// other chunk ends with an empty stored block, on a byte boundary, without it.
size_t chg_deflate_chunk(const uint8_t *in, size_t count, int last, uint8_t *out, size_t capacity);

#endif
