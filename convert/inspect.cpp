// Summaries of a container's metadata and tensor table.
#include "convert/inspect.h"

#include <iomanip>
#include <map>
#include <ostream>

#include "format/metadata.h"

namespace smoe::convert {
namespace {

uint64_t element_count(const std::vector<uint64_t>& shape) {
  uint64_t count = 1;
  for (uint64_t dim : shape) count *= dim;  // validated at load: cannot overflow
  return count;
}

// How the file was calibrated: the recipe's "calibration" (self-generated or a text), its
// importance matrix file, or "none" (files written without either, before calibration existed too).
std::string calibration_of(const nlohmann::json& recipe) {
  if (!recipe.is_object()) return "none";
  if (const auto found = recipe.find("calibration"); found != recipe.end() && found->is_string()) {
    return found->get<std::string>();
  }
  if (const auto found = recipe.find("imatrix"); found != recipe.end() && found->is_object()) {
    return "imatrix " + found->value("file", std::string("?"));
  }
  return "none";
}

// How the quantized values were chosen: the recipe's "rounding" ("gptq" where the converter's
// calibration gathered covariance), or "nearest" (every file without one).
std::string rounding_of(const nlohmann::json& recipe) {
  if (!recipe.is_object()) return "nearest";
  const auto found = recipe.find("rounding");
  return found != recipe.end() && found->is_string() ? found->get<std::string>() : "nearest";
}

}  // namespace

nlohmann::json inspect_json(const format::Container& container, bool list_tensors) {
  const format::Metadata& metadata = container.metadata();
  std::map<std::string, nlohmann::json> types;
  uint64_t weights = 0, weight_bytes = 0;
  nlohmann::json tensor_list = nlohmann::json::array();
  for (const format::TensorView& tensor : container.tensors()) {
    const std::string type(quant::type_name(tensor.type));
    nlohmann::json& summary = types[type];
    if (summary.is_null()) summary = {{"tensors", 0}, {"weights", 0}, {"bytes", 0}, {"in_column_panels", 0}};
    const uint64_t elements = element_count(tensor.shape);
    summary["tensors"] = summary["tensors"].get<uint64_t>() + 1;
    summary["weights"] = summary["weights"].get<uint64_t>() + elements;
    summary["bytes"] = summary["bytes"].get<uint64_t>() + tensor.bytes;
    if (tensor.panel_columns != 0) summary["in_column_panels"] = summary["in_column_panels"].get<uint64_t>() + 1;
    if (tensor.type != quant::TensorType::u8) {
      weights += elements;
      weight_bytes += tensor.bytes;
    }
    if (list_tensors) {
      tensor_list.push_back({{"name", tensor.name},
                             {"type", type},
                             {"shape", tensor.shape},
                             {"offset", tensor.offset},
                             {"bytes", tensor.bytes},
                             {"panel_columns", tensor.panel_columns}});
    }
  }
  nlohmann::json special_tokens = nlohmann::json::array();
  for (const SpecialToken& token : metadata.tokenizer.added_tokens) {
    special_tokens.push_back({{"id", token.id}, {"text", token.text}, {"special", token.special}});
  }
  nlohmann::json json = {
      {"file", container.path()},
      {"format_version", container.header().version},
      {"file_bytes", container.file_bytes()},
      {"tensors", container.tensors().size()},
      {"architecture", metadata.architecture},
      {"hyperparameters", format::hyperparameters_to_json(metadata.hyperparameters)},
      {"bits_per_weight", weights ? 8.0 * double(weight_bytes) / double(weights) : 0.0},
      {"types", types},
      {"expert_ranges", container.expert_ranges().size()},
      {"expert_alignment", container.header().expert_alignment},
      {"recipe", metadata.recipe},
      {"calibration", calibration_of(metadata.recipe)},
      {"rounding", rounding_of(metadata.recipe)},
      {"provenance", metadata.provenance},
      {"chat_template", metadata.chat_template},
      {"tokenizer_bytes", container.tokenizer_model().size()},
      {"special_tokens", special_tokens},
      {"end_ids", metadata.tokenizer.end_ids},
      {"template_variables", metadata.template_variables},
  };
  if (list_tensors) json["tensor_list"] = tensor_list;
  return json;
}

void print_inspect_text(const format::Container& container, bool list_tensors, std::ostream& out) {
  const nlohmann::json json = inspect_json(container, list_tensors);
  out << "file             " << container.path() << "\n"
      << "format version   " << json["format_version"] << "\n"
      << "file size        " << container.file_bytes() << " bytes (" << std::fixed << std::setprecision(2)
      << double(container.file_bytes()) / (1 << 20) << " MiB)\n"
      << "architecture     " << json["architecture"].get<std::string>() << "\n"
      << "bits per weight  " << std::setprecision(3) << json["bits_per_weight"].get<double>() << "\n"
      << "recipe           " << json["recipe"].dump() << "\n"
      << "calibration      " << json["calibration"].get<std::string>() << "\n"
      << "rounding         " << json["rounding"].get<std::string>() << "\n"
      << "converter        " << json["provenance"].value("converter", "?") << "\n"
      << "hyperparameters\n";
  for (const auto& [key, value] : json["hyperparameters"].items()) {
    out << "  " << std::left << std::setw(26) << key << value.dump() << "\n";
  }
  out << "sources\n";
  for (const nlohmann::json& source : json["provenance"].value("sources", nlohmann::json::array())) {
    out << "  " << source.value("file", "?") << "  " << source.value("bytes", uint64_t{0}) << " bytes  sha256 "
        << source.value("sha256", "-") << "\n";
  }
  out << "tensors          " << container.tensors().size() << " (" << container.expert_ranges().size()
      << " expert ranges aligned to " << container.header().expert_alignment << " bytes)\n";
  for (const auto& [type, summary] : json["types"].items()) {
    out << "  " << std::left << std::setw(6) << type << std::right << std::setw(6) << summary["tensors"].dump()
        << " tensors " << std::setw(12) << summary["weights"].dump() << " weights " << std::setw(12)
        << summary["bytes"].dump() << " bytes";
    if (summary["in_column_panels"].get<uint64_t>() != 0)
      out << " (" << summary["in_column_panels"] << " in column panels)";
    out << "\n";
  }
  out << "chat template    " << (container.metadata().chat_template.empty() ? "(none)" : "present") << " ("
      << container.metadata().chat_template.size() << " chars)\n";
  const TokenizerConfig& tokenizer = container.metadata().tokenizer;
  out << "special tokens   " << tokenizer.added_tokens.size() << (tokenizer.added_tokens.empty() ? " (the SentencePiece model's own)\n" : "\n");
  for (const SpecialToken& token : tokenizer.added_tokens) {
    out << "  " << std::right << std::setw(8) << token.id << "  " << std::left << std::setw(8)
        << (token.special ? "special" : "added") << nlohmann::json(token.text).dump() << "\n";
  }
  out << "end tokens       " << nlohmann::json(tokenizer.end_ids).dump() << " (and eos_token_id "
      << container.metadata().hyperparameters.eos_token_id << ")\n";
  for (const auto& [name, text] : container.metadata().template_variables) {
    out << "  " << std::left << std::setw(15) << name << nlohmann::json(text).dump() << "\n";
  }
  if (list_tensors) {
    for (const nlohmann::json& tensor : json["tensor_list"]) {
      out << "  " << std::left << std::setw(30) << tensor["name"].get<std::string>() << std::setw(6)
          << tensor["type"].get<std::string>() << std::setw(16) << tensor["shape"].dump() << " @" << tensor["offset"]
          << " " << tensor["bytes"] << " bytes";
      if (tensor["panel_columns"].get<uint64_t>() != 0)
        out << " in panels of " << tensor["panel_columns"] << " columns";
      out << "\n";
    }
  }
}

}  // namespace smoe::convert
