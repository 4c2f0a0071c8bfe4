#pragma once
// The security contexts that make a pod fit the `restricted` Pod Security Standard
// (kubernetes.io/docs/concepts/security/pod-security-standards): non-root, no privilege
// escalation, no capabilities, the runtime's default seccomp profile. Every pod decant
// makes (the backup CronJobs, the in-cluster copy) is built on them, so that a namespace
// that enforces `restricted` admits it.
#include <nlohmann/json.hpp>

namespace decant::k8s {

// The uid and gid decant's image runs as (the "nonroot" user of distroless images).
inline constexpr int kDecantUid = 65532;

// The pod's: non-root, RuntimeDefault seccomp, `fs_group` owning its volumes (emptyDirs
// writable by every container, which all get it as a supplementary group).
nlohmann::ordered_json restricted_pod_security(int fs_group);
// A container's: as `uid` (its image's user), nothing to escalate to, every capability
// dropped; a read-only root file system where the program writes only to volumes.
nlohmann::ordered_json restricted_container_security(int uid, bool read_only_root);

}  // namespace decant::k8s
