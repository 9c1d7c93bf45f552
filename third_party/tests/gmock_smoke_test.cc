// A gMock expectation on a mocked interface: the mock must see the calls the
// code under test makes, with the arguments it makes them with.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

class Sink {
 public:
  virtual ~Sink() = default;
  virtual int Write(const std::string& data) = 0;
};

class MockSink : public Sink {
 public:
  MOCK_METHOD(int, Write, (const std::string& data), (override));
};

// Writes each line and returns the total the sink reports.
int WriteAll(Sink& sink, const std::vector<std::string>& lines) {
  int total = 0;
  for (const auto& line : lines) total += sink.Write(line);
  return total;
}

TEST(GmockSmokeTest, ExpectationsSeeCallsInOrder) {
  MockSink sink;
  ::testing::InSequence in_order;
  EXPECT_CALL(sink, Write("hello")).WillOnce(::testing::Return(5));
  EXPECT_CALL(sink, Write(::testing::StartsWith("wor"))).WillOnce(::testing::Return(5));
  EXPECT_EQ(WriteAll(sink, {"hello", "world"}), 10);
}

}  // namespace
