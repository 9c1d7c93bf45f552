#include "threadpool/future.h"

#include "gtest/gtest.h"
#include "threadpool/thread_pool.h"

namespace threadpool {
namespace {

TEST(FutureTest, Smoke) {
  auto pool = ThreadPoolExecutor::Create({.max_workers = 2});
  ASSERT_TRUE(pool.ok());
  auto f = (*pool)->Submit([](int x) { return x * 2; }, 21);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->Result(), 42);
}

}  // namespace
}  // namespace threadpool
