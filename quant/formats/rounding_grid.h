// The grid a fitted block rounds each of its weights to, for quantizers that choose the levels
// themselves once a block's scales are fixed (quant/gptq_rounding.h). A weight w of the block
// gets the level q = clamp(nearbyint((w + shift) x inverse), lowest, highest) of its format and
// decodes to step x q - shift, as the format's own rounding does.
#pragma once

namespace smoe::quant {

struct RoundingGrid {
  float step;     // decoded distance between two levels (0 for a sub-block whose scale is 0)
  float inverse;  // 1 / step, or 0 where step is 0 (every weight then takes level 0)
  float shift;    // minus the value of level 0
};

}  // namespace smoe::quant
