#pragma once
// Kubernetes objects as YAML, the way operators read and keep them: block style, keys in
// the objects' own order, every string double-quoted (a JSON string is a YAML one, so no
// value can turn into a number, a boolean or a comment).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace decant::k8s {

// One YAML document per object, each starting with "---".
std::string to_yaml(const std::vector<nlohmann::ordered_json>& objects);

}  // namespace decant::k8s
