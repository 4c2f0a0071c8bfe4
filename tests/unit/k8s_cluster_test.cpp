#include "k8s/cluster.hpp"

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

}  // namespace
}  // namespace decant::k8s
