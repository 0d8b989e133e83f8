// Accumulation of per-input covariance blocks, and GPTQ's factors from them.
#include "convert/input_covariance.h"

#include "ops/gram.h"
#include "quant/gptq_rounding.h"
#include "smoe/error.h"

namespace smoe::convert {
namespace {

constexpr double kDampening = 0.01;  // GPTQ's: 1% of the mean diagonal

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace

std::string covariance_site(std::string_view weight_name) {
  if (ends_with(weight_name, ".router")) return {};
  std::string site(weight_name);
  if (ends_with(site, ".attn.k") || ends_with(site, ".attn.v")) site.back() = 'q';
  if (ends_with(site, ".w3")) site.back() = '1';
  return site;
}

size_t InputCovariance::block_columns(size_t columns) {
  if (columns == 0) return 0;
  if (columns <= kBlockColumns) return columns;
  return columns % kBlockColumns == 0 ? kBlockColumns : 0;
}

void InputCovariance::add(std::string_view weight_name, const float* x, size_t rows, size_t columns) {
  const std::string site_name = covariance_site(weight_name);
  if (site_name.empty() || site_name != weight_name) return;  // the router, or an input another weight adds
  const size_t block = block_columns(columns);
  if (block == 0) return;
  Site& site = sites_[site_name];
  if (site.sums.empty()) {
    site.columns = columns;
    site.block_columns = block;
    site.sums.assign(columns * block, 0.0f);
  } else if (site.columns != columns) {
    throw Error(std::string(weight_name), "calibration input width changed from " + std::to_string(site.columns) +
                                              " to " + std::to_string(columns));
  }
  ops::add_gram_blocks(x, rows, columns, block, site.sums.data(), site_name.c_str());
  site.tokens += rows;
}

const InputCovariance::Site* InputCovariance::find(std::string_view weight_name) const {
  const std::string site_name = covariance_site(weight_name);
  if (site_name.empty()) return nullptr;
  const auto found = sites_.find(site_name);
  return found == sites_.end() ? nullptr : &found->second;
}

uint64_t InputCovariance::bytes() const {
  uint64_t total = 0;
  for (const auto& [name, site] : sites_) total += site.sums.size() * sizeof(float);
  return total;
}

std::vector<float> gptq_factors(const InputCovariance::Site& site) {
  const size_t block = site.block_columns;
  if (block == 0 || site.tokens < block) return {};
  const size_t blocks = site.columns / block;
  std::vector<float> factors(site.columns * block);
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t b = 0; b < blocks; ++b) {
    float* factor = factors.data() + b * block * block;
    if (!quant::gptq_inverse_factor(site.sums.data() + b * block * block, block, kDampening, factor)) {
      for (size_t i = 0; i < block; ++i) {
        for (size_t j = 0; j < block; ++j) factor[i * block + j] = i == j ? 1.0f : 0.0f;
      }
    }
  }
  return factors;
}

}  // namespace smoe::convert
