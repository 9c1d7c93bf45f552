// CreateTask, Gather, WaitFor and Wait on frameless awaitables (Read(span),
// Drain(), SendAll) without a coroutine around them (awaitable_task.h).
// Under AddressSanitizer these tests also prove that no awaitable is
// referenced after the expression that made it: each is awaited by a task
// that outlives that expression.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "asyncio_like/awaitable_task.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/future.h"
#include "asyncio_like/gather.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/task.h"
#include "asyncio_like/tcp.h"
#include "asyncio_like/test_util.h"
#include "asyncio_like/timeout.h"
#include "asyncio_like/wait.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// A connected pair of stream sockets: `near` wrapped as a Stream, `far` a
// raw descriptor the test writes to and reads from.
struct Pair {
  Stream near;
  TcpSocket far;
};

Pair MakePair() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    ADD_FAILURE() << "socketpair: " << std::strerror(errno);
  }
  return Pair{Stream(TcpSocket(fds[0])), TcpSocket(fds[1])};
}

void WriteTo(const TcpSocket& socket, const std::string& data) {
  ASSERT_EQ(write(socket.fd(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
}

// Awaitables that cannot be moved into a task are refused at compile time,
// instead of being referenced after their expression ends.
template <typename A>
concept CreateTaskAccepts = requires(A&& a) { CreateTask(std::forward<A>(a)); };
template <typename A>
concept WaitForAccepts = requires(A&& a) { WaitFor(std::forward<A>(a), absl::Seconds(1)); };
template <typename A>
concept GatherAccepts = requires(A&& a) { Gather(std::forward<A>(a)); };
static_assert(CreateTaskAccepts<StreamReader::ReadOp>);
static_assert(CreateTaskAccepts<StreamWriter::DrainOp>);
static_assert(CreateTaskAccepts<internal::SendAllOp>);
static_assert(!CreateTaskAccepts<Sleep>, "Sleep cannot be moved: refused");
static_assert(!CreateTaskAccepts<StreamReader::ReadOp&>, "an lvalue: std::move it");
static_assert(WaitForAccepts<StreamReader::ReadOp>);
static_assert(!WaitForAccepts<Sleep>);
static_assert(!WaitForAccepts<StreamReader::ReadOp&>);
static_assert(GatherAccepts<StreamWriter::DrainOp>);
static_assert(!GatherAccepts<Sleep>);
static_assert(std::is_constructible_v<Waitable, StreamReader::ReadOp>);
static_assert(!std::is_constructible_v<Waitable, Sleep>);
static_assert(!std::is_constructible_v<Waitable, StreamReader::ReadOp&>);

TEST(AwaitableTaskTest, WaitForOnARead) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Pair pair = MakePair();
    std::array<char, 16> buffer{};
    // Nothing arrives: the deadline cancels the read.
    EXPECT_THROW((void)co_await WaitFor(pair.near.reader.Read(absl::MakeSpan(buffer)),
                                        absl::Milliseconds(10)),
                 TimeoutError);
    WriteTo(pair.far, "hello");
    absl::StatusOr<size_t> n =
        co_await WaitFor(pair.near.reader.Read(absl::MakeSpan(buffer)), absl::Seconds(10));
    EXPECT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(std::string(buffer.data(), n.value_or(0)), "hello");
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(AwaitableTaskTest, GatherReadsAndTasksTogether) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Pair a = MakePair();
    Pair b = MakePair();
    std::array<char, 16> buf_a{}, buf_b{};
    WriteTo(a.far, "left");
    auto write_b = [](const TcpSocket* far) -> Task<int> {
      co_await Sleep(absl::Milliseconds(5));
      WriteTo(*far, "right!");
      co_return 7;
    };
    auto [n_a, n_b, seven] = co_await Gather(a.near.reader.Read(absl::MakeSpan(buf_a)),
                                             b.near.reader.Read(absl::MakeSpan(buf_b)),
                                             write_b(&b.far));
    EXPECT_EQ(std::string(buf_a.data(), n_a.value_or(0)), "left");
    EXPECT_EQ(std::string(buf_b.data(), n_b.value_or(0)), "right!");
    EXPECT_EQ(seven, 7);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

// The task is made in another function, whose frame (and the expression
// that made the ReadOp) is gone before the task first runs.
Task<absl::StatusOr<size_t>> StartRead(StreamReader& reader, absl::Span<char> buffer) {
  return CreateTask(reader.Read(buffer), "read");
}

TEST(AwaitableTaskTest, CreateTaskOwnsTheAwaitable) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Pair pair = MakePair();
    std::array<char, 16> buffer{};
    Task<absl::StatusOr<size_t>> reading = StartRead(pair.near.reader, absl::MakeSpan(buffer));
    EXPECT_EQ(reading.name(), "read");
    co_await Sleep(absl::Milliseconds(1));
    EXPECT_FALSE(reading.done());
    WriteTo(pair.far, "late");
    absl::StatusOr<size_t> n = co_await reading;
    EXPECT_EQ(std::string(buffer.data(), n.value_or(0)), "late");

    // A send and a drain as tasks of their own.
    const std::string data(100000, 'x');
    Task<absl::Status> sent = CreateTask(pair.far.SendAll(data));
    pair.near.writer.Write("reply");
    Task<absl::Status> drained = CreateTask(pair.near.writer.Drain());
    std::string received;
    std::array<char, 4096> chunk{};
    while (received.size() < data.size()) {
      absl::StatusOr<size_t> got = co_await pair.near.reader.Read(absl::MakeSpan(chunk));
      if (!got.ok() || *got == 0) break;
      received.append(chunk.data(), *got);
    }
    EXPECT_EQ(received, data);
    EXPECT_TRUE((co_await sent).ok());
    EXPECT_TRUE((co_await drained).ok());
    char reply[5];
    EXPECT_EQ(read(pair.far.fd(), reply, sizeof reply), 5);
    EXPECT_EQ(std::string(reply, 5), "reply");
  }());
  EXPECT_TRUE(status.ok()) << status;
}

TEST(AwaitableTaskTest, WaitOnAReadAndAFuture) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, {});
  absl::Status status = RunTest(loop.get(), []() -> Task<void> {
    Pair pair = MakePair();
    std::array<char, 16> buffer{};
    Future<int> never = CreateFuture<int>();
    std::vector<Waitable> aws = Waitables(pair.near.reader.Read(absl::MakeSpan(buffer)), never);
    WriteTo(pair.far, "ping");
    WaitResult r = co_await Wait(std::move(aws), absl::InfiniteDuration(),
                                 ReturnWhen::kFirstCompleted);
    EXPECT_EQ(r.done.size(), 1u);
    EXPECT_EQ(r.pending, std::vector<Waitable>{never});
    if (r.done.size() != 1u) co_return;
    absl::StatusOr<size_t>& n = r.done[0].Result<absl::StatusOr<size_t>>();
    EXPECT_EQ(std::string(buffer.data(), n.value_or(0)), "ping");
    EXPECT_THROW(r.done[0].Result<int>(), std::logic_error);

    // A Wait that times out leaves the read running; the Waitable owns it.
    std::vector<Waitable> pending_read =
        Waitables(pair.near.reader.Read(absl::MakeSpan(buffer)));
    r = co_await Wait(pending_read, absl::Milliseconds(5));
    EXPECT_EQ(r.pending.size(), 1u);
    WriteTo(pair.far, "pong");
    r = co_await Wait(std::move(pending_read));
    EXPECT_EQ(r.done.size(), 1u);
    if (r.done.size() != 1u) co_return;
    EXPECT_EQ(*r.done[0].Result<absl::StatusOr<size_t>>(), 4u);
  }());
  EXPECT_TRUE(status.ok()) << status;
}

}  // namespace
}  // namespace asyncio_like
