// smoe-convert: Mixtral checkpoints (Hugging Face, GGUF, Mistral's layout) -> .smoe
// containers; calibrate, synthesize, inspect and verify them.
//
//   smoe-convert DIR_OR_FILE -o OUT.smoe [--from hf|gguf|mistral] [--type T|keep] [--attn T] ...
//   smoe-convert inspect FILE.smoe [--json] [--tensors]
//   smoe-convert verify FILE.smoe
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <map>

#include "convert/calibrate.h"
#include "convert/calibrated_conversion.h"
#include "convert/convert_checkpoint.h"
#include "convert/inspect.h"
#include "convert/interrupt_cleanup.h"
#include "convert/plan.h"
#include "convert/synth.h"
#include "convert/release_files.h"
#include "format/container.h"
#include "smoe/error.h"
#include "smoe/version.h"

namespace {

using namespace smoe;

void print_calibration(const convert::CalibrationSummary& summary) {
  std::fprintf(stderr, "calibrated on %s (fewest tokens routed to one expert: %llu%s): q8 copy %.2f s, statistics %.2f s\n",
               summary.description.c_str(), static_cast<unsigned long long>(summary.min_expert_tokens),
               summary.min_expert_tokens == 0 ? ", so one is quantized without importance" : "", summary.copy_seconds,
               summary.statistics_seconds);
}

void print_tiers(const convert::ExpertTiersSummary& tiers) {
  if (tiers.hot_experts == tiers.experts) {
    std::fprintf(
        stderr, "expert tiers for %.2f GiB of memory: it holds all %u experts in %u slots of %.2f MiB: the auto plan\n",
        double(tiers.budget.ram_bytes) / (1u << 30), tiers.experts, tiers.slots, double(tiers.slot_bytes) / (1 << 20));
    return;
  }
  std::fprintf(stderr,
               "expert tiers for %.2f GiB of memory: the %u hottest of %u experts at the recipe's type or more, in %u "
               "slots of %.2f MiB (beside %.2f MiB of other weights and a %.2f MiB KV cache); the rest in q3k\n",
               double(tiers.budget.ram_bytes) / (1u << 30), tiers.hot_experts, tiers.experts, tiers.slots,
               double(tiers.slot_bytes) / (1 << 20), double(tiers.budget.non_expert_bytes) / (1 << 20),
               double(tiers.budget.kv_cache_bytes) / (1 << 20));
}

// `options` holds the paths and flags; the recipe comes from --type and the group overrides.
int run_convert(convert::ConvertOptions options, const convert::CalibrationOptions& calibration, const std::string& type,
                const std::map<std::string, std::string>& overrides, bool quiet, const std::string& chat_template_path) {
  const std::string& output = options.output;
  options.recipe = convert::make_recipe(type);
  for (const auto& [group, group_type] : overrides) {
    if (!group_type.empty()) convert::override_group(options.recipe, group, group_type);
  }
  options.show_progress = !quiet && ::isatty(STDERR_FILENO);
  if (!chat_template_path.empty()) {
    options.chat_template = convert::read_small_file(chat_template_path, convert::kMaxJsonFileBytes);
    if (options.chat_template.empty()) throw Error(chat_template_path, "the chat template is empty");
  }
  const convert::CalibratedConvertReport calibrated = convert::convert_with_calibration(options, calibration);
  const convert::ConvertReport& report = calibrated.conversion;
  if (calibrated.calibration && !quiet) print_calibration(*calibrated.calibration);
  for (const std::string& note : report.notes) std::fprintf(stderr, "smoe-convert: %s\n", note.c_str());
  if (!quiet && report.expert_bits) {
    const convert::ExpertBitsSummary& summary = *report.expert_bits;
    std::string counts;
    for (const auto& [type_name, count] : summary.experts_per_type) counts += " " + type_name + " x" + std::to_string(count);
    std::fprintf(stderr, "expert bits %s:%s; expert bytes %.2f MiB (uniform %.2f MiB), routed error %.3g of uniform\n",
                 report.expert_tiers ? report.expert_tiers->spelling.c_str() : "auto", counts.c_str(),
                 double(summary.planned_bytes) / (1 << 20), double(summary.uniform_bytes) / (1 << 20),
                 summary.uniform_error > 0 ? summary.planned_error / summary.uniform_error : 1.0);
  }
  if (!quiet && report.expert_tiers) print_tiers(*report.expert_tiers);
  if (!quiet) {
    std::fprintf(stderr, "wrote %s: %llu tensors, %.2f MiB (from %.2f MiB) in %.2f s\n", output.c_str(),
                 static_cast<unsigned long long>(report.tensors), double(report.file_bytes) / (1 << 20),
                 double(report.source_bytes) / (1 << 20), report.seconds);
  }
  return 0;
}

int run_verify(const std::string& path) {
  const format::Container container = format::Container::open(path);
  const std::vector<std::string> failed = container.failed_checksums();
  for (const std::string& name : failed) std::fprintf(stderr, "%s: checksum mismatch in tensor '%s'\n", path.c_str(), name.c_str());
  if (!failed.empty()) {
    std::fprintf(stderr, "%s: %zu of %zu tensors are corrupt\n", path.c_str(), failed.size(), container.tensors().size());
    return 1;
  }
  std::printf("%s: OK, %zu tensors, all checksums match\n", path.c_str(), container.tensors().size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"smoe-convert: convert Mixtral checkpoints into .smoe containers", "smoe-convert"};
  app.set_version_flag("--version", std::string("smoe-convert ") + kVersionString);
  app.require_subcommand(0, 1);

  std::string input, output, type = "q8";
  std::map<std::string, std::string> overrides = {
      {"attn", ""}, {"experts", ""}, {"embeddings", ""}, {"output", ""}, {"router", ""}};
  bool quiet = false, no_source_hash = false;
  app.add_option("input", input,
                 "Hugging Face directory (or its model.safetensors / index file), a .gguf file, or a Mistral "
                 "directory with params.json");
  std::string from;
  app.add_option("--from", from, "input format when detection should not decide: hf, gguf or mistral")
      ->check(CLI::IsMember({"hf", "gguf", "mistral"}));
  app.add_option("-o,--out", output, "output .smoe file");
  app.add_option("--type", type,
                 "base recipe: f32, f16, bf16, q8, q6k, q4, q4k, q3k, or keep (the source's own block types)")
      ->capture_default_str();
  for (auto& [group, value] : overrides) {
    app.add_option("--" + group, value, "type for the " + group + " tensors (overrides --type)");
  }
  app.add_flag("-q,--quiet", quiet, "no progress bar or summary");
  app.add_flag("--no-source-hash", no_source_hash, "skip the SHA-256 of the source files in the provenance");
  std::string chat_template_path;
  app.add_option("--chat-template", chat_template_path,
                 "store the Jinja chat template in FILE instead of the release's (e.g. one smoe cannot render)");
  std::string imatrix;
  app.add_option("--imatrix", imatrix, "importance matrix from `smoe-convert calibrate` (weights quantization errors)");
  // A bad target is a usage error (exit 2), as an unknown type is.
  const auto expert_bits_check = [](const std::string& value) {
    try {
      convert::parse_expert_bits(value);
      return std::string();
    } catch (const Error& error) {
      // CLI11 names the option itself.
      const std::string message = error.what();
      const std::string prefix = "--expert-bits: ";
      return message.starts_with(prefix) ? message.substr(prefix.size()) : message;
    }
  };
  std::string expert_bits;
  app.add_option("--expert-bits", expert_bits,
                 "uniform: every expert in the recipe's type; auto: more bits for frequently routed experts, "
                 "fewer for rare ones, same total size; ram=SIZE (e.g. ram=24G, 1024-based as --ram): for a model "
                 "larger than SIZE of memory, the experts the expert cache will hold (the most frequently routed, "
                 "as many as fit SIZE beside the rest of the file and a default KV cache) get auto's types of at "
                 "least the recipe's, the experts read from disk on a miss q3k. auto and ram need calibration or "
                 "--imatrix. Default: auto when the converter calibrates, else uniform")
      ->check(expert_bits_check);
  convert::CalibrationOptions calibration_options;
  bool no_calibration = false;
  CLI::Option* no_calibration_flag = app.add_flag(
      "--no-calibration", no_calibration,
      "q4, q4k, q3k: no importance matrix (by default the converter samples text from a temporary q8 copy of the "
      "model and calibrates on it)");
  app.add_option("--calibration-text", calibration_options.text,
                 "calibrate on FILE (one passage a line), then on self-generated text as without it")
      ->excludes(no_calibration_flag);
  app.add_option("--calibration-tokens", calibration_options.tokens,
                 "calibration tokens (0 = scaled to the model: 1024 per expert on average, 2048 to 16384)")
      ->capture_default_str();
  app.add_option("--calibration-seed", calibration_options.seed, "seed for the self-generated calibration text")
      ->capture_default_str();
  std::string rounding;
  app.add_option("--rounding", rounding,
                 "how quantized values are chosen once a block's scales are: gptq rounds the columns in order and "
                 "spreads each error over the columns not yet rounded, weighted by the calibration inputs' "
                 "covariance (GPTQ; q4, q4k, q3k, q6k tensors); nearest takes each weight's nearest level. Default: "
                 "gptq when the converter calibrates, else nearest (an --imatrix file holds no covariance)")
      ->check(CLI::IsMember({"nearest", "gptq"}));
  const char* panel_help =
      "store quantized matrices with wider rows in column panels of at most this many columns, so a "
      "matrix-vector product's activations stay in L1 (0 = contiguous rows, as format version 1)";
  uint64_t max_panel_columns = convert::kDefaultPanelColumns;
  app.add_option("--panel-columns", max_panel_columns, panel_help)->capture_default_str();
  const char* interleave_help =
      "store q4k and q8 matrices (all but the embeddings) with their rows interleaved by eight (types q4k_x8 "
      "and q8_x8, the default): decoding reads 8 rows per kernel call, faster on x86 and with SDOT; "
      "--no-interleave writes plain rows, which earlier smoe builds read too";
  bool interleave = true;
  app.add_flag("--interleave,!--no-interleave", interleave, interleave_help);

  CLI::App* synth = app.add_subcommand("synth", "write a container with a real model's shapes and random weights");
  convert::SynthOptions synthetic;
  std::string synth_type = "q4";
  synth->add_option("--preset", synthetic.preset, "mixtral-8x7b or mixtral-8x22b")->capture_default_str();
  synth->add_option("--layers", synthetic.layers, "layers to write (0 = all of the preset's)");
  synth->add_option("--type", synth_type, "recipe: f32, f16, bf16, q8, q6k, q4, q4k or q3k")->capture_default_str();
  synth->add_option("--tokenizer", synthetic.tokenizer, "SentencePiece tokenizer.model to embed")->required();
  synth->add_option("--seed", synthetic.seed, "random seed")->capture_default_str();
  synth->add_option("--panel-columns", synthetic.max_panel_columns, panel_help)->capture_default_str();
  synth->add_flag("--interleave,!--no-interleave", synthetic.interleave, interleave_help);
  std::string synth_expert_bits;
  synth
      ->add_option("--expert-bits", synth_expert_bits,
                   "auto or ram=SIZE, as for a conversion, from the routing counts of --imatrix (default: uniform)")
      ->check(expert_bits_check);
  synth->add_option("--imatrix", synthetic.imatrix,
                    "importance matrix whose routing counts --expert-bits plans from (`smoe-convert calibrate` on a "
                    "synthetic file of the same preset and layers)");
  synth->add_option("-o,--out", synthetic.output, "output .smoe file")->required();

  CLI::App* calibrate = app.add_subcommand("calibrate", "collect activation statistics (an importance matrix) on text");
  convert::CalibrateOptions calibration;
  calibrate->add_option("-m,--model", calibration.model, "an f32 .smoe of the model")->required();
  calibrate->add_option("--text", calibration.text,
                        "calibration text, one passage a line (without it: text the model samples itself)");
  calibrate->add_option("--seed", calibration.seed, "seed for self-generated text")->capture_default_str();
  calibrate->add_option("-o,--out", calibration.output, "the .imatrix file to write")->required();
  calibrate->add_option("--exclude-tokens", calibration.exclude_tokens, "int32 token windows whose lines to skip");
  calibrate->add_option("--window", calibration.window, "tokens per evaluation window")->capture_default_str()
      ->check(CLI::Range(2u, 1u << 16));
  calibrate->add_option("--max-tokens", calibration.max_tokens,
                        "calibration tokens to use (0 = 32768 of a text; self-generated: scaled to the model, "
                        "as the converter's)");
  calibrate->add_option("-t,--threads", calibration.threads, "compute threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);

  CLI::App* inspect = app.add_subcommand("inspect", "print a container's metadata, recipe and tensor summary");
  std::string inspect_path;
  bool as_json = false, list_tensors = false;
  inspect->add_option("file", inspect_path, "a .smoe file")->required();
  inspect->add_flag("--json", as_json, "print one JSON object");
  inspect->add_flag("--tensors", list_tensors, "list every tensor");

  CLI::App* verify = app.add_subcommand("verify", "check every tensor's checksum");
  std::string verify_path;
  verify->add_option("file", verify_path, "a .smoe file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;  // --help and --version exit 0, usage errors 2
  }
  convert::install_interrupt_cleanup();
  try {
    if (inspect->parsed()) {
      const format::Container container = format::Container::open(inspect_path);
      if (as_json) {
        std::cout << convert::inspect_json(container, list_tensors).dump(2) << "\n";
      } else {
        convert::print_inspect_text(container, list_tensors, std::cout);
      }
      return 0;
    }
    if (verify->parsed()) return run_verify(verify_path);
    if (synth->parsed()) {
      synthetic.recipe = convert::make_recipe(synth_type);
      synthetic.show_progress = ::isatty(STDERR_FILENO);
      if (!synth_expert_bits.empty()) synthetic.expert_bits = convert::parse_expert_bits(synth_expert_bits);
      std::optional<convert::ExpertTiersSummary> tiers;
      const uint64_t bytes = convert::write_synthetic_model(synthetic, &tiers);
      if (tiers) print_tiers(*tiers);
      std::fprintf(stderr, "wrote %s: %.2f GiB\n", synthetic.output.c_str(), double(bytes) / (1u << 30));
      return 0;
    }
    if (calibrate->parsed()) {
      calibration.show_progress = ::isatty(STDERR_FILENO);
      const convert::CalibrateReport report = convert::calibrate(calibration);
      const std::string source = calibration.text.empty()
                                     ? "self-generated with seed " + std::to_string(calibration.seed)
                                     : "from " + std::to_string(report.lines_used) + " lines (" +
                                           std::to_string(report.lines_excluded) + " held-out lines skipped)";
      std::fprintf(stderr, "wrote %s: %llu tokens %s, fewest routed to one expert %llu, in %.1f s\n",
                   calibration.output.c_str(), static_cast<unsigned long long>(report.tokens), source.c_str(),
                   static_cast<unsigned long long>(report.min_expert_tokens), report.seconds);
      return 0;
    }
    if (input.empty() || output.empty()) {
      std::cerr << app.help() << "\nsmoe-convert: give an input checkpoint and -o OUT.smoe\n";
      return 2;
    }
    convert::ConvertOptions options;
    options.input = input;
    options.from = from;
    options.output = output;
    options.hash_sources = !no_source_hash;
    options.imatrix = imatrix;
    options.max_panel_columns = max_panel_columns;
    options.interleave = interleave;
    if (!expert_bits.empty()) calibration_options.expert_bits = convert::parse_expert_bits(expert_bits);
    if (!rounding.empty()) calibration_options.gptq_rounding = rounding == "gptq";
    calibration_options.source = no_calibration                          ? convert::CalibrationSource::none
                                 : !calibration_options.text.empty() ? convert::CalibrationSource::text
                                                                      : convert::CalibrationSource::automatic;
    return run_convert(options, calibration_options, type, overrides, quiet, chat_template_path);
  } catch (const Error& error) {
    std::fprintf(stderr, "smoe-convert: error: %s\n", error.what());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "smoe-convert: unexpected error: %s\n", error.what());
    return 1;
  }
}
