// ops::matmul against the dequantized rows for every weight type, and ops::matmul_shared_input
// (q, k, v or w1, w3 in one pass) against one ops::matmul per matrix: exactly the same, the
// same kernels on the same quantized activations, only fewer barriers; ops::matmul_batches (a
// layer's experts in one pass) against matmul_shared_input per batch, likewise.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include <cstring>

#include "format/panels.h"
#include "ops/gemm.h"
#include "ops/matmul.h"
#include "quant/formats/interleave.h"
#include "quant/formats/convert_row.h"
#include "quant/dequantize_bf16.h"
#include "quant/dequantize_f32.h"
#include "quant/gemm_int8.h"
#include "quant/formats/tensor_type.h"
#include "support/random_values.h"

using namespace smoe;

namespace {

// The plan these products run under: this CPU's best, or the environment's (the ctest variants).
const ops::CpuPlan& plan() { return ops::default_cpu_plan(); }
ops::CpuContext cpu(int threads) { return {plan(), threads}; }

struct StoredMatrix {
  std::vector<std::byte> bytes;
  format::TensorView view;
};

StoredMatrix random_matrix(quant::TensorType type, size_t rows, size_t columns, uint32_t seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> row(columns);
  const size_t row_bytes = *quant::row_bytes(type, columns);
  StoredMatrix m{std::vector<std::byte>(rows * row_bytes), {}};
  for (size_t r = 0; r < rows; ++r) {
    for (float& value : row) value = normal(generator);
    quant::quantize_row(type, row.data(), m.bytes.data() + r * row_bytes, columns);
  }
  m.view = {"m" + std::to_string(seed), type, {rows, columns}, 0, m.bytes.size(), 0, m.bytes.data()};
  return m;
}

// m stored in column panels of `width` columns, the writer's layout
// (convert/container_writer.cpp): panel p holds columns [p W, (p + 1) W) of every row, row after
// row.
StoredMatrix in_panels(const StoredMatrix& m, size_t width) {
  const size_t rows = m.view.shape[0], panels = m.view.shape[1] / width;
  const size_t row_bytes = m.bytes.size() / rows, piece = row_bytes / panels;
  StoredMatrix paneled{std::vector<std::byte>(m.bytes.size()), m.view};
  for (size_t p = 0; p < panels; ++p) {
    for (size_t r = 0; r < rows; ++r) {
      std::memcpy(&paneled.bytes[(p * rows + r) * piece], &m.bytes[r * row_bytes + p * piece], piece);
    }
  }
  paneled.view.data = paneled.bytes.data();
  paneled.view.panel_columns = width;
  return paneled;
}

// q4k or q8 matrix m (contiguous or in panels, rows in whole groups of 8) with its rows
// interleaved by eight (q4k_x8, q8_x8), the writer's layout: in each panel, each group's rows
// interleaved.
StoredMatrix interleaved(const StoredMatrix& m) {
  const size_t rows = m.view.shape[0], width = format::panel_width(m.view), panels = format::panel_count(m.view);
  const size_t piece = *quant::row_bytes(m.view.type, width);
  StoredMatrix out{std::vector<std::byte>(m.bytes.size()), m.view};
  out.view.type = *quant::interleaved_type(m.view.type);
  for (size_t p = 0; p < panels; ++p) {
    for (size_t g = 0; g < rows / 8; ++g) {
      const std::byte* group[8];
      for (size_t r = 0; r < 8; ++r) group[r] = format::panel_row(m.view, p, 8 * g + r);
      quant::interleave_rows(out.view.type, group, &out.bytes[(p * rows + 8 * g) * piece], width);
    }
  }
  out.view.data = out.bytes.data();
  return out;
}

// Checks y (tokens, rows) against m's dequantized rows times x (tokens, columns) in double,
// within `tolerance` of the sum of |products|; every `row_step`-th row.
void check_against_dequantized(const StoredMatrix& m, const std::vector<float>& x, size_t tokens, const float* y,
                               double tolerance, size_t row_step = 1) {
  const size_t rows = m.view.shape[0], columns = m.view.shape[1];
  std::vector<float> row(columns);
  for (size_t r = 0; r < rows; r += row_step) {
    quant::dequantize_row(m.view.type, m.bytes.data() + r * (m.bytes.size() / rows), row.data(), columns);
    for (size_t t = 0; t < tokens; ++t) {
      double exact = 0, magnitude = 0;
      for (size_t i = 0; i < columns; ++i) {
        exact += double(row[i]) * x[t * columns + i];
        magnitude += std::fabs(double(row[i]) * x[t * columns + i]);
      }
      INFO("row " << r << " token " << t);
      CHECK(std::fabs(y[t * rows + r] - exact) <= tolerance * magnitude);
    }
  }
}

}  // namespace

TEST_CASE("matrices sharing an input multiply as they do one by one", "[ops][matmul]") {
  const quant::TensorType type = GENERATE(quant::TensorType::q8, quant::TensorType::q4k, quant::TensorType::f16);
  const size_t tokens = GENERATE(size_t{1}, size_t{3}, ops::kGemmMinTokens);  // decode, small batch, gemm path
  const int threads = GENERATE(1, 2);
  INFO("type " << quant::type_name(type) << " tokens " << tokens << " threads " << threads);
  const size_t columns = 512;
  const StoredMatrix a = random_matrix(type, 96, columns, 1), b = random_matrix(type, 32, columns, 2),
                     c = random_matrix(type, 33, columns, 3);  // odd row counts split unevenly
  const std::vector<float> x = test::normal_values(tokens * columns, 1.0f, 9);

  std::vector<float> ya(tokens * 96), yb(tokens * 32), yc(tokens * 33);
  const ops::MatmulOutput outputs[] = {{&a.view, ya.data()}, {&b.view, yb.data()}, {&c.view, yc.data()}};
  ops::matmul_shared_input(outputs, x.data(), tokens, cpu(threads));
  for (const ops::MatmulOutput& output : outputs) {
    std::vector<float> expected(tokens * output.w->shape[0]);
    ops::matmul(*output.w, x.data(), tokens, expected.data(), cpu(threads));
    CHECK(std::equal(expected.begin(), expected.end(), output.y));
  }

  // Different types (or widths) fall back to one matmul each.
  const StoredMatrix other = random_matrix(type == quant::TensorType::q8 ? quant::TensorType::q4k : quant::TensorType::q8,
                                           16, columns, 4);
  std::vector<float> y_other(tokens * 16), expected_other(tokens * 16);
  const ops::MatmulOutput mixed[] = {{&a.view, ya.data()}, {&other.view, y_other.data()}};
  ops::matmul_shared_input(mixed, x.data(), tokens, cpu(threads));
  ops::matmul(other.view, x.data(), tokens, expected_other.data(), cpu(threads));
  CHECK(y_other == expected_other);
}

TEST_CASE("matmul multiplies every weight type as its dequantized rows do", "[ops][matmul]") {
  const quant::TensorType type =
      GENERATE(quant::TensorType::f32, quant::TensorType::f16, quant::TensorType::bf16, quant::TensorType::q8,
               quant::TensorType::q4, quant::TensorType::q4k, quant::TensorType::q6k, quant::TensorType::q3k);
  // decode, small batch, the largest small batch and this CPU's gemm threshold for the type (the
  // int8 one where it applies), oneDNN's threshold
  const size_t tokens = GENERATE_COPY(size_t{1}, size_t{3}, ops::gemm_min_tokens(type, plan()) - 1, ops::gemm_min_tokens(type, plan()),
                                      ops::kGemmMinTokens);
  const int threads = GENERATE(1, 2);
  INFO("type " << quant::type_name(type) << " tokens " << tokens << " threads " << threads);
  const size_t rows = 37, columns = 768;  // 3 super-blocks; 37 rows split unevenly
  const StoredMatrix m = random_matrix(type, rows, columns, 5);
  const std::vector<float> x = test::normal_values(tokens * columns, 1.0f, 11);
  std::vector<float> y(tokens * rows);
  ops::matmul(m.view, x.data(), tokens, y.data(), cpu(threads));

  // Float weights multiply f32 activations (summation order apart); quantized ones multiply
  // activations rounded to 8 bits (the gemm path: to 8 bits as well where prompts take the int8
  // path, else to bf16 or not at all). bf16 weights in the
  // gemm path on a CPU with native bf16 (ops/gemm_onednn.cpp's rule) multiply bf16 activations:
  // each rounded to 8 significant bits, off by at most 2^-8 of itself, plus the f32 sums.
  constexpr double kFloatTolerance = 1e-5, kBf16ActivationTolerance = 0x1p-8 + 1e-5, kQuantizedTolerance = 1e-2;
  const bool quantized = quant::type_traits(type).is_quantized;
  const bool bf16_activations =
      type == quant::TensorType::bf16 && tokens >= ops::kGemmMinTokens && plan().onednn_bf16;
  const double tolerance = quantized ? kQuantizedTolerance : bf16_activations ? kBf16ActivationTolerance : kFloatTolerance;
  check_against_dequantized(m, x, tokens, y.data(), tolerance);
}

TEST_CASE("matrices stored in column panels multiply and read back as their contiguous rows do",
          "[ops][matmul][panels]") {
  const quant::TensorType type = GENERATE(quant::TensorType::q8, quant::TensorType::q4, quant::TensorType::q4k,
                                          quant::TensorType::q6k, quant::TensorType::q3k);
  const size_t tokens = GENERATE(size_t{1}, size_t{3}, ops::kGemmMinTokens);  // decode, small batch, gemm path
  const int threads = GENERATE(1, 2, 3);
  INFO("type " << quant::type_name(type) << " tokens " << tokens << " threads " << threads);
  // Panels of 256 columns: 4 of them. 300 rows: one share per thread of 300, 150 and (at least
  // 128 rows each) 128 + 128 + 44; the 40-row matrix beside it one share on one thread.
  const size_t rows = 300, columns = 1024, width = 256;
  const StoredMatrix m = random_matrix(type, rows, columns, 21);
  REQUIRE(format::choose_panel_columns(type, columns, width) == width);
  const StoredMatrix paneled = in_panels(m, width);
  const format::TensorView& view = paneled.view;

  const std::vector<float> x = test::normal_values(tokens * columns, 1.0f, 12);
  std::vector<float> expected(tokens * rows), y(tokens * rows);
  ops::matmul(m.view, x.data(), tokens, expected.data(), cpu(threads));
  ops::matmul(view, x.data(), tokens, y.data(), cpu(threads));
  // The same products; the panels' partial sums are added in another order.
  for (size_t i = 0; i < y.size(); ++i) {
    INFO("output " << i);
    CHECK(y[i] == Approx(expected[i]).margin(1e-5).epsilon(1e-5));
  }
  // Sharing an input with a contiguous matrix of the same type and width.
  const StoredMatrix other = random_matrix(type, 40, columns, 22);
  std::vector<float> y_shared(tokens * rows), y_other(tokens * 40), expected_other(tokens * 40);
  const ops::MatmulOutput outputs[] = {{&view, y_shared.data()}, {&other.view, y_other.data()}};
  ops::matmul_shared_input(outputs, x.data(), tokens, cpu(threads));
  ops::matmul(other.view, x.data(), tokens, expected_other.data(), cpu(threads));
  CHECK(y_shared == y);
  CHECK(y_other == expected_other);

  std::vector<float> row(columns), expected_row(columns);
  for (size_t r : {size_t{0}, size_t{137}, rows - 1}) {
    ops::read_row(view, r, row.data());
    ops::read_row(m.view, r, expected_row.data());
    CHECK(row == expected_row);
  }
}

TEST_CASE("q4k and q8 rows interleaved by eight multiply and read back as the plain rows do", "[ops][matmul][q4k_x8][q8_x8]") {
  const quant::TensorType type = GENERATE(quant::TensorType::q4k, quant::TensorType::q8);
  const bool paneled = GENERATE(false, true);
  // decode, small batch, around the plain rows' and the interleaved rows' gemm thresholds,
  // oneDNN's threshold
  const quant::TensorType x8_type = type == quant::TensorType::q4k ? quant::TensorType::q4k_x8 : quant::TensorType::q8_x8;
  const size_t tokens = GENERATE_COPY(size_t{1}, size_t{3}, ops::gemm_min_tokens(type, plan()) - 1, ops::gemm_min_tokens(type, plan()),
                                      ops::gemm_min_tokens(x8_type, plan()) - 1, ops::gemm_min_tokens(x8_type, plan()),
                                      ops::kGemmMinTokens);
  const int threads = GENERATE(1, 2, 3);
  INFO("type " << quant::type_name(type) << " paneled " << paneled << " tokens " << tokens << " threads " << threads);
  // 296 rows (37 groups): thread shares of paneled matrices rounded to whole groups (128, 128, 40
  // on three threads), groups split unevenly otherwise.
  const size_t rows = 296, columns = 1024;
  const StoredMatrix contiguous = random_matrix(type, rows, columns, 31);
  const StoredMatrix m = paneled ? in_panels(contiguous, 256) : contiguous;
  const StoredMatrix x8 = interleaved(m);
  REQUIRE(x8.view.type == x8_type);

  const std::vector<float> x = test::normal_values(tokens * columns, 1.0f, 13);
  std::vector<float> expected(tokens * rows), y(tokens * rows);
  // Between the two thresholds the interleaved rows still take the dot kernels: the plain rows
  // are made to as well.
  ops::CpuContext plain_context = cpu(threads);
  plain_context.rows_one_by_one = tokens < ops::gemm_min_tokens(x8_type, plan());
  ops::matmul(m.view, x.data(), tokens, expected.data(), plain_context);
  ops::matmul(x8.view, x.data(), tokens, y.data(), cpu(threads));
  // Decoding: the same integer products summed in another order; prompts: the same rows.
  for (size_t i = 0; i < y.size(); ++i) {
    INFO("output " << i);
    CHECK(y[i] == Approx(expected[i]).margin(1e-5).epsilon(1e-5));
  }
  // Sharing an input with another interleaved matrix (one loop over both).
  const StoredMatrix other = interleaved(random_matrix(type, 40, columns, 32));
  std::vector<float> y_shared(tokens * rows), y_other(tokens * 40), expected_other(tokens * 40);
  const ops::MatmulOutput outputs[] = {{&x8.view, y_shared.data()}, {&other.view, y_other.data()}};
  ops::matmul_shared_input(outputs, x.data(), tokens, cpu(threads));
  ops::matmul(other.view, x.data(), tokens, expected_other.data(), cpu(threads));
  CHECK(y_shared == y);
  CHECK(y_other == expected_other);

  std::vector<float> row(columns), expected_row(columns);
  for (size_t r : {size_t{0}, size_t{7}, size_t{137}, rows - 1}) {
    ops::read_row(x8.view, r, row.data());
    ops::read_row(m.view, r, expected_row.data());
    CHECK(row == expected_row);
  }
}

TEST_CASE("the converter's panel widths divide the row into whole blocks", "[panels]") {
  using quant::TensorType;
  CHECK(format::choose_panel_columns(TensorType::q4k, 14336, 4096) == 3584);  // Mixtral 8x7B's w2: 4 panels
  CHECK(format::choose_panel_columns(TensorType::q8, 14336, 4096) == 3584);
  CHECK(format::choose_panel_columns(TensorType::q4k, 16384, 4096) == 4096);  // 8x22B's w2
  CHECK(format::choose_panel_columns(TensorType::q4k, 6144, 4096) == 3072);   // 8x22B's w1, w3
  CHECK(format::choose_panel_columns(TensorType::q4k, 4096, 4096) == 0);      // fits one panel
  CHECK(format::choose_panel_columns(TensorType::q4k, 256 * 17, 4096) == 0);  // 17 blocks: no divisor >= 1024 columns
  CHECK(format::choose_panel_columns(TensorType::f16, 14336, 4096) == 0);     // float kernels take whole rows
  CHECK(format::choose_panel_columns(TensorType::q4k, 14336, 0) == 0);        // --panel-columns 0
}

TEST_CASE("int8 prompt products of q8 weights are the decode path's integer products", "[ops][matmul][int8]") {
  // Blocks of 32 give q8 weights back exactly (the block's largest |value| is 127 steps), and
  // the activations are quantized as q8a's: the prompt path and the decode path's dot kernels
  // then sum the same integer products, in another order.
  if (!(plan().int8_prompt != nullptr)) {
    WARN("prompts do not take the int8 path here (no AVX2, AVX-512 without VNNI, or forced off)");
    return;
  }
  const int threads = GENERATE(1, 2);
  const size_t rows = 61, columns = 640, tokens = 37;  // 6 tiles with a short one; 3 token groups
  const StoredMatrix m = random_matrix(quant::TensorType::q8, rows, columns, 21);
  const std::vector<float> x = test::normal_values(tokens * columns, 1.0f, 22);
  std::vector<float> prompt(tokens * rows), decode(rows);
  ops::gemm_int8(m.view, x.data(), tokens, prompt.data(), cpu(threads));
  for (size_t t = 0; t < tokens; ++t) {
    ops::matmul(m.view, &x[t * columns], 1, decode.data(), cpu(threads));
    for (size_t r = 0; r < rows; ++r) {
      INFO("token " << t << " row " << r);
      CHECK(prompt[t * rows + r] == Approx(decode[r]).epsilon(1e-5).margin(1e-5));
    }
  }
}

TEST_CASE("int8 prompt products read wide column panels strip by strip as contiguous rows",
          "[ops][matmul][int8][panels]") {
  // 14336 columns in panels of 3584 (Mixtral 8x7B's w2): each panel piece is decoded in strips
  // of 1024 columns, the last one 512, each at its byte offset and its blocks' scales.
  if (!(plan().int8_prompt != nullptr)) {
    WARN("prompts do not take the int8 path here (no AVX2, AVX-512 without VNNI, or forced off)");
    return;
  }
  const quant::TensorType type = GENERATE(quant::TensorType::q8, quant::TensorType::q4k);
  const int threads = GENERATE(1, 2);
  INFO("type " << quant::type_name(type) << " threads " << threads);
  const size_t rows = 50, columns = 14336, width = 3584, tokens = 17;
  const StoredMatrix m = random_matrix(type, rows, columns, 31);
  const StoredMatrix paneled = in_panels(m, width);
  const format::TensorView& view = paneled.view;
  const std::vector<float> x = test::normal_values(tokens * columns, 1.0f, 32);
  std::vector<float> expected(tokens * rows), y(tokens * rows);
  ops::gemm_int8(m.view, x.data(), tokens, expected.data(), cpu(threads));
  ops::gemm_int8(view, x.data(), tokens, y.data(), cpu(threads));
  CHECK(y == expected);  // the same bytes requantized the same way: the same products
  // And the contiguous ones against the dequantized rows (the requantization's error bound).
  check_against_dequantized(m, x, tokens, expected.data(), 1e-2, 7);
}

TEST_CASE("the fast f32 row decoders give dequantize_row's values", "[quant][int8]") {
  const quant::TensorType type =
      GENERATE(quant::TensorType::q8, quant::TensorType::q4k, quant::TensorType::q6k, quant::TensorType::q3k);
  const size_t columns = 2048;
  const StoredMatrix m = random_matrix(type, 3, columns, 41);
  std::vector<float> expected(columns), actual(columns);
  for (size_t r = 0; r < 3; ++r) {
    const std::byte* stored = m.bytes.data() + r * (m.bytes.size() / 3);
    quant::dequantize_row(type, stored, expected.data(), columns);
    for (const quant::Kernels* table : quant::available_kernels()) {
      INFO("kernels " << quant::kernels_name(*table));
      std::fill(actual.begin(), actual.end(), 0.0f);
      table->for_type(type).to_f32(stored, actual.data(), columns);
      CHECK(std::memcmp(expected.data(), actual.data(), columns * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("independent batches multiplied together give each batch's products alone", "[ops][matmul][batches]") {
  const int threads = GENERATE(1, 2, 3);
  const bool one_by_one = GENERATE(false, true);
  INFO("threads " << threads << " rows one by one " << one_by_one);
  ops::CpuContext context = cpu(threads);
  context.rows_one_by_one = one_by_one;
  const size_t columns = 512;
  // Experts of one layer as the converter writes them (interleaved rows, some in panels), and
  // plain, q8 and f16 matrices; 296 and 40 rows split into ranges unevenly.
  const StoredMatrix a = interleaved(random_matrix(quant::TensorType::q4k, 296, columns, 41));
  const StoredMatrix b = interleaved(random_matrix(quant::TensorType::q4k, 40, columns, 42));
  const StoredMatrix c = interleaved(in_panels(random_matrix(quant::TensorType::q4k, 296, columns, 43), 256));
  const StoredMatrix d = interleaved(random_matrix(quant::TensorType::q8, 104, columns, 44));
  const StoredMatrix e = random_matrix(quant::TensorType::q4k, 33, columns, 45);
  // f16 in ranges of several groups of 16 rows (200 rows: ranges of 64 rows on one thread, of 32
  // on two or three, the last one shorter).
  const StoredMatrix f = random_matrix(quant::TensorType::f16, 200, columns, 46);
  // Token counts from one to past the gemm threshold (which, unless rows go one by one, takes
  // matmul_shared_input's other paths).
  const size_t gemm_tokens = ops::gemm_min_tokens(quant::TensorType::q4k, plan());
  struct Case {
    std::vector<const StoredMatrix*> matrices;
    size_t tokens;
  };
  const std::vector<Case> cases = {{{&a, &b}, 3}, {{&c}, 1},     {{&d}, 5},           {{&e}, 2},
                                   {{&f}, 4},     {{&a, &b}, 1}, {{&e}, gemm_tokens}, {{&b}, 8}};
  std::vector<std::vector<float>> inputs, y, expected;
  std::vector<std::vector<ops::MatmulOutput>> outputs, expected_outputs;
  for (size_t i = 0; i < cases.size(); ++i) {
    inputs.push_back(test::normal_values(cases[i].tokens * columns, 1.0f, uint32_t(50 + i)));
    outputs.emplace_back();
    expected_outputs.emplace_back();
    for (const StoredMatrix* m : cases[i].matrices) {
      y.emplace_back(cases[i].tokens * m->view.shape[0], -1.0f);
      expected.emplace_back(cases[i].tokens * m->view.shape[0], -2.0f);
    }
  }
  size_t next = 0;
  std::vector<ops::MatmulBatch> batches;
  for (size_t i = 0; i < cases.size(); ++i) {
    for (const StoredMatrix* m : cases[i].matrices) {
      outputs[i].push_back({&m->view, y[next].data()});
      expected_outputs[i].push_back({&m->view, expected[next].data()});
      ++next;
    }
  }
  for (size_t i = 0; i < cases.size(); ++i) batches.push_back({outputs[i], inputs[i].data(), cases[i].tokens});
  ops::matmul_batches(batches, context);
  for (size_t i = 0; i < cases.size(); ++i) {
    ops::matmul_shared_input(expected_outputs[i], inputs[i].data(), cases[i].tokens, context);
  }
  for (size_t i = 0; i < y.size(); ++i) {
    INFO("output " << i);
    CHECK(y[i] == expected[i]);
  }
}
