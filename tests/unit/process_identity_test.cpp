#include "process/identity.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace decant {
namespace {

TEST(ProcessIdentity, ALiveProcessIsNeverSeenEnded) {
  auto me = ProcessIdentity::self();
  EXPECT_FALSE(me.boot.empty());
  EXPECT_EQ(me.pid_namespace.rfind("pid:[", 0), 0u) << me.pid_namespace;
  EXPECT_EQ(me.pid, getpid());
  EXPECT_GT(me.started, 0u);
  EXPECT_FALSE(me.sees_ended(me));
  EXPECT_EQ(ProcessIdentity::of(getpid()).started, me.started);
}

// A child known while it ran is seen ended once it exited and was reaped; the same child
// named by another boot or pid namespace cannot be told (it may run elsewhere).
TEST(ProcessIdentity, AProcessThatExitedIsSeenEndedOnlyFromItsOwnProcessTable) {
  int gate[2];
  ASSERT_EQ(pipe(gate), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(gate[1]);
    char byte;
    (void)!read(gate[0], &byte, 1);
    _exit(0);
  }
  close(gate[0]);
  auto me = ProcessIdentity::self();
  auto running = ProcessIdentity::of(child);
  EXPECT_GT(running.started, 0u);
  EXPECT_FALSE(me.sees_ended(running));
  close(gate[1]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(me.sees_ended(running));

  auto elsewhere = running;
  elsewhere.boot = "another-boot";
  EXPECT_FALSE(me.sees_ended(elsewhere));
  auto other_pod = running;
  other_pod.pid_namespace = "pid:[1]";
  EXPECT_FALSE(me.sees_ended(other_pod));
  // A pid now used by another process (this one) started at another time: the holder ended.
  auto reused = me;
  reused.started = me.started + 1;
  EXPECT_TRUE(me.sees_ended(reused));
  // Nothing known of the start: cannot tell.
  auto unknown = running;
  unknown.started = 0;
  EXPECT_FALSE(me.sees_ended(unknown));
}

}  // namespace
}  // namespace decant
