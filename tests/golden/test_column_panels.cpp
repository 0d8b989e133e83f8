// Column panels end to end (format/panels.h): the converter writes wide quantized matrices
// panel by panel into a version-2 file, the reader takes them back as matrices of the same
// shape, and the model computes what the contiguous file computes. The tiny model's matrices
// are 128 and 256 columns wide, so panels of 64 columns stand in for Mixtral's 14336 / 3584.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>

#include "format/container.h"
#include "smoe/model.h"
#include "smoe/session.h"
#include "support/reference.h"

using namespace smoe;

TEST_CASE("a model converted in column panels computes what the contiguous one does", "[golden][convert][panels]") {
  // q8: 32-weight blocks, so the tiny model's 128- and 256-column rows split into 64-column panels.
  const std::string& paneled_path = test::tiny_container_in_panels("q8", 64);
  const format::Container paneled = format::Container::open(paneled_path);
  const format::Container contiguous = format::Container::open(test::tiny_container("q8"));
  CHECK(paneled.header().version == 2);
  CHECK(contiguous.header().version == 1);    // no panels: older readers still read it
  CHECK(paneled.failed_checksums().empty());  // checksums of the bytes as stored
  // Every matrix has the contiguous file's shape; the q8 ones come in panels.
  for (const format::TensorView& tensor : contiguous.tensors()) {
    const format::TensorView& other = paneled.require(tensor.name);
    INFO(tensor.name);
    CHECK(other.shape == tensor.shape);
    CHECK(other.bytes == tensor.bytes);
    CHECK(tensor.panel_columns == 0);
    CHECK(other.panel_columns == (tensor.type == quant::TensorType::q8 ? 64u : 0u));
  }
  CHECK(paneled.require("layers.0.experts.0.w2").panel_columns == 64);  // 256 columns: 4 panels

  // The same integer products, their per-panel float sums added in another order, so not
  // bitwise the same logits: a last-bit change can move an 8-bit activation by one step. The
  // prompts (batches under ops::kGemmMinTokens) take the decode kernels. Measured: mean
  // |difference| 0.002 (logits span tens); switching kernels (SMOE_ISA=avx2 against avx512) on
  // the contiguous file moves its perplexity in 16-token windows as much as the panels do (4e-5
  // and 2e-5 relative). A panel read against the wrong activations is off by whole units.
  const auto a = test::load_for_comparison(test::tiny_container("q8")), b = test::load_for_comparison(paneled_path);
  const test::LogitAgreement agreement = test::compare_logits(*a, *b);
  INFO("mean |difference| " << agreement.mean_difference << ", same top token " << agreement.same_top_token);
  CHECK(agreement.mean_difference <= 0.02);
  CHECK(agreement.same_top_token >= 0.95);
  // ... and the 256-token perplexity windows the prompt-time matrix products.
  const double reference_ppl = std::exp(double(test::tiny_reference().json["perplexity"]["mean_nll"]));
  const double contiguous_ppl = std::exp(test::mean_nll(*a)), paneled_ppl = std::exp(test::mean_nll(*b));
  INFO("perplexity: transformers " << reference_ppl << ", q8 " << contiguous_ppl << ", q8 in panels " << paneled_ppl);
  CHECK(std::fabs(paneled_ppl / contiguous_ppl - 1) <= 2e-4);
  CHECK(std::fabs(paneled_ppl / reference_ppl - 1) <= 0.005);
}

TEST_CASE("float matrices keep contiguous rows whatever the panel width", "[golden][convert][panels]") {
  const format::Container f32 = format::Container::open(test::tiny_container_in_panels("f32", 64));
  CHECK(f32.header().version == 1);
  for (const format::TensorView& tensor : f32.tensors()) CHECK(tensor.panel_columns == 0);
}
