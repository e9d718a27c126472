#include "CCRC32.h"
#include <string.h>

#define POLY 0xEDB88320u

// Slicing-by-8 tables, built once on first use.
static uint32_t table[8][256];
static int table_ready;

static void build_table(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++)
        for (int t = 1; t < 8; t++) table[t][n] = (table[t - 1][n] >> 8) ^ table[0][table[t - 1][n] & 0xff];
    __atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

// The register form: no pre/post inversion (callers invert).
static uint32_t table_register(uint32_t reg, const uint8_t *p, size_t n) {
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE)) build_table(); // idempotent if raced
    while (n >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4); // little-endian hosts (x86-64, arm64)
        memcpy(&hi, p + 4, 4);
        lo ^= reg;
        reg = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
              table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^ table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) reg = (reg >> 8) ^ table[0][(reg ^ *p++) & 0xff];
    return reg;
}

uint32_t ccrc32_update_portable(uint32_t crc, const void *bytes, size_t count) {
    return ~table_register(~crc, bytes, count);
}

#if defined(__x86_64__)
#include <immintrin.h>

// Folding constants for the reflected polynomial: the low half multiplies the lower 64 bits of
// a 128-bit lane, the high half the upper 64 bits; each is x^k mod P for the distance folded
// (512 bits for four lanes at once, 128 bits for one), bit-reflected and shifted left by one.
#define FOLD512_LO 0x154442bd4ull
#define FOLD512_HI 0x1c6e41596ull
#define FOLD128_LO 0x1751997d0ull
#define FOLD128_HI 0x0ccaa009eull

__attribute__((target("pclmul,sse4.1")))
static inline __m128i fold(__m128i x, __m128i k, __m128i next) {
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

// Folds whole 64-byte groups into one 128-bit remainder congruent (mod P) to the message so
// far; the remainder's 16 bytes then go through the table loop with a zero register, which
// gives the same register as the message itself. The initial register is XORed into the
// message's first four bytes, which the table loop would do first anyway.
__attribute__((target("pclmul,sse4.1")))
static uint32_t folded_register(uint32_t reg, const uint8_t *p, size_t n) {
    __m128i x0 = _mm_loadu_si128((const __m128i *)p);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)reg));
    p += 64;
    n -= 64;
    const __m128i k512 = _mm_set_epi64x((long long)FOLD512_HI, (long long)FOLD512_LO);
    while (n >= 64) {
        x0 = fold(x0, k512, _mm_loadu_si128((const __m128i *)p));
        x1 = fold(x1, k512, _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = fold(x2, k512, _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = fold(x3, k512, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        n -= 64;
    }
    const __m128i k128 = _mm_set_epi64x((long long)FOLD128_HI, (long long)FOLD128_LO);
    x0 = fold(x0, k128, x1);
    x0 = fold(x0, k128, x2);
    x0 = fold(x0, k128, x3);
    while (n >= 16) {
        x0 = fold(x0, k128, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        n -= 16;
    }
    uint8_t rest[16];
    _mm_storeu_si128((__m128i *)rest, x0);
    return table_register(table_register(0, rest, 16), p, n);
}

int ccrc32_accelerated(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

uint32_t ccrc32_update(uint32_t crc, const void *bytes, size_t count) {
    static int accelerated = -1;
    int a = __atomic_load_n(&accelerated, __ATOMIC_RELAXED);
    if (a < 0) {
        a = ccrc32_accelerated();
        __atomic_store_n(&accelerated, a, __ATOMIC_RELAXED);
    }
    if (a && count >= 64) return ~folded_register(~crc, bytes, count);
    return ccrc32_update_portable(crc, bytes, count);
}

#else

int ccrc32_accelerated(void) { return 0; }

uint32_t ccrc32_update(uint32_t crc, const void *bytes, size_t count) {
    return ccrc32_update_portable(crc, bytes, count);
}

#endif
