// Second-order calibration statistics for GPTQ rounding (quant/gptq_rounding.h): for the input
// of each weight matrix (each expert's own), H = sum over the tokens it multiplied of x x^T,
// kept as diagonal blocks of 256 columns (one k-quant super-block).
//
// Why blocks: a full H of Mixtral 8x7B's w2 input (14336 columns) is 822 MB in f32, and the
// converter would need 256 of them (32 layers x 8 experts) at once, since every calibration
// token passes through every layer. In blocks of 256 an input costs 1 KiB per column: 4 MiB
// for a 4096-wide input, 14 MiB for a w2, 4.75 GiB for all of Mixtral 8x7B's (k, v and w3 share
// q's and w1's input, so those are kept once). GPTQ then spreads each rounding error over the
// rest of its super-block only, which is where a k-quant's error is decided: the super-block's
// scales are fitted together, and the cost of rounding a row stays linear in its length (256 / 2
// multiply-adds per weight) where a full H would make it quadratic. An input narrower than 256
// columns (mixtral-tiny's 128) is one block; wider ones that 256 does not divide are not gathered.
//
// Kept in memory only: `calibrate`'s importance matrix files hold the diagonal alone.
// Not thread-safe: one observer adds at a time.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace smoe::convert {

class InputCovariance {
 public:
  static constexpr size_t kBlockColumns = 256;

  struct Site {
    uint64_t tokens = 0;      // rows of x accumulated
    size_t columns = 0;       // input width
    size_t block_columns = 0;  // width of one diagonal block
    // (columns / block_columns) blocks of (block_columns, block_columns), row-major: sums of
    // x_i x_j over the tokens (both triangles; the rounding reads the upper one).
    std::vector<float> sums;
  };

  // Width of the diagonal blocks for an input of `columns`: 256 when it divides them, all of
  // them when fewer, 0 (not gathered) otherwise.
  static size_t block_columns(size_t columns);

  // The input x (rows, columns) that weight `weight_name` multiplied, added to its input's site.
  // Weights whose input is another's (attn.k, attn.v: attn.q's; an expert's w3: its w1's) and
  // the router (kept in f32) are skipped.
  void add(std::string_view weight_name, const float* x, size_t rows, size_t columns);

  // The statistics of the input of `weight_name`, or nullptr when none were gathered.
  const Site* find(std::string_view weight_name) const;

  uint64_t bytes() const;

 private:
  std::map<std::string, Site, std::less<>> sites_;
};

// The site whose input `weight_name` multiplies ("" for the router: not gathered).
std::string covariance_site(std::string_view weight_name);

// GPTQ's factors of a site (gptq_inverse_factor per block, the block's columns wide), or empty
// when the site saw fewer tokens than a block has columns: so few tokens pin down too few
// directions of the input for error propagation to be trusted, and nearest rounding is kept.
// A block whose H cannot be factored gets the identity (nearest rounding on its scales).
std::vector<float> gptq_factors(const InputCovariance::Site& site);

}  // namespace smoe::convert
