#include "k8s/pod_security.hpp"

namespace decant::k8s {

using nlohmann::ordered_json;

ordered_json restricted_pod_security(int fs_group) {
  return {{"runAsNonRoot", true}, {"fsGroup", fs_group}, {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

ordered_json restricted_container_security(int uid, bool read_only_root) {
  return {{"runAsNonRoot", true},
          {"runAsUser", uid},
          {"runAsGroup", uid},
          {"allowPrivilegeEscalation", false},
          {"readOnlyRootFilesystem", read_only_root},
          {"capabilities", {{"drop", {"ALL"}}}},
          {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

}  // namespace decant::k8s
