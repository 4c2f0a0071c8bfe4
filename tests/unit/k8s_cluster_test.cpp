#include "k8s/cluster.hpp"
#include "k8s/decant_job.hpp"

#include <gtest/gtest.h>

namespace decant::k8s {
namespace {

ProcessResult failed(std::string errors) {
  ProcessResult r;
  r.exit_status = 1;
  r.errors = std::move(errors);
  return r;
}

TEST(Base64, DecodesSecretDataWithAndWithoutPadding) {
  EXPECT_EQ(secret_data("cGdzZWNyZXQ="), "pgsecret");
  EXPECT_EQ(secret_data("YWJj"), "abc");
  EXPECT_EQ(secret_data("YQ=="), "a");
  EXPECT_EQ(secret_data(""), "");
  EXPECT_THROW(secret_data("not base64!"), Error);
}

TEST(ClusterFailure, EachKnownFailureHasItsOwnExitCodeAndKeepsTheToolsWords) {
  auto forbidden = cluster_failure("kubectl", "to scale", failed(
      "Error from server (Forbidden): deployments.apps \"frontend\" is forbidden: User \"ro\" cannot patch resource\n"));
  EXPECT_EQ(forbidden.code(), ExitCode::privileges);
  EXPECT_NE(std::string(forbidden.what()).find("cannot patch resource"), std::string::npos);
  EXPECT_EQ(cluster_failure("kubectl", "x", failed("error: context \"nope\" does not exist\n")).code(), ExitCode::usage);
  EXPECT_EQ(cluster_failure("kubectl", "x", failed("The connection to the server 127.0.0.1:1 was refused - did you "
                                                   "specify the right host or port?\nUnable to connect to the server"))
                .code(),
            ExitCode::unreachable);
  EXPECT_EQ(cluster_failure("kubectl", "x", failed("Error from server (NotFound): secrets \"postgresql\" not found\n"))
                .code(),
            ExitCode::cluster_mismatch);
  EXPECT_EQ(cluster_failure("helm", "x", failed("Error: UPGRADE FAILED: timed out waiting for the condition\n")).code(),
            ExitCode::cluster_failed);
  ProcessResult stopped = failed("");
  stopped.stopped = true;
  EXPECT_EQ(cluster_failure("kubectl", "x", stopped).code(), ExitCode::interrupted);
}

// A Job failed by its pod failure policy names the container and its exit code in its Failed
// condition (as kube-controller-manager 1.36 wrote it on the real node): the one record once
// the pod was deleted before its end was read.
TEST(FailedByPolicy, ReadsTheContainerAndExitCodeOfTheJobsFailedCondition) {
  const std::string message =
      "Container postgresql for pod outlive/decant-migrate-copy-postgresql-srjqc failed with exit code 3 "
      "matching FailJob rule at index 0";
  auto job = nlohmann::json::parse(R"({"status": {"conditions": [
      {"type": "FailureTarget", "status": "True", "reason": "PodFailurePolicy", "message": "x"},
      {"type": "Failed", "status": "True", "reason": "PodFailurePolicy", "message": ")" + message + R"("}]}})");
  auto failed = failed_by_policy(job);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->first, "postgresql");
  EXPECT_EQ(failed->second, 3);

  auto lost = nlohmann::json::parse(R"({"status": {"conditions": [
      {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}})");
  EXPECT_FALSE(failed_by_policy(lost).has_value());
  auto running = nlohmann::json::parse(R"({"status": {"active": 1}})");
  EXPECT_FALSE(failed_by_policy(running).has_value());
}

}  // namespace
}  // namespace decant::k8s
