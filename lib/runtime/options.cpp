// Names of the option enums.
#include "smoe/options.h"

namespace smoe {

std::string_view kv_type_name(KvType type) {
  switch (type) {
    case KvType::f32: return "f32";
    case KvType::q8: return "q8";
    case KvType::f16: break;
  }
  return "f16";
}

std::optional<KvType> parse_kv_type(std::string_view name) {
  for (const KvType type : {KvType::f16, KvType::f32, KvType::q8}) {
    if (name == kv_type_name(type)) return type;
  }
  return std::nullopt;
}

}  // namespace smoe
