// The AVX-512 (F/BW/VL with F16C) build of x86/row_as_int8.h, named by the avx512-vnni int8
// table's rows (which exist only on CPUs that have the instructions).
#include "quant/gemm_int8.h"
#include "quant/x86/row_as_int8.h"

namespace smoe::quant {

void avx512_q4_row_as_int8(const void* blocks, size_t n, uint8_t* q, float* scales) {
  q4_row_as_int8(blocks, n, q, scales);
}
void avx512_q4k_row_as_int8(const void* blocks, size_t n, uint8_t* q, float* scales) {
  q4k_row_as_int8(blocks, n, q, scales);
}
void avx512_q6k_row_as_int8(const void* blocks, size_t n, uint8_t* q, float* scales) {
  q6k_row_as_int8(blocks, n, q, scales);
}
void avx512_q3k_row_as_int8(const void* blocks, size_t n, uint8_t* q, float* scales) {
  q3k_row_as_int8(blocks, n, q, scales);
}

}  // namespace smoe::quant
