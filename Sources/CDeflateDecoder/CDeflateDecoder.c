#include "CDeflateDecoder.h"
#include <sched.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the bit reader loads little-endian words"
#endif

// Decode tables: one lookup of TABLE_BITS input bits gives a whole symbol for codes up to that
// length; longer codes (rare) go through a second lookup in a subtable. Sizes are the bounds
// zlib's `enough` program gives for these root sizes, so valid codes always fit.
#define LITLEN_TABLE_BITS 11
#define LITLEN_ENOUGH 2342 // enough 288 11 15
#define DIST_TABLE_BITS 8
#define DIST_ENOUGH 402 // enough 32 8 15
#define PRECODE_TABLE_BITS 7
#define PRECODE_ENOUGH 128 // precode lengths are at most 7 bits: no subtables

#define MAX_LITLEN_SYMBOLS 288
#define MAX_DIST_SYMBOLS 32
#define PRECODE_SYMBOLS 19

// A table entry, 32 bits:
//   bits 0-5   bits to consume: code length plus extra bits (a subtable pointer: TABLE_BITS);
//              at most 28, and masked with 63 so x86 shifts by it without a separate AND
//   bits 6-9   code length (the extra bits follow it)
//   bits 10-12 a subtable pointer's index bits
//   bits 13-15 flags below
//   bits 16-30 literal byte, length or distance base, precode symbol, or subtable start
//   bit 31     literal, tested first in the hot loop
#define F_EXCEPTIONAL (1u << 13) // subtable pointer, end of block or invalid code
#define F_SUBTABLE (1u << 14)
#define F_END_OF_BLOCK (1u << 15)
#define F_LITERAL (1u << 31)
#define E_CONSUME(e) ((e) & 63u)
#define E_CODE_LENGTH(e) (((e) >> 6) & 15u)
#define E_SUBTABLE_BITS(e) (((e) >> 10) & 7u)
#define E_VALUE(e) (((e) >> 16) & 0x7fffu)
// An unused slot of an incomplete code: zlib needs one bit before calling it invalid.
#define INVALID_ENTRY (F_EXCEPTIONAL | 1u << 6 | 1u)

static const uint16_t length_base[29] = {
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
    35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t length_extra[29] = {
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
    1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const uint8_t precode_order[PRECODE_SYMBOLS] = {
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

typedef enum { CODE_LITLEN, CODE_DIST, CODE_PRECODE } code_kind;

// A symbol's entry before its code length is added: value, flags, and extra bits in the
// consume field (the code length is added to it when the entry is placed).
static uint32_t symbol_template(code_kind kind, unsigned symbol) {
    switch (kind) {
    case CODE_LITLEN:
        if (symbol < 256) return F_LITERAL | symbol << 16;
        if (symbol == 256) return F_EXCEPTIONAL | F_END_OF_BLOCK;
        if (symbol < 286) return (uint32_t)length_base[symbol - 257] << 16 | length_extra[symbol - 257];
        return F_EXCEPTIONAL; // 286 and 287 exist only in the fixed code and are invalid
    case CODE_DIST:
        if (symbol < 30) return (uint32_t)dist_base[symbol] << 16 | dist_extra[symbol];
        return F_EXCEPTIONAL; // 30 and 31: likewise
    case CODE_PRECODE:
        return symbol << 16 | (symbol == 16 ? 2u : symbol == 17 ? 3u : symbol == 18 ? 7u : 0u);
    }
    return F_EXCEPTIONAL;
}

// The canonical code after `reversed` (both bit-reversed, as deflate's input bits arrive),
// `length` bits long.
static inline unsigned next_reversed_code(unsigned reversed, unsigned length) {
    unsigned bit = 1u << (length - 1);
    while (reversed & bit) {
        reversed ^= bit;
        bit >>= 1;
    }
    return reversed | bit;
}

// Fills `table` for the code with `lengths`; returns 0, or -1 for lengths zlib rejects:
// over-subscribed, or incomplete unless it is a single one-bit code (zlib's exception for
// literal/length and distance codes). An empty code gives a table of invalid entries.
static int build_table(uint32_t *table, unsigned table_bits, unsigned enough, const uint8_t *lengths,
                       unsigned symbols, code_kind kind) {
    unsigned count[16] = {0};
    for (unsigned s = 0; s < symbols; s++) count[lengths[s]]++;
    count[0] = 0;
    unsigned max = 15;
    while (max > 0 && count[max] == 0) max--;
    const unsigned size = 1u << table_bits;
    if (max == 0) {
        for (unsigned i = 0; i < size; i++) table[i] = INVALID_ENTRY;
        return 0;
    }
    int left = 1;
    for (unsigned len = 1; len <= 15; len++) {
        left = (left << 1) - (int)count[len];
        if (left < 0) return -1;
    }
    if (left > 0) {
        if (kind == CODE_PRECODE || max != 1) return -1;
        for (unsigned i = 0; i < size; i++) table[i] = INVALID_ENTRY;
    }

    unsigned offset[16];
    offset[1] = 0;
    for (unsigned len = 1; len < 15; len++) offset[len + 1] = offset[len] + count[len];
    uint16_t sorted[MAX_LITLEN_SYMBOLS];
    for (unsigned s = 0; s < symbols; s++)
        if (lengths[s]) sorted[offset[lengths[s]]++] = (uint16_t)s;

    unsigned remaining[16];
    memcpy(remaining, count, sizeof remaining);
    unsigned reversed = 0, next = 0, next_subtable = size;
    unsigned prefix = ~0u, subtable_start = 0, subtable_bits = 0;
    for (unsigned len = 1; len <= max; len++) {
        for (unsigned n = 0; n < count[len]; n++) {
            const uint32_t template = symbol_template(kind, sorted[next++]);
            if (len <= table_bits) {
                const uint32_t entry = template + (len << 6) + len;
                for (unsigned i = reversed; i < size; i += 1u << len) table[i] = entry;
            } else {
                if ((reversed & (size - 1)) != prefix) {
                    // A new subtable, just large enough for the codes that share this prefix
                    // (they are consecutive in canonical order).
                    prefix = reversed & (size - 1);
                    subtable_start = next_subtable;
                    subtable_bits = len - table_bits;
                    int slots = 1 << subtable_bits;
                    while (subtable_bits + table_bits < max) {
                        slots -= (int)remaining[subtable_bits + table_bits];
                        if (slots <= 0) break;
                        subtable_bits++;
                        slots <<= 1;
                    }
                    next_subtable += 1u << subtable_bits;
                    if (next_subtable > enough) return -1; // unreachable for a code that passed the checks
                    table[prefix] = F_EXCEPTIONAL | F_SUBTABLE | subtable_start << 16 | subtable_bits << 10 | table_bits;
                }
                const unsigned sublen = len - table_bits;
                const uint32_t entry = template + (sublen << 6) + sublen;
                for (unsigned i = reversed >> table_bits; i < 1u << subtable_bits; i += 1u << sublen)
                    table[subtable_start + i] = entry;
            }
            remaining[len]--;
            if (n + 1 < count[len] || len < max) reversed = next_reversed_code(reversed, len);
        }
    }
    return 0;
}

static void fixed_lengths(uint8_t *litlen, uint8_t *dist) {
    memset(litlen, 8, 144);
    memset(litlen + 144, 9, 112);
    memset(litlen + 256, 7, 24);
    memset(litlen + 280, 8, 8);
    memset(dist, 5, MAX_DIST_SYMBOLS);
}

static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

// The bit reader: `bitbuf` holds `bitsleft` unread bits, the next one lowest. Past the end of
// the input it reads zero bytes and counts them in `overrun`; any step that consumed one of
// those bits reports truncation before it acts on what it decoded, as zlib would.
#define CONSUME(n)                                                                                                     \
    do {                                                                                                               \
        bitbuf >>= (n);                                                                                                \
        bitsleft -= (n);                                                                                               \
    } while (0)
// Needs 8 readable bytes at in_next; leaves 56..63 bits. Bytes only partly loaded are not
// counted, and the next load ORs the same bits again.
#define REFILL_WORD()                                                                                                  \
    do {                                                                                                               \
        bitbuf |= load64(in_next) << bitsleft;                                                                         \
        in_next += (63 - bitsleft) >> 3;                                                                               \
        bitsleft |= 56;                                                                                                \
    } while (0)
#define REFILL()                                                                                                       \
    do {                                                                                                               \
        if (in_end - in_next >= 8) {                                                                                   \
            REFILL_WORD();                                                                                             \
        } else {                                                                                                       \
            while (bitsleft < 56) {                                                                                    \
                if (in_next < in_end) bitbuf |= (uint64_t)*in_next++ << bitsleft;                                       \
                else overrun++;                                                                                        \
                bitsleft += 8;                                                                                         \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)
#define CHECK_TRUNCATED()                                                                                              \
    do {                                                                                                               \
        if (bitsleft < 8 * overrun) FAIL(QD_INFLATE_TRUNCATED);                                                        \
    } while (0)
#define FAIL(code)                                                                                                     \
    do {                                                                                                               \
        result = (code);                                                                                               \
        goto done;                                                                                                     \
    } while (0)
// The entry of the next code: one lookup, or a second in the subtable for a longer code.
#define FOLLOW_SUBTABLE(table, table_bits)                                                                             \
    do {                                                                                                               \
        CONSUME(table_bits);                                                                                           \
        entry = (table)[E_VALUE(entry) + (bitbuf & ((1u << E_SUBTABLE_BITS(entry)) - 1))];                             \
    } while (0)
#define LOOKUP(table, table_bits)                                                                                      \
    do {                                                                                                               \
        entry = (table)[bitbuf & ((1u << (table_bits)) - 1)];                                                          \
        if (entry & F_SUBTABLE) FOLLOW_SUBTABLE(table, table_bits);                                                    \
    } while (0)
// The extra bits after an entry's code, from the bit buffer as it was before CONSUME.
#define EXTRA(saved, e) ((((uint32_t)(saved)) & ((1u << E_CONSUME(e)) - 1)) >> E_CODE_LENGTH(e))

static inline void copy8(uint8_t *dst, const uint8_t *src) { memcpy(dst, src, 8); }
static inline void copy16(uint8_t *dst, const uint8_t *src) { memcpy(dst, src, 16); }

// The fast loop runs while no input load or output store can cross a buffer end: at most two
// 8-byte refills per iteration, and at most 3 literals then a 258-byte match written in
// 16-byte words.
#define FAST_INPUT_MARGIN 32
#define FAST_OUTPUT_MARGIN 320

// Bits of the input consumed so far: whole bytes loaded (and zero bytes past the end), less
// what is still buffered.
#define BIT_POSITION() ((uint64_t)(in_next - in + overrun) * 8 - bitsleft)

// Records a match that reads unknown history, or output such a match wrote (which ends below
// `tainted_end`), so that it can be copied again once the history is known. Matches that read
// only later output read only literals and clean matches, which are already right.
#define RECORD_IF_TAINTED(dst, distance, length)                                                                       \
    do {                                                                                                               \
        if (speculative && (dst) - (distance) < tainted_end) {                                                         \
            if (match_count == p->match_capacity) FAIL(QD_INFLATE_TOO_MANY_MATCHES);                                   \
            p->matches[match_count++] = (qd_inflate_match){(uint64_t)((dst) - out_begin), (uint32_t)(distance),        \
                                                           (uint32_t)(length)};                                        \
            if ((dst) + (length) > tainted_end) tainted_end = (dst) + (length);                                        \
        }                                                                                                              \
    } while (0)

// The decoder, for a stream whose history is known (`speculative` 0) or not (1): one body,
// inlined into two functions, so the known case carries no recording.
static inline __attribute__((always_inline)) qd_inflate_result inflate_part(qd_inflate_part *p, const int speculative) {
    static const uint8_t no_input = 0;
    uint8_t no_output = 0;
    const uint8_t *in = p->in ? p->in : &no_input;
    const size_t in_len = p->in ? p->in_len : 0;
    uint8_t *const out = p->out ? p->out : &no_output;
    const size_t out_capacity = p->out ? p->out_capacity : 0;
    const size_t report_every = p->report ? p->report_every : 0;
    const uint8_t *in_next = in + (p->start_bit / 8 < in_len ? p->start_bit / 8 : in_len);
    const uint8_t *const in_end = in + in_len;
    uint8_t *const out_begin = out + p->out_start;
    uint8_t *out_next = out_begin;
    uint8_t *const out_end = out + out_capacity;
    const uint8_t *tainted_end = out_begin;
    size_t match_count = 0, blocks = 0;
    size_t next_report = (size_t)(out_begin - out) + report_every;
    uint64_t bitbuf = 0;
    unsigned bitsleft = 0, overrun = 0;
    qd_inflate_result result = QD_INFLATE_OK;

    uint32_t litlen[LITLEN_ENOUGH];
    uint32_t dist[DIST_ENOUGH];
    uint32_t precode[PRECODE_ENOUGH];
    uint8_t lengths[MAX_LITLEN_SYMBOLS + MAX_DIST_SYMBOLS];
    int tables_are_fixed = 0;
    unsigned final;

    if (p->start_bit & 7) {
        REFILL();
        CONSUME(p->start_bit & 7);
        CHECK_TRUNCATED();
    }
    do {
        if (p->stop_bit && BIT_POSITION() >= p->stop_from) {
            // The next part's search is short and started long before this part got here;
            // should it still be running, waiting keeps the parts in use whatever the timing.
            uint64_t stop;
            while ((stop = __atomic_load_n(p->stop_bit, __ATOMIC_ACQUIRE)) == QD_INFLATE_STOP_PENDING) sched_yield();
            if (BIT_POSITION() == stop) FAIL(QD_INFLATE_STOPPED);
        }
        if (p->max_blocks && blocks == p->max_blocks) FAIL(QD_INFLATE_STOPPED);
        blocks++;
        REFILL();
        final = bitbuf & 1;
        const unsigned type = (bitbuf >> 1) & 3;
        CONSUME(3);
        CHECK_TRUNCATED();

        if (type == 0) {
            CONSUME(bitsleft & 7);
            REFILL();
            const unsigned len = bitbuf & 0xffff, nlen = (bitbuf >> 16) & 0xffff;
            CONSUME(32);
            CHECK_TRUNCATED();
            if (len != (~nlen & 0xffff)) FAIL(QD_INFLATE_BAD_STORED_LENGTHS);
            // Hand the whole bytes still buffered back to the input and copy from there.
            in_next -= (bitsleft - 8 * overrun) / 8;
            bitbuf = 0;
            bitsleft = overrun = 0;
            const size_t in_avail = (size_t)(in_end - in_next), out_avail = (size_t)(out_end - out_next);
            if (len > out_avail) FAIL(in_avail > out_avail ? QD_INFLATE_OUTPUT_FULL : QD_INFLATE_TRUNCATED);
            if (len > in_avail) FAIL(QD_INFLATE_TRUNCATED);
            if (len) memcpy(out_next, in_next, len);
            in_next += len;
            out_next += len;
            continue;
        }
        if (type == 3) FAIL(QD_INFLATE_BAD_BLOCK_TYPE);

        if (type == 1) {
            if (!tables_are_fixed) {
                fixed_lengths(lengths, lengths + MAX_LITLEN_SYMBOLS);
                build_table(litlen, LITLEN_TABLE_BITS, LITLEN_ENOUGH, lengths, MAX_LITLEN_SYMBOLS, CODE_LITLEN);
                build_table(dist, DIST_TABLE_BITS, DIST_ENOUGH, lengths + MAX_LITLEN_SYMBOLS, MAX_DIST_SYMBOLS,
                            CODE_DIST);
                tables_are_fixed = 1;
            }
        } else {
            tables_are_fixed = 0;
            REFILL();
            const unsigned nlit = (bitbuf & 31) + 257, ndist = ((bitbuf >> 5) & 31) + 1;
            const unsigned ncode = ((bitbuf >> 10) & 15) + 4;
            CONSUME(14);
            CHECK_TRUNCATED();
            if (nlit > 286 || ndist > 30) FAIL(QD_INFLATE_TOO_MANY_SYMBOLS);
            uint8_t precode_lengths[PRECODE_SYMBOLS] = {0};
            unsigned any = 0;
            for (unsigned i = 0; i < ncode; i++) {
                REFILL();
                precode_lengths[precode_order[i]] = bitbuf & 7;
                any |= bitbuf & 7;
                CONSUME(3);
            }
            CHECK_TRUNCATED();
            const unsigned total = nlit + ndist;
            if (!any) {
                // zlib reads an empty precode as one-bit zero lengths before it finds the
                // end-of-block code missing; so a short stream is truncated, not corrupt.
                for (unsigned left = total; left > 0;) {
                    const unsigned n = left < 32 ? left : 32;
                    REFILL();
                    CONSUME(n);
                    CHECK_TRUNCATED();
                    left -= n;
                }
                FAIL(QD_INFLATE_MISSING_END_OF_BLOCK);
            }
            if (build_table(precode, PRECODE_TABLE_BITS, PRECODE_ENOUGH, precode_lengths, PRECODE_SYMBOLS,
                            CODE_PRECODE) != 0)
                FAIL(QD_INFLATE_BAD_CODE_LENGTHS_SET);
            for (unsigned n = 0; n < total;) {
                REFILL();
                const uint32_t entry = precode[bitbuf & ((1u << PRECODE_TABLE_BITS) - 1)];
                const uint64_t saved = bitbuf;
                CONSUME(E_CONSUME(entry));
                CHECK_TRUNCATED();
                const unsigned symbol = E_VALUE(entry);
                if (symbol < 16) {
                    lengths[n++] = (uint8_t)symbol;
                    continue;
                }
                unsigned value = 0, repeat;
                if (symbol == 16) {
                    if (n == 0) FAIL(QD_INFLATE_BAD_BIT_LENGTH_REPEAT);
                    value = lengths[n - 1];
                    repeat = 3 + EXTRA(saved, entry);
                } else {
                    repeat = (symbol == 17 ? 3 : 11) + EXTRA(saved, entry);
                }
                if (repeat > total - n) FAIL(QD_INFLATE_BAD_BIT_LENGTH_REPEAT);
                memset(lengths + n, (int)value, repeat);
                n += repeat;
            }
            if (lengths[256] == 0) FAIL(QD_INFLATE_MISSING_END_OF_BLOCK);
            if (build_table(litlen, LITLEN_TABLE_BITS, LITLEN_ENOUGH, lengths, nlit, CODE_LITLEN) != 0)
                FAIL(QD_INFLATE_BAD_LITERAL_LENGTHS_SET);
            if (build_table(dist, DIST_TABLE_BITS, DIST_ENOUGH, lengths + nlit, ndist, CODE_DIST) != 0)
                FAIL(QD_INFLATE_BAD_DISTANCES_SET);
        }

        const uint64_t litlen_mask = (1u << LITLEN_TABLE_BITS) - 1;
        uint32_t entry;
        uint64_t saved;

        // Fast loop: far from both buffer ends, so no bounds or truncation checks but the
        // distance. One refill (56+ bits) covers four literals of up to 11 bits, or a length
        // (15 + 5 bits) and a distance (15 + 13 bits).
        while (in_end - in_next >= FAST_INPUT_MARGIN && out_end - out_next >= FAST_OUTPUT_MARGIN) {
            REFILL_WORD();
            entry = litlen[bitbuf & litlen_mask];
            if (entry & F_LITERAL) {
                CONSUME(E_CONSUME(entry));
                *out_next++ = (uint8_t)E_VALUE(entry);
                entry = litlen[bitbuf & litlen_mask];
                if (entry & F_LITERAL) {
                    CONSUME(E_CONSUME(entry));
                    *out_next++ = (uint8_t)E_VALUE(entry);
                    entry = litlen[bitbuf & litlen_mask];
                    if (entry & F_LITERAL) {
                        CONSUME(E_CONSUME(entry));
                        *out_next++ = (uint8_t)E_VALUE(entry);
                        entry = litlen[bitbuf & litlen_mask];
                        if (entry & F_LITERAL) {
                            CONSUME(E_CONSUME(entry));
                            *out_next++ = (uint8_t)E_VALUE(entry);
                            continue;
                        }
                    }
                }
                REFILL_WORD();
            }
            if (entry & F_EXCEPTIONAL) {
                if (entry & F_SUBTABLE) {
                    FOLLOW_SUBTABLE(litlen, LITLEN_TABLE_BITS);
                    if (entry & F_LITERAL) {
                        CONSUME(E_CONSUME(entry));
                        *out_next++ = (uint8_t)E_VALUE(entry);
                        continue;
                    }
                }
                if (entry & F_EXCEPTIONAL) {
                    if (!(entry & F_END_OF_BLOCK)) FAIL(QD_INFLATE_BAD_LITERAL_LENGTH_CODE);
                    CONSUME(E_CONSUME(entry));
                    goto block_done;
                }
            }
            saved = bitbuf;
            CONSUME(E_CONSUME(entry));
            const unsigned length = E_VALUE(entry) + EXTRA(saved, entry);

            LOOKUP(dist, DIST_TABLE_BITS);
            if (entry & F_EXCEPTIONAL) FAIL(QD_INFLATE_BAD_DISTANCE_CODE);
            saved = bitbuf;
            CONSUME(E_CONSUME(entry));
            const size_t distance = E_VALUE(entry) + EXTRA(saved, entry);
            if (distance > (size_t)(out_next - out)) FAIL(QD_INFLATE_DISTANCE_TOO_FAR_BACK);
            RECORD_IF_TAINTED(out_next, distance, length);

            // Whole words may run past the match end (inside the margin); later output
            // overwrites them. A word never reads bytes this copy has not yet written.
            uint8_t *dst = out_next;
            const uint8_t *src = dst - distance;
            uint8_t *const end = dst + length;
            if (distance >= 16) {
                do { copy16(dst, src); dst += 16; src += 16; } while (dst < end);
            } else if (distance >= 8) {
                do { copy8(dst, src); dst += 8; src += 8; } while (dst < end);
            } else if (distance == 1) {
                const uint64_t run = 0x0101010101010101ull * *src;
                do { memcpy(dst, &run, 8); dst += 8; } while (dst < end);
            } else {
                do { *dst++ = *src++; } while (dst < end);
            }
            out_next = end;
        }

        // Near an end: one symbol at a time, every bound checked, in zlib's order.
        for (;;) {
            REFILL();
            LOOKUP(litlen, LITLEN_TABLE_BITS);
            saved = bitbuf;
            CONSUME(E_CONSUME(entry));
            CHECK_TRUNCATED();
            if (entry & F_LITERAL) {
                if (out_next == out_end) FAIL(QD_INFLATE_OUTPUT_FULL);
                *out_next++ = (uint8_t)E_VALUE(entry);
                continue;
            }
            if (entry & F_EXCEPTIONAL) {
                if (entry & F_END_OF_BLOCK) break;
                FAIL(QD_INFLATE_BAD_LITERAL_LENGTH_CODE);
            }
            const unsigned length = E_VALUE(entry) + EXTRA(saved, entry);

            REFILL();
            LOOKUP(dist, DIST_TABLE_BITS);
            saved = bitbuf;
            CONSUME(E_CONSUME(entry));
            CHECK_TRUNCATED();
            if (entry & F_EXCEPTIONAL) FAIL(QD_INFLATE_BAD_DISTANCE_CODE);
            const size_t distance = E_VALUE(entry) + EXTRA(saved, entry);
            if (distance > (size_t)(out_next - out)) FAIL(QD_INFLATE_DISTANCE_TOO_FAR_BACK);
            if (length > (size_t)(out_end - out_next)) FAIL(QD_INFLATE_OUTPUT_FULL);
            RECORD_IF_TAINTED(out_next, distance, length);
            const uint8_t *src = out_next - distance;
            for (unsigned i = 0; i < length; i++) out_next[i] = src[i];
            out_next += length;
        }
    block_done:
        // Output before out_next is final (matches only read it), so it may be handed on.
        if (report_every && (size_t)(out_next - out) >= next_report) {
            p->report(p->context, (size_t)(out_next - out));
            next_report = (size_t)(out_next - out) + report_every;
        }
    } while (!final);

done:
    p->end_bit = BIT_POSITION();
    p->out_len = (size_t)(out_next - out_begin);
    p->match_count = match_count;
    return result;
}

static qd_inflate_result inflate_known(qd_inflate_part *p) { return inflate_part(p, 0); }
static qd_inflate_result inflate_unknown(qd_inflate_part *p) { return inflate_part(p, 1); }

qd_inflate_result qd_inflate_part_run(qd_inflate_part *part) {
    return part->matches ? inflate_unknown(part) : inflate_known(part);
}

qd_inflate_result qd_inflate_raw(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_capacity,
                                 size_t *in_used, size_t *out_len) {
    return qd_inflate_raw_reporting(in, in_len, out, out_capacity, in_used, out_len, 0, 0, 0);
}

qd_inflate_result qd_inflate_raw_reporting(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_capacity,
                                           size_t *in_used, size_t *out_len, size_t report_every,
                                           void (*report)(void *context, size_t produced), void *context) {
    qd_inflate_part part = {.in = in, .in_len = in_len, .out = out, .out_capacity = out_capacity,
                            .report_every = report_every, .report = report, .context = context};
    const qd_inflate_result result = inflate_known(&part);
    *in_used = (size_t)((part.end_bit + 7) / 8);
    *out_len = part.out_len;
    return result;
}

// Whether the precode lengths of a dynamic block header at `bits` (the block's first 64 bits,
// and `more` the next 64) form a complete code, as the decoder requires: cheap enough to try at
// every bit position before a full check.
static int plausible_dynamic_header(uint64_t bits, uint64_t more) {
    if (((bits >> 1) & 3) != 2) return 0;
    if (((bits >> 3) & 31) > 29 || ((bits >> 8) & 31) > 29) return 0;
    const unsigned ncode = ((bits >> 13) & 15) + 4;
    unsigned kraft = 0; // in units of 2^-7
    for (unsigned i = 0; i < ncode; i++) {
        const unsigned at = 17 + 3 * i;
        const unsigned length = (unsigned)((at <= 61 ? bits >> at : at >= 64 ? more >> (at - 64) : bits >> at | more << (64 - at)) & 7);
        if (length) kraft += 128u >> length;
    }
    return kraft == 128;
}

// The first bit in [from_bit, to_bit) where a dynamic-Huffman block starts that decodes whole
// (to its end, or past scratch) with any history: a candidate start for a part, which decoding
// the part before confirms or refutes. Returns 1 and sets *found, or 0.
static int find_block(const uint8_t *in, size_t in_len, uint64_t from_bit, uint64_t to_bit, uint8_t *scratch,
                      size_t scratch_len, qd_inflate_match *matches, size_t match_capacity, uint64_t *found) {
    if (in_len < 16 || scratch_len <= QD_INFLATE_WINDOW) return 0;
    const uint64_t last = (uint64_t)(in_len - 16) * 8;
    if (to_bit > last) to_bit = last;
    for (uint64_t bit = from_bit; bit < to_bit; bit++) {
        const uint8_t *at = in + bit / 8;
        const unsigned shift = bit & 7;
        const uint64_t low = load64(at), high = load64(at + 8);
        const uint64_t bits = shift ? low >> shift | high << (64 - shift) : low;
        const uint64_t more = high >> shift; // bits 64 to 120: the precode ends by bit 74
        if (!plausible_dynamic_header(bits, more)) continue;
        // The whole first block must decode, with any history.
        qd_inflate_part part = {.in = in, .in_len = in_len, .start_bit = bit, .out = scratch,
                                .out_start = QD_INFLATE_WINDOW, .out_capacity = scratch_len, .max_blocks = 1,
                                .matches = matches, .match_capacity = match_capacity};
        const qd_inflate_result result = inflate_unknown(&part);
        if (result == QD_INFLATE_STOPPED || result == QD_INFLATE_OK || result == QD_INFLATE_OUTPUT_FULL ||
            result == QD_INFLATE_TOO_MANY_MATCHES) {
            *found = bit;
            return 1;
        }
    }
    return 0;
}

qd_inflate_result qd_inflate_speculate(qd_inflate_part *part, uint64_t from_bit, uint64_t to_bit, uint64_t *start) {
    part->end_bit = from_bit;
    part->out_len = part->match_count = 0;
    if (!part->matches || part->out_start != QD_INFLATE_WINDOW ||
        !find_block(part->in, part->in_len, from_bit, to_bit, part->out, part->out_capacity, part->matches,
                    part->match_capacity, &part->start_bit)) {
        __atomic_store_n(start, QD_INFLATE_STOP_NONE, __ATOMIC_RELEASE);
        return QD_INFLATE_NO_BLOCK_START;
    }
    __atomic_store_n(start, part->start_bit, __ATOMIC_RELEASE);
    return inflate_unknown(part);
}

int qd_inflate_replay(uint8_t *part, size_t history, const qd_inflate_match *matches, size_t count) {
    for (size_t i = 0; i < count; i++) {
        const qd_inflate_match m = matches[i];
        if (m.distance > history + m.position) return -1;
        uint8_t *dst = part + m.position;
        const uint8_t *src = dst - m.distance;
        for (uint32_t n = 0; n < m.length; n++) dst[n] = src[n];
    }
    return 0;
}

const char *qd_inflate_message(qd_inflate_result result) {
    switch (result) {
    case QD_INFLATE_OK: return "no error";
    case QD_INFLATE_TRUNCATED: return "unexpected end of deflate data";
    case QD_INFLATE_OUTPUT_FULL: return "deflate data expands past the declared size";
    case QD_INFLATE_BAD_BLOCK_TYPE: return "invalid block type";
    case QD_INFLATE_BAD_STORED_LENGTHS: return "invalid stored block lengths";
    case QD_INFLATE_TOO_MANY_SYMBOLS: return "too many length or distance symbols";
    case QD_INFLATE_BAD_CODE_LENGTHS_SET: return "invalid code lengths set";
    case QD_INFLATE_BAD_BIT_LENGTH_REPEAT: return "invalid bit length repeat";
    case QD_INFLATE_MISSING_END_OF_BLOCK: return "invalid code -- missing end-of-block";
    case QD_INFLATE_BAD_LITERAL_LENGTHS_SET: return "invalid literal/lengths set";
    case QD_INFLATE_BAD_DISTANCES_SET: return "invalid distances set";
    case QD_INFLATE_BAD_LITERAL_LENGTH_CODE: return "invalid literal/length code";
    case QD_INFLATE_BAD_DISTANCE_CODE: return "invalid distance code";
    case QD_INFLATE_DISTANCE_TOO_FAR_BACK: return "invalid distance too far back";
    case QD_INFLATE_STOPPED: return "stopped at a block boundary";
    case QD_INFLATE_TOO_MANY_MATCHES: return "too many matches read unknown history";
    case QD_INFLATE_NO_BLOCK_START: return "no block start found";
    }
    return "invalid deflate data";
}
