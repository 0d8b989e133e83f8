// The AVX2 (with F16C) build of x86/row_as_int8.h, named by the avx2 and avx2-vnni int8 tables'
// rows (which exist only on CPUs that have the instructions).
#include "quant/gemm_int8.h"
#include "quant/x86/row_as_int8.h"

namespace smoe::quant {

void avx2_q4_row_as_int8(const void* blocks, size_t n, uint8_t* q, float* scales) {
  q4_row_as_int8(blocks, n, q, scales);
}
void avx2_q4k_row_as_int8(const void* blocks, size_t n, uint8_t* q, float* scales) {
  q4k_row_as_int8(blocks, n, q, scales);
}
void avx2_q6k_row_as_int8(const void* blocks, size_t n, uint8_t* q, float* scales) {
  q6k_row_as_int8(blocks, n, q, scales);
}
void avx2_q3k_row_as_int8(const void* blocks, size_t n, uint8_t* q, float* scales) {
  q3k_row_as_int8(blocks, n, q, scales);
}

}  // namespace smoe::quant
