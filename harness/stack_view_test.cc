#include "harness/stack_view.h"

#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "gtest/gtest.h"

namespace harness {
namespace {

ABSL_ATTRIBUTE_NOINLINE StackView UserCallChain(int remaining) {
  StackView view = remaining == 1 ? CaptureStackView("UserCallChain")
                                  : UserCallChain(remaining - 1);
  asm volatile("" ::: "memory");  // not a tail call: the caller stays
  return view;
}

TEST(StackViewTest, CountsEveryLiveCallerOnTheStack) {
  StackView view = UserCallChain(3);
  EXPECT_EQ(view.user_frames_visible, 3);
  EXPECT_GT(view.frames_total, 3);
}

TEST(StackViewTest, AFunctionNotOnTheStackIsNotCounted) {
  StackView view = CaptureStackView("NoSuchFunctionAnywhere");
  EXPECT_EQ(view.user_frames_visible, 0);
  EXPECT_GT(view.frames_total, 0);
}

TEST(StackViewTest, CountUserFramesCountsTheNamesThatContainTheFunction) {
  std::vector<std::string> chain = {"harness::FailingOperation", "harness::UserCall",
                                    "harness::UserCall", "harness::RunDebugStack",
                                    "harness::UserCall"};
  EXPECT_EQ(CountUserFrames(chain, "UserCall"), 3);
  EXPECT_EQ(CountUserFrames({}, "UserCall"), 0);
}

}  // namespace
}  // namespace harness

int main(int argc, char** argv) {
  harness::InitializeSymbolizer(argv[0]);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
