#include "k8s/yaml.hpp"

#include <cctype>

namespace decant::k8s {
namespace {

using nlohmann::ordered_json;

bool is_scalar(const ordered_json& v) { return !v.is_structured() || v.empty(); }

// Kubernetes keys are plain words; anything else is quoted.
std::string key_text(const std::string& key) {
  bool plain = !key.empty();
  for (char c : key)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.' && c != '/') plain = false;
  return plain ? key : ordered_json(key).dump();
}

void emit(const ordered_json& v, int indent, std::string& out);

// `v` after "key:" or "- ": on the same line when it is a scalar, below it otherwise.
void emit_value(const ordered_json& v, int indent, std::string& out) {
  if (is_scalar(v)) {
    out += " " + v.dump() + "\n";
    return;
  }
  out += "\n";
  emit(v, indent, out);
}

void emit(const ordered_json& v, int indent, std::string& out) {
  std::string pad(static_cast<size_t>(indent), ' ');
  if (v.is_object()) {
    for (const auto& [key, value] : v.items()) {
      out += pad + key_text(key) + ":";
      emit_value(value, value.is_array() ? indent : indent + 2, out);
    }
  } else if (v.is_array()) {
    for (const auto& item : v) {
      if (item.is_object() && !item.empty()) {
        // "- first: ..." then the other keys aligned under it.
        std::string nested;
        emit(item, indent + 2, nested);
        out += pad + "- " + nested.substr(static_cast<size_t>(indent) + 2);
      } else {
        out += pad + "-";
        emit_value(item, indent + 2, out);
      }
    }
  } else {
    out += pad + v.dump() + "\n";
  }
}

}  // namespace

std::string to_yaml(const std::vector<nlohmann::ordered_json>& objects) {
  std::string out;
  for (const auto& o : objects) {
    out += "---\n";
    emit(o, 0, out);
  }
  return out;
}

}  // namespace decant::k8s
