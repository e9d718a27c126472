#include "CQuantKernels.h"
#include <stdint.h>
#include <sys/mman.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define QK_TARGET __attribute__((target("avx2,f16c,fma")))

int qk_vector_kernels_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma");
}

// Eight elements as floats; float16 converts exactly (F16C).
QK_TARGET __attribute__((always_inline)) static inline __m256 load8(int element, const void *source, size_t index) {
    if (element == QK_FLOAT16) {
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)source + index)));
    }
    return _mm256_loadu_ps((const float *)source + index);
}

QK_TARGET static int32_t hmin32(__m256i v) {
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, v);
    int32_t m = lanes[0];
    for (int k = 1; k < 8; k++) m = lanes[k] < m ? lanes[k] : m;
    return m;
}

QK_TARGET static int32_t hmax32(__m256i v) {
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, v);
    int32_t m = lanes[0];
    for (int k = 1; k < 8; k++) m = lanes[k] > m ? lanes[k] : m;
    return m;
}

QK_TARGET static void extremes16(const uint16_t *source, size_t count, int32_t *low, int32_t *high) {
    // Keys of 16-bit floats fit in int16: sixteen lanes per instruction.
    __m256i lo = _mm256_set1_epi16(INT16_MAX), hi = _mm256_set1_epi16(INT16_MIN);
    const __m256i magnitude = _mm256_set1_epi16(0x7FFF);
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256i bits = _mm256_loadu_si256((const __m256i *)(source + i));
        __m256i key = _mm256_xor_si256(bits, _mm256_and_si256(_mm256_srai_epi16(bits, 15), magnitude));
        lo = _mm256_min_epi16(lo, key);
        hi = _mm256_max_epi16(hi, key);
    }
    int16_t los[16], his[16];
    _mm256_storeu_si256((__m256i *)los, lo);
    _mm256_storeu_si256((__m256i *)his, hi);
    int32_t l = *low, h = *high;
    for (int k = 0; k < 16; k++) {
        l = los[k] < l ? los[k] : l;
        h = his[k] > h ? his[k] : h;
    }
    for (; i < count; i++) {
        int16_t s = (int16_t)source[i];
        int32_t key = s ^ ((s >> 15) & 0x7FFF);
        l = key < l ? key : l;
        h = key > h ? key : h;
    }
    *low = l;
    *high = h;
}

QK_TARGET static void extremes32(const uint32_t *source, size_t count, int32_t *low, int32_t *high) {
    __m256i lo = _mm256_set1_epi32(INT32_MAX), hi = _mm256_set1_epi32(INT32_MIN);
    const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256i bits = _mm256_loadu_si256((const __m256i *)(source + i));
        __m256i key = _mm256_xor_si256(bits, _mm256_and_si256(_mm256_srai_epi32(bits, 31), magnitude));
        lo = _mm256_min_epi32(lo, key);
        hi = _mm256_max_epi32(hi, key);
    }
    int32_t l = hmin32(lo), h = hmax32(hi);
    l = *low < l ? *low : l;
    h = *high > h ? *high : h;
    for (; i < count; i++) {
        int32_t s = (int32_t)source[i];
        int32_t key = s ^ ((s >> 31) & 0x7FFFFFFF);
        l = key < l ? key : l;
        h = key > h ? key : h;
    }
    *low = l;
    *high = h;
}

void qk_order_key_extremes(int element, const void *source, size_t count, int32_t *low, int32_t *high) {
    if (element == QK_FLOAT16) extremes16(source, count, low, high);
    else extremes32(source, count, low, high);
}

// The block's parameters in registers; read once, since stores through the byte pointer of
// the codes could otherwise alias them.
typedef struct {
    __m256 scale, reciprocal;
    __m256i lower, upper, zero_point;
    int float16_quotient;
    int divide;
} block_vectors;

// As the Swift kernel: divide, round the quotient to float16 precision if asked (bit
// arithmetic, ties to even), round half to even by adding 1.5·2^23, clamp the integers and
// add the zero point (the code integer, before it is narrowed to its byte).
QK_TARGET __attribute__((always_inline)) static inline __m256i codes8_unmasked(__m256 w, block_vectors b) {
    // w / scale, correctly rounded, without a division (a third of its cost): with
    // y = RN(1/scale) and q0 = RN(w·y) within an ulp of the quotient, the remainder
    // r = w − q0·scale is exact in one FMA and RN(q0 + r·y) is the correctly rounded
    // quotient (Markstein's theorem; Muller et al., Handbook of Floating-Point Arithmetic,
    // §5.3). Exhaustively checked against division over every float16 weight.
    // Scales so small that 1/scale leaves the normal range divide instead (see qk_codes).
    __m256 q;
    if (b.divide) {
        q = _mm256_div_ps(w, b.scale);
    } else {
        __m256 q0 = _mm256_mul_ps(w, b.reciprocal);
        __m256 r = _mm256_fnmadd_ps(q0, b.scale, w);
        q = _mm256_fmadd_ps(r, b.reciprocal, q0);
    }
    if (b.float16_quotient) {
        __m256i bits = _mm256_castps_si256(q);
        __m256i odd = _mm256_and_si256(_mm256_srli_epi32(bits, 13), _mm256_set1_epi32(1));
        bits = _mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0xFFF)), odd);
        q = _mm256_castsi256_ps(_mm256_and_si256(bits, _mm256_set1_epi32((int32_t)0xFFFFE000)));
    }
    __m256i integer = _mm256_sub_epi32(_mm256_castps_si256(_mm256_add_ps(q, _mm256_set1_ps(12582912.0f))),
                                       _mm256_set1_epi32(0x4B400000));
    integer = _mm256_max_epi32(integer, b.lower);
    integer = _mm256_min_epi32(integer, b.upper);
    return _mm256_add_epi32(integer, b.zero_point);
}

// codes8_unmasked's low bytes, the stored codes.
QK_TARGET __attribute__((always_inline)) static inline __m256i codes8(__m256 w, block_vectors b) {
    return _mm256_and_si256(codes8_unmasked(w, b), _mm256_set1_epi32(0xFF));
}

// Inlined into wrappers with constant `element` and rounding, so each loop is compiled for one type.
QK_TARGET __attribute__((always_inline)) static inline void codes_loop(
    int element, int float16_quotient, int divide, const void *source, size_t count, const qk_block *block, uint8_t *codes) {
    const block_vectors b = {
        _mm256_set1_ps(block->scale), _mm256_set1_ps(1.0f / block->scale), _mm256_set1_epi32(block->lower), _mm256_set1_epi32(block->upper),
        _mm256_set1_epi32(block->zero_point), float16_quotient, divide,
    };
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256i lo = codes8(load8(element, source, i), b);
        __m256i hi = codes8(load8(element, source, i + 8), b);
        // Bytes 0..255 in 32-bit lanes → 16 bytes in order.
        __m256i words = _mm256_packus_epi32(lo, hi);             // per 128-bit half: lo0-3 hi0-3 | lo4-7 hi4-7
        words = _mm256_permute4x64_epi64(words, 0xD8);           // lo0-7 | hi0-7
        __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
        _mm_storeu_si128((__m128i *)(codes + i), bytes);
    }
    for (; i + 8 <= count; i += 8) {
        __m256i lo = codes8(load8(element, source, i), b);
        __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1));
        _mm_storel_epi64((__m128i *)(codes + i), _mm_packus_epi16(words, words));
    }
}

#define QK_CODES(name, element, rounding, divide) \
    QK_TARGET static void name(const void *source, size_t count, const qk_block *block, uint8_t *codes) { \
        codes_loop(element, rounding, divide, source, count, block, codes); \
    }
QK_CODES(codes16, QK_FLOAT16, 0, 0)
QK_CODES(codes16r, QK_FLOAT16, 1, 0)
QK_CODES(codes32, QK_FLOAT32, 0, 0)
QK_CODES(codes32r, QK_FLOAT32, 1, 0)
QK_CODES(codes16d, QK_FLOAT16, 0, 1)
QK_CODES(codes16rd, QK_FLOAT16, 1, 1)
QK_CODES(codes32d, QK_FLOAT32, 0, 1)
QK_CODES(codes32rd, QK_FLOAT32, 1, 1)

void qk_codes(int element, const void *source, size_t count, const qk_block *block, uint8_t *codes) {
    // The reciprocal path needs 1/scale and the remainder normal: true for every scale of
    // real weights; the rest (all-tiny float32 blocks) divide.
    float magnitude = block->scale < 0 ? -block->scale : block->scale;
    int divide = !(magnitude >= 0x1p-100f && magnitude <= 0x1p100f);
    int f16 = element == QK_FLOAT16, rounding = block->float16_quotient;
    if (divide) {
        if (f16) (rounding ? codes16rd : codes16d)(source, count, block, codes);
        else (rounding ? codes32rd : codes32d)(source, count, block, codes);
    } else {
        if (f16) (rounding ? codes16r : codes16)(source, count, block, codes);
        else (rounding ? codes32r : codes32)(source, count, block, codes);
    }
}

// qk_lanes in registers.
typedef struct {
    __m256 signal, noise, dot, energy, max_square, zeros;
} lane_sums;

QK_TARGET __attribute__((always_inline)) static inline lane_sums lanes_load(const qk_lanes *l) {
    return (lane_sums){_mm256_loadu_ps(l->signal), _mm256_loadu_ps(l->noise), _mm256_loadu_ps(l->dot),
                       _mm256_loadu_ps(l->energy), _mm256_loadu_ps(l->max_square), _mm256_loadu_ps(l->zeros)};
}

QK_TARGET __attribute__((always_inline)) static inline void lanes_store(lane_sums s, qk_lanes *l) {
    _mm256_storeu_ps(l->signal, s.signal);
    _mm256_storeu_ps(l->noise, s.noise);
    _mm256_storeu_ps(l->dot, s.dot);
    _mm256_storeu_ps(l->energy, s.energy);
    _mm256_storeu_ps(l->max_square, s.max_square);
    _mm256_storeu_ps(l->zeros, s.zeros);
}

// Adds eight weights `w` whose code integers less the zero point are `q`: reconstructed
// r = q·scale. The one place both measuring kernels add, so their sums agree bit for bit.
QK_TARGET __attribute__((always_inline)) static inline void lanes_add(lane_sums *s, __m256 w, __m256 q, __m256 scale) {
    __m256 r = _mm256_mul_ps(q, scale);
    __m256 e = _mm256_sub_ps(w, r);
    s->signal = _mm256_add_ps(s->signal, _mm256_mul_ps(w, w));
    __m256 e2 = _mm256_mul_ps(e, e);
    s->noise = _mm256_add_ps(s->noise, e2);
    s->dot = _mm256_add_ps(s->dot, _mm256_mul_ps(w, r));
    s->energy = _mm256_add_ps(s->energy, _mm256_mul_ps(r, r));
    s->max_square = _mm256_max_ps(e2, s->max_square);
    s->zeros = _mm256_add_ps(s->zeros, _mm256_and_ps(_mm256_cmp_ps(q, _mm256_setzero_ps(), _CMP_EQ_OQ), _mm256_set1_ps(1.0f)));
}

QK_TARGET __attribute__((always_inline)) static inline void measure_loop(
    int element, const void *source, const uint8_t *codes, size_t count,
    float scale, float zero_point, int signed_codes, qk_lanes *lanes) {
    lane_sums sums = lanes_load(lanes);
    const __m256 vscale = _mm256_set1_ps(scale), vzp = _mm256_set1_ps(zero_point);
    for (size_t i = 0; i + 8 <= count; i += 8) {
        __m128i bytes = _mm_loadl_epi64((const __m128i *)(codes + i));
        __m256i integers = signed_codes ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes);
        lanes_add(&sums, load8(element, source, i), _mm256_sub_ps(_mm256_cvtepi32_ps(integers), vzp), vscale);
    }
    lanes_store(sums, lanes);
}

#define QK_MEASURE(name, element, signed_codes) \
    QK_TARGET static void name(const void *s, const uint8_t *c, size_t n, float scale, float zp, qk_lanes *l) { \
        measure_loop(element, s, c, n, scale, zp, signed_codes, l); \
    }
QK_MEASURE(measure16s, QK_FLOAT16, 1)
QK_MEASURE(measure16u, QK_FLOAT16, 0)
QK_MEASURE(measure32s, QK_FLOAT32, 1)
QK_MEASURE(measure32u, QK_FLOAT32, 0)

void qk_measure(int element, const void *source, const uint8_t *codes, size_t count,
                float scale, float zero_point, int signed_codes, qk_lanes *lanes) {
    if (element == QK_FLOAT16) {
        if (signed_codes) measure16s(source, codes, count, scale, zero_point, lanes);
        else measure16u(source, codes, count, scale, zero_point, lanes);
    } else {
        if (signed_codes) measure32s(source, codes, count, scale, zero_point, lanes);
        else measure32u(source, codes, count, scale, zero_point, lanes);
    }
}

// Extreme order keys of one run of `length` (a multiple of 8) elements, reduced in registers.
QK_TARGET __attribute__((always_inline)) static inline void run_extremes(
    int element, const void *source, size_t length, int32_t *low, int32_t *high) {
    if (element == QK_FLOAT16) {
        const uint16_t *s = source;
        const __m128i magnitude = _mm_set1_epi16(0x7FFF);
        __m128i lo = _mm_set1_epi16(INT16_MAX), hi = _mm_set1_epi16(INT16_MIN);
        for (size_t i = 0; i < length; i += 8) {
            __m128i bits = _mm_loadu_si128((const __m128i *)(s + i));
            __m128i key = _mm_xor_si128(bits, _mm_and_si128(_mm_srai_epi16(bits, 15), magnitude));
            lo = _mm_min_epi16(lo, key);
            hi = _mm_max_epi16(hi, key);
        }
        lo = _mm_min_epi16(lo, _mm_srli_si128(lo, 8));
        hi = _mm_max_epi16(hi, _mm_srli_si128(hi, 8));
        lo = _mm_min_epi16(lo, _mm_srli_si128(lo, 4));
        hi = _mm_max_epi16(hi, _mm_srli_si128(hi, 4));
        lo = _mm_min_epi16(lo, _mm_srli_si128(lo, 2));
        hi = _mm_max_epi16(hi, _mm_srli_si128(hi, 2));
        *low = (int16_t)_mm_extract_epi16(lo, 0);
        *high = (int16_t)_mm_extract_epi16(hi, 0);
        return;
    }
    const uint32_t *s = source;
    const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
    __m256i lo = _mm256_set1_epi32(INT32_MAX), hi = _mm256_set1_epi32(INT32_MIN);
    for (size_t i = 0; i < length; i += 8) {
        __m256i bits = _mm256_loadu_si256((const __m256i *)(s + i));
        __m256i key = _mm256_xor_si256(bits, _mm256_and_si256(_mm256_srai_epi32(bits, 31), magnitude));
        lo = _mm256_min_epi32(lo, key);
        hi = _mm256_max_epi32(hi, key);
    }
    __m128i l = _mm_min_epi32(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1));
    __m128i h = _mm_max_epi32(_mm256_castsi256_si128(hi), _mm256_extracti128_si256(hi, 1));
    l = _mm_min_epi32(l, _mm_srli_si128(l, 8));
    h = _mm_max_epi32(h, _mm_srli_si128(h, 8));
    l = _mm_min_epi32(l, _mm_srli_si128(l, 4));
    h = _mm_max_epi32(h, _mm_srli_si128(h, 4));
    *low = _mm_cvtsi128_si32(l);
    *high = _mm_cvtsi128_si32(h);
}

// Runs whose scales are computed together, eight to a vector, before their codes: the scale
// of one run alone is a chain of dependent steps (reduce, convert, divide, round, divide)
// longer than the codes of a 32-element run.
#define QK_SCALE_GROUP 64

// Scales of `count` (≤ QK_SCALE_GROUP) runs from their extreme keys, as
// LinearQuantizer.Plan.blockQuantization computes them: high = max(|min|, |max|),
// span = R(high − (−high)), scale = R(span / (qmax − qmin)), R rounding to float16 when
// `scale_float16`. A zero scale becomes 1 with `zero[k]` set. Returns the index of the first
// run whose extremes are not finite or whose scale overflows (status in *status), else count.
QK_TARGET __attribute__((always_inline)) static inline size_t group_scales(
    int element, const qk_symmetric_plan *plan, const int32_t *low_keys, const int32_t *high_keys, size_t count,
    float *scale, float *reciprocal, int32_t *zero, int32_t *divide, int *status) {
    const __m256 range = _mm256_set1_ps(plan->qmax - plan->qmin);
    const __m256 sign = _mm256_set1_ps(-0.0f), largest = _mm256_set1_ps(0x1.fffffep127f);
    for (size_t k = 0; k < count; k += 8) {
        __m256i lo = _mm256_loadu_si256((const __m256i *)(low_keys + k));
        __m256i hi = _mm256_loadu_si256((const __m256i *)(high_keys + k));
        __m256 minimum, maximum;
        if (element == QK_FLOAT16) {
            const __m256i magnitude = _mm256_set1_epi32(0x7FFF);
            lo = _mm256_xor_si256(lo, _mm256_and_si256(_mm256_srai_epi32(lo, 15), magnitude));
            hi = _mm256_xor_si256(hi, _mm256_and_si256(_mm256_srai_epi32(hi, 15), magnitude));
            minimum = _mm256_cvtph_ps(_mm_packs_epi32(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1)));
            maximum = _mm256_cvtph_ps(_mm_packs_epi32(_mm256_castsi256_si128(hi), _mm256_extracti128_si256(hi, 1)));
        } else {
            const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
            minimum = _mm256_castsi256_ps(_mm256_xor_si256(lo, _mm256_and_si256(_mm256_srai_epi32(lo, 31), magnitude)));
            maximum = _mm256_castsi256_ps(_mm256_xor_si256(hi, _mm256_and_si256(_mm256_srai_epi32(hi, 31), magnitude)));
        }
        __m256 a = _mm256_andnot_ps(sign, minimum), b = _mm256_andnot_ps(sign, maximum);
        // Not finite: |x| > largest finite float, or NaN (unordered).
        __m256 bad = _mm256_or_ps(_mm256_cmp_ps(a, largest, _CMP_NLE_UQ), _mm256_cmp_ps(b, largest, _CMP_NLE_UQ));
        __m256 high = _mm256_max_ps(a, b);
        __m256 span = _mm256_sub_ps(high, _mm256_xor_ps(high, sign));
        if (plan->scale_float16) span = _mm256_cvtph_ps(_mm256_cvtps_ph(span, _MM_FROUND_TO_NEAREST_INT));
        __m256 s = _mm256_div_ps(span, range);
        if (plan->scale_float16) s = _mm256_cvtph_ps(_mm256_cvtps_ph(s, _MM_FROUND_TO_NEAREST_INT));
        __m256 overflow = _mm256_cmp_ps(_mm256_andnot_ps(sign, s), largest, _CMP_NLE_UQ);
        unsigned bad_mask = (unsigned)_mm256_movemask_ps(bad), overflow_mask = (unsigned)_mm256_movemask_ps(overflow);
        size_t valid = count - k < 8 ? count - k : 8;
        unsigned lanes_mask = (1u << valid) - 1;
        bad_mask &= lanes_mask;
        overflow_mask &= lanes_mask;
        if (bad_mask | overflow_mask) {
            unsigned first = (unsigned)__builtin_ctz(bad_mask | overflow_mask);
            *status = (bad_mask >> first) & 1 ? QK_RUN_NON_FINITE : QK_RUN_SCALE_OVERFLOW;
            return k + first;
        }
        __m256 is_zero = _mm256_cmp_ps(s, _mm256_setzero_ps(), _CMP_EQ_OQ);
        s = _mm256_blendv_ps(s, _mm256_set1_ps(1.0f), is_zero);
        __m256 magnitude = _mm256_andnot_ps(sign, s);
        // The reciprocal path of codes8 needs 1/scale normal (see qk_codes).
        __m256 normal = _mm256_and_ps(_mm256_cmp_ps(magnitude, _mm256_set1_ps(0x1p-100f), _CMP_GE_OQ),
                                      _mm256_cmp_ps(magnitude, _mm256_set1_ps(0x1p100f), _CMP_LE_OQ));
        _mm256_storeu_ps(scale + k, s);
        _mm256_storeu_ps(reciprocal + k, _mm256_div_ps(_mm256_set1_ps(1.0f), s));
        _mm256_storeu_si256((__m256i *)(zero + k), _mm256_castps_si256(is_zero));
        _mm256_storeu_si256((__m256i *)(divide + k), _mm256_castps_si256(_mm256_xor_ps(normal, _mm256_castsi256_ps(_mm256_set1_epi32(-1)))));
    }
    return count;
}

// Everything per run in one pass while the run is in L1: extremes, the symmetric scale,
// codes as qk_codes writes them, and the error lanes from the code integers before they are
// narrowed to bytes (the same values measure_loop reads back from the bytes, in the same
// operations). Runs go in groups whose scales are computed together. Measuring follows
// QuantizationErrorMetrics.RunAccumulator.add: each run in stretches of at most 1024
// elements, the lanes flushed after a stretch that brings the pending count to 1024.
QK_TARGET __attribute__((always_inline)) static inline size_t symmetric_runs_loop(
    int element, int float16_quotient, int signed_codes, const qk_symmetric_plan *plan, const void *source, size_t length,
    size_t count, uint8_t *codes, float *scales, qk_lanes *lanes, size_t *pending, qk_flush flush, void *context,
    int *status) {
    const size_t element_size = element == QK_FLOAT16 ? 2 : 4;
    const __m256 zp_float = _mm256_set1_ps((float)plan->zero_point);
    const __m256i zero_point = _mm256_set1_epi32(plan->zero_point);
    const __m256i lower = _mm256_set1_epi32((int32_t)plan->qmin - plan->zero_point);
    const __m256i upper = _mm256_set1_epi32((int32_t)plan->qmax - plan->zero_point);
    const __m256 zero = _mm256_setzero_ps();
    const lane_sums cleared = {zero, zero, zero, zero, zero, zero};
    lane_sums sums = lanes ? lanes_load(lanes) : cleared;
    int32_t low_keys[QK_SCALE_GROUP + 8], high_keys[QK_SCALE_GROUP + 8], zero_scale[QK_SCALE_GROUP + 8], divide[QK_SCALE_GROUP + 8];
    float scale[QK_SCALE_GROUP + 8], reciprocal[QK_SCALE_GROUP + 8];
    size_t run = 0;
    *status = QK_RUN_OK;
    while (run < count) {
        size_t group = count - run < QK_SCALE_GROUP ? count - run : QK_SCALE_GROUP;
        const char *first = (const char *)source + run * length * element_size;
        for (size_t k = 0; k < group; k++) {
            run_extremes(element, first + k * length * element_size, length, low_keys + k, high_keys + k);
        }
        size_t good = group_scales(element, plan, low_keys, high_keys, group, scale, reciprocal, zero_scale, divide, status);
        for (size_t k = 0; k < good; k++) {
            const void *s = first + k * length * element_size;
            uint8_t *c = codes + (run + k) * length;
            scales[run + k] = scale[k];
            const block_vectors v = {
                _mm256_set1_ps(scale[k]), _mm256_set1_ps(reciprocal[k]),
                zero_scale[k] ? _mm256_setzero_si256() : lower, zero_scale[k] ? _mm256_setzero_si256() : upper,
                zero_point, float16_quotient, divide[k],
            };
            for (size_t stretch = 0; stretch < length; stretch += 1024) {
                size_t end = length - stretch > 1024 ? stretch + 1024 : length;
                for (size_t i = stretch; i < end; i += 8) {
                    __m256 w = load8(element, s, i);
                    __m256i coded = codes8_unmasked(w, v);
                    __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(coded), _mm256_extracti128_si256(coded, 1));
                    _mm_storel_epi64((__m128i *)(c + i), signed_codes ? _mm_packs_epi16(words, words) : _mm_packus_epi16(words, words));
                    if (lanes) lanes_add(&sums, w, _mm256_sub_ps(_mm256_cvtepi32_ps(coded), zp_float), v.scale);
                }
                if (!lanes) continue;
                *pending += end - stretch;
                if (*pending < 1024) continue;
                lanes_store(sums, lanes);
                flush(lanes, context);
                *pending = 0;
                sums = cleared;
            }
        }
        run += good;
        if (*status != QK_RUN_OK) break;
    }
    if (lanes) lanes_store(sums, lanes);
    return run;
}

#define QK_SYMMETRIC_RUNS(name, element, float16_quotient, signed_codes) \
    QK_TARGET static size_t name(const qk_symmetric_plan *p, const void *s, size_t length, size_t count, uint8_t *c, \
                                 float *scales, qk_lanes *l, size_t *pending, qk_flush f, void *x, int *status) { \
        return symmetric_runs_loop(element, float16_quotient, signed_codes, p, s, length, count, c, scales, l, pending, f, x, status); \
    }
QK_SYMMETRIC_RUNS(symmetric_runs16, QK_FLOAT16, 0, 0)
QK_SYMMETRIC_RUNS(symmetric_runs16r, QK_FLOAT16, 1, 0)
QK_SYMMETRIC_RUNS(symmetric_runs32, QK_FLOAT32, 0, 0)
QK_SYMMETRIC_RUNS(symmetric_runs32r, QK_FLOAT32, 1, 0)
QK_SYMMETRIC_RUNS(symmetric_runs16s, QK_FLOAT16, 0, 1)
QK_SYMMETRIC_RUNS(symmetric_runs16rs, QK_FLOAT16, 1, 1)
QK_SYMMETRIC_RUNS(symmetric_runs32s, QK_FLOAT32, 0, 1)
QK_SYMMETRIC_RUNS(symmetric_runs32rs, QK_FLOAT32, 1, 1)

size_t qk_quantize_symmetric_runs(const qk_symmetric_plan *plan, const void *source, size_t length, size_t count,
                                  uint8_t *codes, float *scales, qk_lanes *lanes, size_t *pending, qk_flush flush,
                                  void *context, int *status) {
    static size_t (*const kernels[8])(const qk_symmetric_plan *, const void *, size_t, size_t, uint8_t *, float *,
                                      qk_lanes *, size_t *, qk_flush, void *, int *) = {
        symmetric_runs16, symmetric_runs16r, symmetric_runs32, symmetric_runs32r,
        symmetric_runs16s, symmetric_runs16rs, symmetric_runs32s, symmetric_runs32rs,
    };
    int index = (plan->element == QK_FLOAT16 ? 0 : 2) + (plan->float16_quotient ? 1 : 0) + (plan->signed_codes ? 4 : 0);
    return kernels[index](plan, source, length, count, codes, scales, lanes, pending, flush, context, status);
}

#else

int qk_vector_kernels_available(void) { return 0; }
void qk_order_key_extremes(int element, const void *source, size_t count, int32_t *low, int32_t *high) {
    (void)element; (void)source; (void)count; (void)low; (void)high;
}
void qk_codes(int element, const void *source, size_t count, const qk_block *block, uint8_t *codes) {
    (void)element; (void)source; (void)count; (void)block; (void)codes;
}
size_t qk_quantize_symmetric_runs(const qk_symmetric_plan *plan, const void *source, size_t length, size_t count,
                                  uint8_t *codes, float *scales, qk_lanes *lanes, size_t *pending, qk_flush flush,
                                  void *context, int *status) {
    (void)plan; (void)source; (void)length; (void)count; (void)codes; (void)scales; (void)lanes; (void)pending;
    (void)flush; (void)context;
    *status = QK_RUN_OK;
    return 0;
}
void qk_measure(int element, const void *source, const uint8_t *codes, size_t count,
                float scale, float zero_point, int signed_codes, qk_lanes *lanes) {
    (void)element; (void)source; (void)codes; (void)count; (void)scale; (void)zero_point;
    (void)signed_codes; (void)lanes;
}

#endif

// Four tables in turn: equal neighbouring codes would otherwise store to one address back
// to back and serialise on it. Stops as soon as `possible` distinct codes are seen: real
// weights use every level of their range within a few thousand elements, so the scan of a
// large tensor is mostly skipped.
size_t qk_mark_codes(const uint8_t *codes, size_t count, uint8_t seen[256], size_t possible) {
    uint8_t tables[4][256] = {{0}};
    size_t distinct = 0, i = 0;
    while (i < count && distinct < possible) {
        size_t end = count - i > 8192 ? i + 8192 : count;
        for (; i + 4 <= end; i += 4) {
            tables[0][codes[i]] = 1;
            tables[1][codes[i + 1]] = 1;
            tables[2][codes[i + 2]] = 1;
            tables[3][codes[i + 3]] = 1;
        }
        for (; i < end; i++) tables[0][codes[i]] = 1;
        distinct = 0;
        for (int c = 0; c < 256; c++) distinct += tables[0][c] | tables[1][c] | tables[2][c] | tables[3][c];
    }
    for (int c = 0; c < 256; c++) seen[c] |= tables[0][c] | tables[1][c] | tables[2][c] | tables[3][c];
    return distinct;
}

void qk_populate_for_write(void *buffer, size_t count) {
    const uintptr_t page = 4096;
    uintptr_t start = ((uintptr_t)buffer + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)buffer + count) & ~(page - 1);
    // MADV_POPULATE_WRITE (Linux 5.14), which older headers do not name.
    if (end > start) (void)madvise((void *)start, end - start, 23);
}
