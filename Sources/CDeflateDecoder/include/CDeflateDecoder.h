// A whole-buffer raw DEFLATE (RFC 1951) decoder for zip entries whose size is known up front.
// zlib's streaming inflate runs at ~120 MB/s on float16 weights here (nearly all literals);
// decoding the whole entry at once lets the hot loop refill 64 bits at a time and write
// several literals or a whole match per refill without zlib's per-call bookkeeping.
// It accepts exactly the streams zlib's inflate (windowBits -15) accepts.
#ifndef CDEFLATEDECODER_H
#define CDEFLATEDECODER_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    QD_INFLATE_OK = 0,
    // The stream ends before its final block does.
    QD_INFLATE_TRUNCATED,
    // The stream would write more than out_capacity bytes (a zip bomb or a lying size).
    QD_INFLATE_OUTPUT_FULL,
    // Corrupt data, one code per zlib message.
    QD_INFLATE_BAD_BLOCK_TYPE,
    QD_INFLATE_BAD_STORED_LENGTHS,
    QD_INFLATE_TOO_MANY_SYMBOLS,
    QD_INFLATE_BAD_CODE_LENGTHS_SET,
    QD_INFLATE_BAD_BIT_LENGTH_REPEAT,
    QD_INFLATE_MISSING_END_OF_BLOCK,
    QD_INFLATE_BAD_LITERAL_LENGTHS_SET,
    QD_INFLATE_BAD_DISTANCES_SET,
    QD_INFLATE_BAD_LITERAL_LENGTH_CODE,
    QD_INFLATE_BAD_DISTANCE_CODE,
    QD_INFLATE_DISTANCE_TOO_FAR_BACK,
} qd_inflate_result;

// Decodes the raw deflate stream at the front of `in` into `out`. On QD_INFLATE_OK, *in_used
// is the bytes the stream occupies (later bytes are not read as deflate) and *out_len the bytes
// written. On an error the contents of `out` are unspecified. Never reads or writes outside
// the two buffers, whatever the input.
qd_inflate_result qd_inflate_raw(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_capacity,
                                 size_t *in_used, size_t *out_len);

// qd_inflate_raw that also calls `report` at the end of a deflate block whenever at least
// `report_every` bytes were written since the last call, with the count of output bytes that
// are final: another thread may read them while decoding goes on.
qd_inflate_result qd_inflate_raw_reporting(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_capacity,
                                           size_t *in_used, size_t *out_len, size_t report_every,
                                           void (*report)(void *context, size_t produced), void *context);

// What went wrong, in zlib's words (static storage).
const char *qd_inflate_message(qd_inflate_result result);

#endif
