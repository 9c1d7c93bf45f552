#include "gil_model/subprocess.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace gil_model {
namespace {

TEST(SubprocessTest, ReadsLinesThenTheRest) {
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(
      {"/bin/sh", "-c", "echo first; echo second; echo third"});
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<std::string> line = (*process)->ReadLine(absl::Seconds(30));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line, "first");
  absl::StatusOr<std::string> rest = (*process)->Finish();
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(*rest, "second\nthird\n");
}

TEST(SubprocessTest, MissingProgramIsNotFound) {
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start({"gil-model-no-such-program"});
  EXPECT_EQ(process.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(process.status().message().find("gil-model-no-such-program"),
            std::string::npos);
}

TEST(SubprocessTest, FailingProgramIsAnError) {
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start({"/bin/sh", "-c", "echo partial; exit 3"});
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<std::string> out = (*process)->Finish();
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(out.status().message().find("exit status 3"), std::string::npos);
}

TEST(SubprocessTest, SilentProgramTimesOutAndIsKilledOnDestruction) {
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start({"/bin/sh", "-c", "sleep 600"});
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<std::string> line =
      (*process)->ReadLine(absl::Milliseconds(50));
  EXPECT_EQ(line.status().code(), absl::StatusCode::kDeadlineExceeded);
  // The destructor kills and reaps the sleeping shell; the test would hang
  // (and time out) otherwise.
}

TEST(SubprocessTest, EmptyCommandLineIsInvalid) {
  EXPECT_EQ(Subprocess::Start({}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gil_model
