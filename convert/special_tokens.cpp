// Reading the special and added tokens of a release from each file that lists them.
#include "convert/special_tokens.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "convert/release_files.h"
#include "convert/sentencepiece_model.h"
#include "smoe/error.h"

namespace smoe::convert {
namespace fs = std::filesystem;

void AddedTokens::add(int64_t id, const std::string& text, bool special, const std::string& path) {
  if (id < 0 || id >= int64_t{vocab_size_}) {
    throw Error(path, "added token '" + text + "' has id " + std::to_string(id) + ", outside the vocabulary of " +
                          std::to_string(vocab_size_) + " (config.json's vocab_size)");
  }
  if (text.empty()) throw Error(path, "added token " + std::to_string(id) + " has an empty string");
  const auto token_id = static_cast<int32_t>(id);
  // The release's files may rename a piece of the SentencePiece model (Hugging Face matches its
  // added tokens before the model sees the text); two files of the release must agree.
  auto drop_if_from_model = [&](int32_t known) {
    if (!from_model_.contains(known)) return false;
    id_of_.erase(by_id_[known].text);
    by_id_.erase(known);
    file_of_.erase(known);
    from_model_.erase(known);
    return true;
  };
  if (const auto known = id_of_.find(text); known != id_of_.end() && known->second != token_id) {
    if (!drop_if_from_model(known->second)) {
      throw Error(path, "added token '" + text + "' has id " + std::to_string(id) + " here but " +
                            std::to_string(known->second) + " in " + file_of_[known->second]);
    }
  }
  if (const auto known = by_id_.find(token_id); known != by_id_.end() && known->second.text != text) {
    if (!drop_if_from_model(token_id)) {
      throw Error(path, "token id " + std::to_string(id) + " is '" + text + "' here but '" + known->second.text + "' in " +
                            file_of_[token_id]);
    }
  }
  const auto [entry, inserted] = by_id_.try_emplace(token_id, SpecialToken{token_id, text, special});
  if (inserted) {
    file_of_[token_id] = path;
    id_of_[text] = token_id;
  } else {
    entry->second.special = entry->second.special || special;
    from_model_.erase(token_id);  // confirmed by a release file: a later file may no longer rename it
  }
}

void AddedTokens::add_model_pieces(const std::string& model_bytes, const std::string& path) {
  const std::vector<SentencePieceEntry> pieces = read_sentencepiece_pieces(model_bytes, path);
  for (size_t id = 0; id < pieces.size(); ++id) {
    const int32_t type = pieces[id].type;
    if (type != kPieceControl && type != kPieceUnknown && type != kPieceUserDefined) continue;
    if (pieces[id].piece.empty()) continue;  // SentencePiece allows an empty CONTROL piece; nothing can match it
    add(int64_t(id), pieces[id].piece, type != kPieceUserDefined, path);
    from_model_.insert(static_cast<int32_t>(id));
  }
}

void AddedTokens::mark_special(const std::string& text) {
  if (const auto known = id_of_.find(text); known != id_of_.end()) by_id_[known->second].special = true;
}

std::optional<int32_t> AddedTokens::find(const std::string& text) const {
  const auto known = id_of_.find(text);
  return known == id_of_.end() ? std::nullopt : std::optional<int32_t>(known->second);
}

std::vector<SpecialToken> AddedTokens::list() const {
  std::vector<SpecialToken> tokens;
  for (const auto& [id, token] : by_id_) tokens.push_back(token);
  return tokens;
}

int32_t sentencepiece_piece_count(const std::string& tokenizer_model) {
  return static_cast<int32_t>(read_sentencepiece_pieces(tokenizer_model, "tokenizer").size());
}

void check_named_ids(const TokenizerConfig& config, const Hyperparameters& hp, int32_t pieces, const std::string& where) {
  std::vector<int32_t> named = config.end_ids;
  named.push_back(static_cast<int32_t>(hp.bos_token_id));
  named.push_back(static_cast<int32_t>(hp.eos_token_id));
  for (int32_t id : named) {
    if (id < pieces) continue;
    const bool added = std::any_of(config.added_tokens.begin(), config.added_tokens.end(),
                                   [&](const SpecialToken& token) { return token.id == id; });
    if (!added) {
      throw Error(where, "token id " + std::to_string(id) + " (a bos / eos / end id) is past the SentencePiece model's " +
                             std::to_string(pieces) + " pieces and no file of the release names its text");
    }
  }
}

namespace {

// A token string field: "<s>", {"content": "<s>", ...} (an AddedToken), or absent / null.
std::optional<std::string> token_string(const nlohmann::json& value, const std::string& field, const std::string& path) {
  if (value.is_null()) return std::nullopt;
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object()) {
    const auto content = value.find("content");
    if (content != value.end() && content->is_string()) return content->get<std::string>();
  }
  throw Error(path, "'" + field + "' is neither a string nor {\"content\": string}: " + value.dump());
}

int64_t token_id(const nlohmann::json& value, const std::string& field, const std::string& path) {
  if (!value.is_number_integer()) throw Error(path, "'" + field + "' is not a token id: " + value.dump());
  return value.get<int64_t>();
}

// An id field that may be one id or a list of them (generation_config's eos_token_id).
std::vector<int32_t> token_id_list(const nlohmann::json& json, const char* key, const std::string& path, uint32_t vocab_size) {
  const auto it = json.find(key);
  if (it == json.end() || it->is_null()) return {};
  const std::vector<nlohmann::json> values = it->is_array() ? it->get<std::vector<nlohmann::json>>() : std::vector<nlohmann::json>{*it};
  std::vector<int32_t> ids;
  for (const nlohmann::json& value : values) {
    const int64_t id = token_id(value, key, path);
    if (id < 0 || id >= int64_t{vocab_size}) {
      throw Error(path, std::string("'") + key + "' holds " + std::to_string(id) + ", outside the vocabulary of " +
                            std::to_string(vocab_size));
    }
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

std::vector<std::string> token_string_list(const nlohmann::json& json, const char* key, const std::string& path) {
  const auto it = json.find(key);
  if (it == json.end() || it->is_null()) return {};
  if (!it->is_array()) throw Error(path, std::string("'") + key + "' is not a list of tokens");
  std::vector<std::string> strings;
  for (const nlohmann::json& value : *it) {
    if (std::optional<std::string> text = token_string(value, key, path)) strings.push_back(*text);
  }
  return strings;
}

void add_unique(std::vector<int32_t>& ids, int32_t id) {
  if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
}

// The optional JSON files of a release, each read once and recorded as a source.
struct JsonFiles {
  std::string directory;
  std::vector<SourceFile>& files;

  std::optional<nlohmann::json> read(const char* name, bool record = true) {
    const std::string path = (fs::path(directory) / name).string();
    std::error_code error;
    if (!fs::exists(path, error)) return std::nullopt;
    nlohmann::json json = read_json_file(path);
    if (record) files.push_back({path, fs::file_size(path, error)});
    return json;
  }
  std::string path(const char* name) const { return (fs::path(directory) / name).string(); }
};

// The special tokens Hugging Face's tokenizers know by name (SPECIAL_TOKENS_ATTRIBUTES).
constexpr const char* kNamedTokens[] = {"bos_token", "eos_token", "unk_token", "pad_token",
                                        "sep_token", "cls_token", "mask_token"};
// The ones a chat template is given.
constexpr const char* kTemplateTokens[] = {"bos_token", "eos_token", "unk_token", "pad_token"};

struct NamedToken {
  std::string text;
  std::string path;  // the file that named it
};

// Named tokens and additional special tokens of one file (tokenizer_config.json or
// special_tokens_map.json); a later file's names replace an earlier one's, as in transformers.
void read_named_tokens(const nlohmann::json& json, const std::string& path, std::map<std::string, NamedToken>& named,
                       std::vector<std::string>& additional) {
  for (const char* name : kNamedTokens) {
    if (const auto it = json.find(name); it != json.end()) {
      if (std::optional<std::string> text = token_string(*it, name, path)) named[name] = {*text, path};
    }
  }
  for (const char* key : {"additional_special_tokens", "extra_special_tokens"}) {
    if (json.contains(key) && json[key].is_object()) continue;  // a model-specific {name: token} map
    for (const std::string& text : token_string_list(json, key, path)) additional.push_back(text);
  }
}

}  // namespace

ReleaseTokens read_hf_release_tokens(const std::string& directory, const std::string& tokenizer_model,
                                     const Hyperparameters& hp) {
  ReleaseTokens result;
  JsonFiles files{directory, result.files};
  AddedTokens added(hp.vocab_size);
  added.add_model_pieces(tokenizer_model, files.path("tokenizer.model"));
  const std::vector<SentencePieceEntry> pieces = read_sentencepiece_pieces(tokenizer_model, files.path("tokenizer.model"));

  // tokenizer.json: {"added_tokens": [{"id", "content", "special", ...}]}
  if (const auto json = files.read("tokenizer.json")) {
    const std::string path = files.path("tokenizer.json");
    const auto list = json->find("added_tokens");
    if (list != json->end() && !list->is_null()) {
      if (!list->is_array()) throw Error(path, "'added_tokens' is not a list");
      for (const nlohmann::json& entry : *list) {
        if (!entry.is_object() || !entry.contains("id") || !entry.contains("content") || !entry["content"].is_string()) {
          throw Error(path, "added_tokens entry " + entry.dump() + " is not {\"id\", \"content\", ...}");
        }
        added.add(token_id(entry["id"], "added_tokens id", path), entry["content"].get<std::string>(),
                  config_bool(entry, "special", path, false), path);
      }
    }
  }

  std::map<std::string, NamedToken> named;
  std::vector<std::string> additional;
  // tokenizer_config.json: "added_tokens_decoder": {"32000": {"content", "special", ...}} and the named tokens.
  if (const auto json = files.read("tokenizer_config.json", false)) {
    const std::string path = files.path("tokenizer_config.json");
    const auto decoder = json->find("added_tokens_decoder");
    if (decoder != json->end() && !decoder->is_null()) {
      if (!decoder->is_object()) throw Error(path, "'added_tokens_decoder' is not an object of id: token");
      for (const auto& [key, entry] : decoder->items()) {
        int64_t id = -1;
        const auto parsed = std::from_chars(key.data(), key.data() + key.size(), id);
        if (parsed.ec != std::errc() || parsed.ptr != key.data() + key.size()) {
          throw Error(path, "added_tokens_decoder key '" + key + "' is not a token id");
        }
        if (!entry.is_object() || !entry.contains("content") || !entry["content"].is_string()) {
          throw Error(path, "added_tokens_decoder entry " + key + " is not {\"content\", ...}");
        }
        added.add(id, entry["content"].get<std::string>(), config_bool(entry, "special", path, false), path);
      }
    }
    read_named_tokens(*json, path, named, additional);
  }
  if (const auto json = files.read("special_tokens_map.json")) {
    read_named_tokens(*json, files.path("special_tokens_map.json"), named, additional);
  }
  std::set<std::string> special_strings(additional.begin(), additional.end());
  for (const auto& [name, token] : named) special_strings.insert(token.text);

  // added_tokens.json: {"<|im_end|>": 32000}. transformers makes an entry special only when a
  // named or additional special token has its string.
  if (const auto json = files.read("added_tokens.json")) {
    const std::string path = files.path("added_tokens.json");
    for (const auto& [text, id] : json->items()) {
      added.add(token_id(id, text, path), text, special_strings.contains(text), path);
    }
  }
  for (const std::string& text : special_strings) added.mark_special(text);
  result.config.added_tokens = added.list();

  // Where generation ends: every eos id of config.json and generation_config.json, and the
  // token tokenizer_config.json calls eos_token ("<|im_end|>" in ChatML finetunes).
  std::vector<int32_t>& end_ids = result.config.end_ids;
  if (const auto json = files.read("config.json", false)) {
    for (int32_t id : token_id_list(*json, "eos_token_id", files.path("config.json"), hp.vocab_size)) add_unique(end_ids, id);
  }
  if (const auto json = files.read("generation_config.json")) {
    const std::string path = files.path("generation_config.json");
    for (int32_t id : token_id_list(*json, "eos_token_id", path, hp.vocab_size)) add_unique(end_ids, id);
    token_id_list(*json, "bos_token_id", path, hp.vocab_size);  // checked only: config.json's is the one used
  }
  auto id_of = [&](const NamedToken& token) -> std::optional<int32_t> {
    if (const std::optional<int32_t> id = added.find(token.text)) return id;
    for (size_t id = 0; id < pieces.size(); ++id) {
      if (pieces[id].piece == token.text) return static_cast<int32_t>(id);
    }
    return std::nullopt;
  };
  if (const auto eos = named.find("eos_token"); eos != named.end()) {
    const std::optional<int32_t> id = id_of(eos->second);
    if (!id) {
      throw Error(eos->second.path, "eos_token '" + eos->second.text +
                                        "' is neither a piece of tokenizer.model nor an added token of the release");
    }
    add_unique(end_ids, *id);
  }
  for (const char* name : kTemplateTokens) {
    if (const auto token = named.find(name); token != named.end()) result.template_variables[name] = token->second.text;
  }
  check_named_ids(result.config, hp, static_cast<int32_t>(pieces.size()), directory);
  return result;
}

ReleaseTokens sentencepiece_release_tokens(const std::string& tokenizer_model, const std::string& path,
                                           const Hyperparameters& hp) {
  ReleaseTokens result;
  AddedTokens added(hp.vocab_size);
  added.add_model_pieces(tokenizer_model, path);
  result.config.added_tokens = added.list();
  result.config.end_ids = {static_cast<int32_t>(hp.eos_token_id)};
  const std::vector<SentencePieceEntry> pieces = read_sentencepiece_pieces(tokenizer_model, path);
  auto variable = [&](const char* name, uint32_t id) {
    if (id < pieces.size() && !pieces[id].piece.empty()) result.template_variables[name] = pieces[id].piece;
  };
  variable("bos_token", hp.bos_token_id);
  variable("eos_token", hp.eos_token_id);
  for (size_t id = 0; id < pieces.size(); ++id) {
    if (pieces[id].type == kPieceUnknown) variable("unk_token", static_cast<uint32_t>(id));
  }
  check_named_ids(result.config, hp, static_cast<int32_t>(pieces.size()), path);
  return result;
}

}  // namespace smoe::convert
