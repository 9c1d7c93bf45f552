// An absl::Mutex-guarded handoff between two threads, signalled through
// absl::Notification: the consumer must see every value the producer wrote.
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace {

TEST(AbseilSmokeTest, NotificationPublishesWritesAcrossThreads) {
  std::vector<int> values;  // Written before Notify(), read after.
  absl::Notification ready;
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) values.push_back(i);
    ready.Notify();
  });
  ready.WaitForNotification();
  ASSERT_EQ(values.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(values[i], i);
  producer.join();
}

TEST(AbseilSmokeTest, MutexAwaitHandsOffInOrder) {
  absl::Mutex mu;
  int turn = 0;  // Guarded by mu: 0 means the ping thread moves next.
  std::vector<int> log;
  constexpr int kRounds = 500;
  auto player = [&](int me) {
    auto my_turn = [&turn, me]() { return turn == me; };
    for (int i = 0; i < kRounds; ++i) {
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(&my_turn));
      log.push_back(me);
      turn = 1 - me;
    }
  };
  std::thread ping(player, 0);
  std::thread pong(player, 1);
  ping.join();
  pong.join();
  ASSERT_EQ(log.size(), 2u * kRounds);
  for (size_t i = 0; i < log.size(); ++i) EXPECT_EQ(log[i], static_cast<int>(i % 2));
}

}  // namespace
