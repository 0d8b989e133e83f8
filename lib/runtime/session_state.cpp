// Session snapshots (prompt cache) and saved sessions.
//
// File layout (little-endian):
//   char[8] "SMOESES1", u32 version (1), u32 reserved (0),
//   u64 model checksum (the container's index checksum), u64 model file bytes,
//   u64 payload bytes (uncompressed), u64 compressed bytes, then one zstd frame (with zstd's
//   content checksum) of the payload:
//     u64 JSON bytes, JSON {kv_type, layers, kv_width, slice, vocab, position, logits, kv_bytes,
//                           rng_started, rng_seed, rng_state, messages}
//     i32 tokens[position], f32 logits[logits], KV bytes[kv_bytes] (KvCache::export_positions)
// Every size is checked against the model and the file before anything is allocated or
// changed; the session is only touched once the whole file has been read and checked.
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/model_impl.h"
#include "smoe/error.h"
#include "text/chat_messages_json.h"

namespace smoe {
namespace {

constexpr char kMagic[8] = {'S', 'M', 'O', 'E', 'S', 'E', 'S', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8 * 4;
constexpr uint64_t kMaxJsonBytes = 64ull << 20;  // the chat history lives here

template <class T>
void put(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <class T>
T get(const std::byte* data) {
  T value;
  std::memcpy(&value, data, sizeof(T));
  return value;
}

std::shared_ptr<SessionSnapshot::Data> capture(const Session::Impl& s) {
  auto data = std::make_shared<SessionSnapshot::Data>();
  const format::Container& container = s.model_impl->container;
  data->model_checksum = container.header().index_checksum;
  data->model_bytes = container.file_bytes();
  data->kv_type = s.cache.type();
  data->tokens = s.tokens;
  const size_t vocab = s.model->info().hyperparameters.vocab_size;
  if (s.logits.size() >= vocab) data->logits.assign(s.logits.end() - long(vocab), s.logits.end());
  data->kv = s.cache.export_positions(static_cast<uint32_t>(s.tokens.size()));
  data->rng_started = s.rng_started;
  data->rng_seed = s.rng_seed;
  data->rng = s.rng;
  return data;
}

// The state belongs to this session's model: same container index checksum and size.
void check_model(const Session::Impl& s, uint64_t checksum, uint64_t bytes, const std::string& where) {
  const format::Container& container = s.model_impl->container;
  if (checksum != container.header().index_checksum || bytes != container.file_bytes()) {
    throw Error(where, "was saved with a different model (identity " + std::to_string(checksum) + ", " +
                           std::to_string(bytes) + " bytes) than " + s.model->info().path);
  }
}

void check_compatible(const Session::Impl& s, const SessionSnapshot::Data& data, const std::string& where) {
  check_model(s, data.model_checksum, data.model_bytes, where);
  if (data.kv_type != s.cache.type()) {
    const std::string saved(kv_type_name(data.kv_type)), current(kv_type_name(s.cache.type()));
    throw Error(where, "holds a " + saved + " KV cache; this session's is " + current + " (load the model with --kv " + saved + ")");
  }
  if (data.tokens.size() > s.cache.context()) {
    throw Error(where, "holds " + std::to_string(data.tokens.size()) + " tokens, more than this session's context of " +
                           std::to_string(s.cache.context()));
  }
}

void apply(Session::Impl& s, const SessionSnapshot::Data& data) {
  s.cache.import_positions(static_cast<uint32_t>(data.tokens.size()), data.kv);
  s.tokens = data.tokens;
  s.logits = data.logits;
  s.rng_started = data.rng_started;
  s.rng_seed = data.rng_seed;
  s.rng = data.rng;
}

}  // namespace

SessionSnapshot::SessionSnapshot(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
uint32_t SessionSnapshot::position() const { return static_cast<uint32_t>(data_->tokens.size()); }
const std::vector<int32_t>& SessionSnapshot::tokens() const { return data_->tokens; }

SessionSnapshot Session::snapshot() const { return SessionSnapshot(capture(*impl_)); }

void Session::restore(const SessionSnapshot& snapshot) {
  check_compatible(*impl_, snapshot.data(), "session snapshot");
  apply(*impl_, snapshot.data());
}

void Session::save(const std::string& path, const std::vector<ChatMessage>& messages) const {
  const std::shared_ptr<const SessionSnapshot::Data> data = capture(*impl_);
  const model::KvCache& cache = impl_->cache;
  nlohmann::ordered_json info = {{"kv_type", std::string(kv_type_name(data->kv_type))},
                                 {"layers", cache.layers()},
                                 {"kv_width", cache.kv_width()},
                                 {"slice", cache.slice()},
                                 {"vocab", impl_->model->info().hyperparameters.vocab_size},
                                 {"position", data->tokens.size()},
                                 {"logits", data->logits.size()},
                                 {"kv_bytes", data->kv.size()},
                                 {"rng_started", data->rng_started},
                                 {"rng_seed", data->rng_seed}};
  std::ostringstream rng_state;
  rng_state << data->rng;
  info["rng_state"] = rng_state.str();
  info["messages"] = text::messages_to_json(messages, text::ToolArguments::text);
  const std::string json = info.dump();

  std::string payload;
  put<uint64_t>(payload, json.size());
  payload += json;
  payload.append(reinterpret_cast<const char*>(data->tokens.data()), data->tokens.size() * sizeof(int32_t));
  payload.append(reinterpret_cast<const char*>(data->logits.data()), data->logits.size() * sizeof(float));
  payload.append(reinterpret_cast<const char*>(data->kv.data()), data->kv.size());

  std::string compressed(ZSTD_compressBound(payload.size()), '\0');
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1);
  const size_t written = ZSTD_compress2(context, compressed.data(), compressed.size(), payload.data(), payload.size());
  ZSTD_freeCCtx(context);
  if (ZSTD_isError(written)) throw Error(path, std::string("compression failed: ") + ZSTD_getErrorName(written));
  compressed.resize(written);

  std::string header(kMagic, sizeof(kMagic));
  put<uint32_t>(header, kVersion);
  put<uint32_t>(header, 0);
  put<uint64_t>(header, data->model_checksum);
  put<uint64_t>(header, data->model_bytes);
  put<uint64_t>(header, payload.size());
  put<uint64_t>(header, compressed.size());

  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path, "cannot write (" + temporary + ")");
    out.write(header.data(), std::streamsize(header.size()));
    out.write(compressed.data(), std::streamsize(compressed.size()));
    out.flush();
    if (!out) {
      std::filesystem::remove(temporary);
      throw Error(path, "write failed (disk full?)");
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary);
    throw Error(path, "cannot move the saved session into place: " + error.message());
  }
}

std::vector<ChatMessage> Session::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open the saved session");
  std::error_code error;
  const uint64_t file_bytes = std::filesystem::file_size(path, error);
  if (error) throw Error(path, "cannot read: " + error.message());
  if (file_bytes < kHeaderBytes) throw Error(path, "truncated: not a saved smoe session");
  std::vector<std::byte> header(kHeaderBytes);
  in.read(reinterpret_cast<char*>(header.data()), std::streamsize(kHeaderBytes));
  if (std::memcmp(header.data(), kMagic, sizeof(kMagic)) != 0) throw Error(path, "not a saved smoe session (wrong magic)");
  if (get<uint32_t>(&header[8]) != kVersion) {
    throw Error(path, "saved-session version " + std::to_string(get<uint32_t>(&header[8])) + " is not supported");
  }
  auto data = std::make_shared<SessionSnapshot::Data>();
  data->model_checksum = get<uint64_t>(&header[16]);
  data->model_bytes = get<uint64_t>(&header[24]);
  const uint64_t payload_bytes = get<uint64_t>(&header[32]), compressed_bytes = get<uint64_t>(&header[40]);
  if (compressed_bytes != file_bytes - kHeaderBytes) {
    throw Error(path, "truncated or padded: " + std::to_string(file_bytes - kHeaderBytes) + " bytes of data, the header says " +
                          std::to_string(compressed_bytes));
  }
  // The largest payload this session could have written: bound the allocation before it.
  const model::KvCache& cache = impl_->cache;
  const uint32_t vocab = impl_->model->info().hyperparameters.vocab_size;
  const uint64_t most = 8 + kMaxJsonBytes + uint64_t{cache.context()} * 4 + uint64_t{vocab} * 4 + cache.exported_bytes(cache.context());
  if (payload_bytes > most) throw Error(path, "payload of " + std::to_string(payload_bytes) + " bytes is larger than any session of this model");
  check_model(*impl_, data->model_checksum, data->model_bytes, path);  // before decompressing anything

  std::vector<char> compressed(compressed_bytes);
  if (!in.read(compressed.data(), std::streamsize(compressed_bytes))) throw Error(path, "truncated: cannot read the data");
  const unsigned long long declared = ZSTD_getFrameContentSize(compressed.data(), compressed.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR || declared == ZSTD_CONTENTSIZE_UNKNOWN || declared != payload_bytes) {
    throw Error(path, "corrupt: the compressed data does not match the header");
  }
  std::vector<std::byte> payload(payload_bytes);
  const size_t got = ZSTD_decompress(payload.data(), payload.size(), compressed.data(), compressed.size());
  if (ZSTD_isError(got) || got != payload_bytes) {
    throw Error(path, std::string("corrupt: ") + (ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short data"));
  }

  if (payload_bytes < 8) throw Error(path, "corrupt: no metadata");
  const uint64_t json_bytes = get<uint64_t>(payload.data());
  if (json_bytes > kMaxJsonBytes || json_bytes > payload_bytes - 8) throw Error(path, "corrupt: metadata length out of range");
  const nlohmann::ordered_json info = nlohmann::ordered_json::parse(reinterpret_cast<const char*>(payload.data()) + 8,
                                                            reinterpret_cast<const char*>(payload.data()) + 8 + json_bytes, nullptr, false);
  if (info.is_discarded() || !info.is_object()) throw Error(path, "corrupt: metadata is not JSON");
  std::vector<ChatMessage> messages;
  uint64_t position = 0, logits = 0, kv_bytes = 0;
  try {
    const std::string kv = info.at("kv_type").get<std::string>();
    const std::optional<KvType> kv_type = parse_kv_type(kv);
    if (!kv_type) throw Error(path, "unknown KV type '" + kv + "'");
    data->kv_type = *kv_type;
    if (info.at("layers").get<uint32_t>() != cache.layers() || info.at("kv_width").get<uint32_t>() != cache.kv_width() ||
        info.at("slice").get<uint32_t>() != cache.slice() || info.at("vocab").get<uint32_t>() != vocab) {
      throw Error(path, "its dimensions do not match this model");
    }
    position = info.at("position").get<uint64_t>();
    logits = info.at("logits").get<uint64_t>();
    kv_bytes = info.at("kv_bytes").get<uint64_t>();
    data->rng_started = info.at("rng_started").get<bool>();
    data->rng_seed = info.at("rng_seed").get<uint64_t>();
    std::istringstream rng_state(info.at("rng_state").get<std::string>());
    rng_state >> data->rng;
    if (!rng_state) throw Error(path, "corrupt: sampler state");
    messages = text::messages_from_json(info.at("messages"), path);
  } catch (const nlohmann::json::exception& failure) {
    throw Error(path, std::string("corrupt metadata: ") + failure.what());
  }
  check_compatible(*impl_, *data, path);
  if (position > cache.context() || (logits != 0 && logits != vocab) || kv_bytes != cache.exported_bytes(uint32_t(position)) ||
      8 + json_bytes + position * 4 + logits * 4 + kv_bytes != payload_bytes) {
    throw Error(path, "corrupt: section sizes do not add up");
  }
  const std::byte* at = payload.data() + 8 + json_bytes;
  data->tokens.resize(position);
  std::memcpy(data->tokens.data(), at, position * 4);
  at += position * 4;
  for (int32_t token : data->tokens) {
    if (token < 0 || uint32_t(token) >= vocab) throw Error(path, "corrupt: token id " + std::to_string(token) + " outside the vocabulary");
  }
  data->logits.resize(logits);
  std::memcpy(data->logits.data(), at, logits * 4);
  at += logits * 4;
  data->kv.assign(at, at + kv_bytes);
  apply(*impl_, *data);
  return messages;
}

}  // namespace smoe
