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
    // Not errors: a part stopped where it was asked to (`stop_bit`, `max_blocks`).
    QD_INFLATE_STOPPED,
    // A part with unknown history met more matches reading it than it can record.
    QD_INFLATE_TOO_MANY_MATCHES,
    // qd_inflate_speculate found no block start where it looked.
    QD_INFLATE_NO_BLOCK_START,
} qd_inflate_result;

// The farthest back a match reaches: a part decoded without its history is written after this
// many bytes of stand-in history.
#define QD_INFLATE_WINDOW 32768

// A `stop_bit` not yet published, and one that will not be (no block start was found).
#define QD_INFLATE_STOP_PENDING 0xFFFFFFFFFFFFFFFFull
#define QD_INFLATE_STOP_NONE 0xFFFFFFFFFFFFFFFEull

// A match copied from unknown history (or from output such a match wrote), to be copied again
// once the history is known.
typedef struct {
    uint64_t position; // of its first output byte, from the part's first
    uint32_t distance;
    uint32_t length;
} qd_inflate_match;

// One stretch of a raw deflate stream, decoded from a block start: how a stream is decoded in
// parallel. A part that starts mid-stream cannot know the 32 KiB before it; it is decoded with
// `matches` set, against stand-in history, and the matches that read it are recorded. Once the
// parts before it are decoded, and the one just before has stopped exactly where it started
// (which proves its start is a real block start), its output is moved into place and
// `qd_inflate_replay` repairs what those matches copied.
typedef struct {
    const uint8_t *in; // the whole stream
    size_t in_len;
    uint64_t start_bit; // a block's first bit
    uint8_t *out;       // output goes to out[out_start, out_capacity); before it, history
    size_t out_start;
    size_t out_capacity;
    // If set, the part stops before a block that starts at the bit this holds, which another
    // thread may publish while the part runs: from the first block start at or after
    // `stop_from`, the part waits while it is QD_INFLATE_STOP_PENDING.
    const uint64_t *stop_bit;
    uint64_t stop_from;
    size_t max_blocks; // if not 0, the part stops after this many blocks
    // If set, the history is unknown, and matches that read it are recorded here.
    qd_inflate_match *matches;
    size_t match_capacity;
    // Called with the output count from `out` that is final, at most every report_every bytes.
    size_t report_every;
    void (*report)(void *context, size_t produced);
    void *context;
    // Set by qd_inflate_part_run, whatever it returns.
    uint64_t end_bit;   // the first bit not consumed
    size_t out_len;     // bytes written after out_start
    size_t match_count; // matches recorded
} qd_inflate_part;

// QD_INFLATE_OK at the end of the final block, QD_INFLATE_STOPPED as asked, or an error.
qd_inflate_result qd_inflate_part_run(qd_inflate_part *part);

// A part decoded without its history (`matches` set, out_start QD_INFLATE_WINDOW): finds the
// first bit in [from_bit, to_bit) where a dynamic-Huffman block starts that decodes whole with
// any history, stores it to *start (atomically: the part before reads it as its stop_bit) and
// in part->start_bit, and decodes from there. If there is none, stores QD_INFLATE_STOP_NONE
// and returns QD_INFLATE_NO_BLOCK_START.
qd_inflate_result qd_inflate_speculate(qd_inflate_part *part, uint64_t from_bit, uint64_t to_bit, uint64_t *start);

// Copies the recorded matches again, in order, now that the `history` bytes before `part` are
// known. Returns -1 (nothing more copied) if a match reaches before them: the stream is invalid.
int qd_inflate_replay(uint8_t *part, size_t history, const qd_inflate_match *matches, size_t count);

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
