#pragma once
// std::optional<T> as JSON: null when empty. nlohmann-json 3.11.2 (Debian's) has no
// serializer of its own for it.
#include <nlohmann/json.hpp>

#include <optional>

namespace nlohmann {
template <typename T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& value) {
    if (value)
      j = *value;
    else
      j = nullptr;
  }
  static void from_json(const json& j, std::optional<T>& value) {
    if (j.is_null())
      value.reset();
    else
      value = j.get<T>();
  }
};
}  // namespace nlohmann
