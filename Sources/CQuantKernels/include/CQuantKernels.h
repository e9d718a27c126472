// Vector kernels for the linear quantizer's hot loops, for x86-64 CPUs with AVX2, F16C and FMA.
//
// Swift on Linux targets baseline x86-64 (SSE2) and has no per-function target attribute, so
// these loops are compiled for AVX2 here and chosen at run time: callers check
// `qk_vector_kernels_available()` once and keep their portable Swift loops otherwise. Every
// kernel computes exactly what the Swift loop it replaces computes, lane for lane.
#ifndef CQUANTKERNELS_H
#define CQUANTKERNELS_H
#include <stddef.h>
#include <stdint.h>

// Element encodings of the source weights (little-endian).
#define QK_FLOAT16 0
#define QK_FLOAT32 1

// Nonzero when this CPU runs the kernels below; they must not be called otherwise.
int qk_vector_kernels_available(void);

// Lowers *low and raises *high to the smallest and largest order keys of `count` elements:
// integers that order like the values (negative floats' magnitude bits flipped).
void qk_order_key_extremes(int element, const void *source, size_t count, int32_t *low, int32_t *high);

// One block's quantization: code = clamp(round_half_even(R(w / scale)), lower, upper) + zero_point,
// stored as its low byte. R rounds the quotient to float16 precision when `float16_quotient`.
typedef struct {
    float scale;
    int32_t lower;
    int32_t upper;
    int32_t zero_point;
    int32_t float16_quotient;
} qk_block;

// Codes of the first `count` elements (a multiple of 8).
void qk_codes(int element, const void *source, size_t count, const qk_block *block, uint8_t *codes);

// Eight-lane float sums of original and reconstructed weights, as the error metrics keep them.
typedef struct {
    float signal[8], noise[8], dot[8], energy[8], max_square[8], zeros[8];
} qk_lanes;

// Adds the first `count` elements (a multiple of 8) of one block into `lanes`: reconstructed
// r = (code − zero_point)·scale, codes read as int8 when `signed_codes`, else uint8.
void qk_measure(int element, const void *source, const uint8_t *codes, size_t count,
                float scale, float zero_point, int signed_codes, qk_lanes *lanes);

// A symmetric linear quantization done run by run in one pass (see qk_quantize_symmetric_runs).
typedef struct {
    int32_t element;           // QK_FLOAT16 or QK_FLOAT32: the weights' encoding
    int32_t scale_float16;     // the scale's arithmetic is rounded to float16 (else float32)
    int32_t float16_quotient;  // as qk_block's
    int32_t signed_codes;      // codes are int8 (else uint8)
    float qmin, qmax;          // the quantized range
    int32_t zero_point;        // the fixed zero point of symmetric modes
} qk_symmetric_plan;

#define QK_RUN_OK 0
#define QK_RUN_NON_FINITE 1
#define QK_RUN_SCALE_OVERFLOW 2

// Takes the lanes' sums (and leaves `lanes` to be zeroed by the caller).
typedef void (*qk_flush)(qk_lanes *lanes, void *context);

// Quantizes `count` consecutive runs of `length` contiguous elements (a multiple of 8), each
// run one block: its extremes, scale = R(R(2·max|w|) / (qmax − qmin)) (R rounds to the scale
// type; a zero scale is stored as 1 with every code at the zero point), its codes as qk_codes
// writes them, and, when `lanes` is not NULL, its error as qk_measure adds it, in stretches of
// at most 1024 elements per run: `*pending` counts the elements added since the last flush,
// and after a stretch that brings it to 1024 the lanes go to `flush(lanes, context)` and
// start again from zero. `scales[k]` receives run k's scale. Returns how many runs it
// finished: all, or, at the first run whose extremes are not finite or whose scale overflows,
// that run's index (`*status` says which; nothing of that run or later is written).
size_t qk_quantize_symmetric_runs(const qk_symmetric_plan *plan, const void *source, size_t length, size_t count,
                                  uint8_t *codes, float *scales, qk_lanes *lanes, size_t *pending, qk_flush flush,
                                  void *context, int *status);

// Sets seen[c] = 1 for every byte c among `count` codes, stopping early once `possible`
// distinct codes are seen (no more can be); returns how many distinct codes it saw.
size_t qk_mark_codes(const uint8_t *codes, size_t count, uint8_t seen[256], size_t possible);

// Maps the whole pages inside `count` bytes of a fresh, untouched buffer now, in one call
// (MADV_POPULATE_WRITE), instead of a page fault at each 4 KiB the kernels first write:
// measured here on 25 MB of codes, faulting cost ~15 ms and populating ~8 ms. Each thread
// populates the part it is about to write, so populating runs on all cores. (2 MiB pages were
// cheaper when they came at once, but their first allocation stalled for up to ~120 ms on
// compaction.) Only a hint: kernels before Linux 5.14 ignore it and fault as before.
void qk_populate_for_write(void *buffer, size_t count);

#endif
