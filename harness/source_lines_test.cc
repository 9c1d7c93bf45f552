#include "harness/source_lines.h"

#include "gtest/gtest.h"

namespace harness {
namespace {

TEST(SourceLinesTest, CountsCodeLinesAndAsyncMarkersInTheRegion) {
  const char* text = R"(
int before() { return 0; }
// [readability:echo]
Task<void> Echo(Reader r) {
  // a comment line is not code

  auto n = co_await r.Read();   // co_await counts, co_awaited does not
  co_return;
}
// [end]
int after() { co_await x; }
)";
  absl::StatusOr<RegionCount> count = CountRegionInText(text, "echo");
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(count->code_lines, 4);
  EXPECT_EQ(count->async_markers, 3);  // Task<, co_await, co_return
}

TEST(SourceLinesTest, PythonRegions) {
  const char* text =
      "# [readability:fanout]\n"
      "async def one():\n"
      "    await asyncio.sleep(1)  # awaits\n"
      "def sync():\n"
      "    time.sleep(1)\n"
      "# [end]\n";
  absl::StatusOr<RegionCount> count = CountRegionInText(text, "fanout");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->code_lines, 4);
  EXPECT_EQ(count->async_markers, 2);
}

TEST(SourceLinesTest, MissingRegionOrEndIsNotFound) {
  EXPECT_EQ(CountRegionInText("x\n", "echo").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CountRegionInText("// [readability:echo]\nx\n", "echo").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CountRegion("/nonexistent/file.cc", "echo").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace harness
