// The CPU plan: the one decision of which kernels run, from the CPU's features and the
// overrides (ModelOptions fields, the environment as fallback).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <optional>
#include <string>

#include "ops/cpu_plan.h"
#include "quant/cpu_features.h"
#include "quant/kernels.h"
#include "smoe/error.h"
#include "smoe/model.h"
#include "support/reference.h"
#include "support/scoped_environment.h"

using namespace smoe;
using quant::Isa;

namespace {

// The best level available_kernels() has: the last table.
Isa best_level() { return quant::available_kernels().back()->isa; }

}  // namespace

TEST_CASE("override names parse, and unknown ones are refused naming the accepted ones", "[cpu_plan]") {
  CHECK(ops::parse_isa_override("") == std::nullopt);
  CHECK(ops::parse_isa_override("avx2-vnni") == Isa::avx2_vnni);
  CHECK(ops::parse_isa_override("neon-dotprod") == Isa::neon_dotprod);
  CHECK_THROWS_WITH(ops::parse_isa_override("avx3"), Catch::Contains("avx3") && Catch::Contains("avx512-vnni"));
  CHECK(ops::parse_prefetch_override("software") == quant::Prefetch::software);
  CHECK_THROWS_WITH(ops::parse_prefetch_override("soft"), Catch::Contains("software or hardware"));
  CHECK(ops::parse_prompt_override("bf16") == ops::PromptPath::onednn);
  CHECK(ops::parse_prompt_override("amx") == ops::PromptPath::automatic);
  CHECK_THROWS(ops::parse_prompt_override("fp8"));
  for (const Isa isa : {Isa::scalar, Isa::avx2, Isa::avx2_vnni, Isa::avx512, Isa::avx512_vnni, Isa::neon}) {
    CHECK(quant::parse_isa(quant::isa_name(isa)) == isa);
  }
}

TEST_CASE("without overrides the plan takes the CPU's best level in its preferred prefetch variant", "[cpu_plan]") {
  const quant::CpuFeatures& cpu = quant::cpu_features();
  const ops::CpuPlan plan = ops::make_cpu_plan(cpu);
  CHECK(plan.isa == best_level());
  CHECK(plan.kernels->isa == plan.isa);
  if (quant::isa_at_least(plan.isa, Isa::avx2)) CHECK(plan.prefetch() == quant::preferred_prefetch(cpu));
  // int8 prompt kernels exist for the VNNI levels and plain AVX2, not for scalar or avx512.
  const bool int8_level = plan.isa == Isa::avx2 || plan.isa == Isa::avx2_vnni || plan.isa == Isa::avx512_vnni;
  CHECK((plan.int8_prompt != nullptr) == (int8_level && !(cpu.amx_bf16 && !cpu.amx_int8)));
}

TEST_CASE("a lower level changes every kernel family together", "[cpu_plan]") {
  const ops::CpuPlan scalar = ops::make_cpu_plan(quant::cpu_features(), {.isa = Isa::scalar});
  CHECK(scalar.kernels == &quant::scalar_kernels());
  CHECK(scalar.int8_prompt == nullptr);
  CHECK_FALSE(scalar.onednn_bf16);
  CHECK(scalar.elementwise.softmax == ops::elementwise_kernels(Isa::scalar).softmax);
  CHECK(scalar.prompt_products() == "f32 (oneDNN)");
  CHECK(scalar.kernels_name() == "scalar");
  if (quant::cpu_runs(Isa::avx2, quant::cpu_features())) {
    const ops::CpuPlan avx2 = ops::make_cpu_plan(quant::cpu_features(), {.isa = Isa::avx2});
    CHECK(avx2.kernels->isa == Isa::avx2);
    REQUIRE(avx2.int8_prompt != nullptr);
    CHECK(avx2.int8_prompt->isa == Isa::avx2);
    CHECK_FALSE(avx2.int8_prompt->amx);
    CHECK(avx2.prompt_products() == "int8 (avx2)");
    CHECK_FALSE(avx2.onednn_bf16);  // bf16 products are an AVX-512 level's
    CHECK(avx2.elementwise.silu_mul == ops::elementwise_kernels(Isa::avx2).silu_mul);
    CHECK(avx2.elementwise.silu_mul != scalar.elementwise.silu_mul);
  }
}

TEST_CASE("prefetch and prompt overrides", "[cpu_plan]") {
  const quant::CpuFeatures& cpu = quant::cpu_features();
  for (const quant::Prefetch prefetch : {quant::Prefetch::software, quant::Prefetch::hardware}) {
    const ops::CpuPlan plan = ops::make_cpu_plan(cpu, {.prefetch = prefetch});
    if (quant::isa_at_least(plan.isa, Isa::avx2)) CHECK(plan.prefetch() == prefetch);
  }
  const ops::CpuPlan onednn = ops::make_cpu_plan(cpu, {.prompt = ops::PromptPath::onednn});
  CHECK(onednn.int8_prompt == nullptr);
  CHECK(onednn.prompt_products().find("oneDNN") != std::string::npos);
  const ops::CpuPlan int8 = ops::make_cpu_plan(cpu, {.prompt = ops::PromptPath::int8});
  if (int8.int8_prompt != nullptr) CHECK_FALSE(int8.int8_prompt->amx);
}

TEST_CASE("a level this CPU lacks is refused by name", "[cpu_plan]") {
  for (const Isa isa : {Isa::avx2, Isa::avx2_vnni, Isa::avx512, Isa::avx512_vnni, Isa::neon, Isa::neon_dotprod}) {
    if (quant::cpu_runs(isa, quant::cpu_features())) continue;
    INFO(isa);
    CHECK_THROWS_WITH(ops::make_cpu_plan(quant::cpu_features(), {.isa = isa}),
                      Catch::Contains(std::string(quant::isa_name(isa))));
  }
}

TEST_CASE("the environment is the fallback: read in one place, bad values ignored", "[cpu_plan]") {
  {
    const test::ScopedEnvironment isa("SMOE_ISA", "scalar"), prefetch("SMOE_PREFETCH", "software"),
        prompt("SMOE_PROMPT", "bf16");
    const ops::CpuOverrides overrides = ops::cpu_overrides_from_environment();
    CHECK(overrides.isa == Isa::scalar);
    CHECK(overrides.prefetch == quant::Prefetch::software);
    CHECK(overrides.prompt == ops::PromptPath::onednn);
    // Fields given (ModelOptions') win over the environment's.
    const ops::CpuOverrides merged = ops::merge({.isa = best_level()}, overrides);
    CHECK(merged.isa == best_level());
    CHECK(merged.prompt == ops::PromptPath::onednn);
  }
  {
    const test::ScopedEnvironment isa("SMOE_ISA", "no-such-isa"), prefetch("SMOE_PREFETCH", nullptr),
        prompt("SMOE_PROMPT", "nonsense");
    const ops::CpuOverrides overrides = ops::cpu_overrides_from_environment();
    CHECK_FALSE(overrides.isa);
    CHECK_FALSE(overrides.prefetch);
    CHECK_FALSE(overrides.prompt);
  }
}

TEST_CASE("ModelOptions choose the kernels, and a bad choice is an error naming the file", "[cpu_plan]") {
  const std::string path = test::tiny_container("q4");
  const test::ScopedEnvironment isa("SMOE_ISA", nullptr), prompt("SMOE_PROMPT", nullptr);
  ModelOptions options;
  options.isa = "scalar";
  options.prompt_products = "onednn";
  const auto model = Model::load(path, options);
  CHECK(model->info().kernels == "scalar");
  CHECK(model->info().prompt_products == "f32 (oneDNN)");
  options.isa = "avx3";
  CHECK_THROWS_WITH(Model::load(path, options), Catch::Contains(path) && Catch::Contains("avx3"));
}
