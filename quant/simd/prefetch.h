// Software prefetch for the kernels that stream weights or cached rows from DRAM, written with
// the compiler's builtin so that one body serves every architecture (x86: prefetcht0 / t1;
// AArch64: prfm pldl1keep / pldl2keep).
#pragma once

#include <cstddef>

#include "quant/kernels.h"

namespace smoe::quant {
namespace {  // every including file gets its own copy, compiled with its own flags

// Software prefetch of weight bytes this far ahead of the current block, into L1, and further
// ahead into L2. Decoding streams each weight once from DRAM; the hardware prefetchers restart
// at every 4 KiB page boundary. Asking ~2 KiB ahead measured 1.65x faster q4k decode on one
// Intel core; the L2 request 4 KiB ahead adds a little more, since more lines are then on
// their way than L1's fill buffers alone let the first prefetch have (docs/PERFORMANCE.md).
// Where the hardware prefetchers keep up (Zen 4) the same requests made decode slower (the
// Prefetch::hardware variant, kernels.h). Prefetching past the end of a row is harmless (no
// faults).
inline constexpr size_t kPrefetchBytes = 2048;
inline constexpr size_t kPrefetchL2Bytes = 4096;

// The cache line at p into L1 (locality 3) or L2 (locality 2).
inline void prefetch_l1(const void* p) { __builtin_prefetch(p, 0, 3); }
inline void prefetch_l2(const void* p) { __builtin_prefetch(p, 0, 2); }

// Prefetches the `lines` cache lines at `p` + kPrefetchBytes into L1, and at `p` +
// kPrefetchL2Bytes into L2; only the L2 requests in the Prefetch::l2_only variant, nothing in
// the Prefetch::hardware one.
template <Prefetch P>
inline void prefetch_ahead(const void* p, int lines) {
  if constexpr (P == Prefetch::hardware) return;
  for (int line = 0; line < lines; ++line) {
    if constexpr (P == Prefetch::software) prefetch_l1(static_cast<const char*>(p) + kPrefetchBytes + 64 * line);
    prefetch_l2(static_cast<const char*>(p) + kPrefetchL2Bytes + 64 * line);
  }
}

}  // namespace
}  // namespace smoe::quant
