// Receives through the loop's provided-buffer ring (uring.h): bytes arrive
// whole and in order, a ring that runs dry loses nothing, a cancellation
// racing the data returns the buffer and keeps the bytes, a loop destroyed
// with receives waiting frees everything, faults still do what they say,
// and a kernel without buffer rings keeps receives working. Also
// StreamReader::ReadSome, the read that needs no caller's buffer.
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asyncio_like/echo_server.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/gather.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/test_util.h"
#include "asyncio_like/uring.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// A connected pair: the loop reads `stream`, the test writes to `peer`.
struct Pair {
  std::unique_ptr<Stream> stream;
  int peer = -1;
};

Pair MakePair() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return {};
  return {std::make_unique<Stream>(TcpSocket(fds[0])), fds[1]};
}

std::string Pattern(size_t size, size_t seed) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + seed * 7) % 251);
  return bytes;
}

// Sends chunks of many sizes through an echo server on this loop, each
// checked byte for byte; yields the bytes echoed.
Task<size_t> EchoChunks(uint16_t port) {
  absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", port);
  EXPECT_TRUE(stream.ok()) << stream.status();
  if (!stream.ok()) co_return 0;
  size_t echoed = 0;
  for (size_t i = 0; i < 60; ++i) {
    const std::string chunk = Pattern(1 + (i * 977) % 40'000, i);
    stream->writer.Write(chunk);
    EXPECT_TRUE((co_await stream->writer.Drain()).ok());
    absl::StatusOr<std::string> echo = co_await stream->reader.ReadExactly(chunk.size());
    EXPECT_TRUE(echo.ok()) << echo.status();
    if (!echo.ok() || *echo != chunk) {
      ADD_FAILURE() << "chunk " << i << " of " << chunk.size() << " bytes came back wrong";
      co_return echoed;
    }
    echoed += chunk.size();
  }
  EXPECT_TRUE((co_await stream->writer.Close()).ok());
  co_return echoed;
}

Task<size_t> EchoThroughServer() {
  absl::StatusOr<Server> server = StartServer(EchoConnection, "127.0.0.1", 0);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) co_return 0;
  const size_t echoed = co_await EchoChunks(server->port());
  server->Close();
  co_return echoed;
}

// Runs an echo on a loop made with `options` and returns its ring's stats.
void ExpectByteExactEcho(const LoopOptions& options, BufferRingStats* stats) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, options);
  absl::StatusOr<size_t> echoed = loop->RunUntilComplete(EchoThroughServer());
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_GT(*echoed, 900'000u);
  *stats = loop->uring().buffer_ring_stats();
  EXPECT_TRUE(loop->CancelAllAndDrain().ok());
}

TEST(BufferRingTest, EchoIsByteExactThroughTheRing) {
  BufferRingStats stats;
  ExpectByteExactEcho(LoopOptions{}, &stats);
  if (HasFatalFailure() || IsSkipped()) return;
  // This kernel (5.19+) has buffer rings: the reads went through them.
  EXPECT_TRUE(stats.registered);
  EXPECT_GT(stats.selected, 60u);
  EXPECT_EQ(stats.provided, Uring::kRingGrowth);
  EXPECT_EQ(stats.exhausted, 0u);
}

// Receives shortened by the injector take part of a ring buffer.
TEST(BufferRingTest, ShortReceivesIntoRingBuffersStayByteExact) {
  LoopOptions options;
  options.faults.short_transfer = 0.7;
  options.faults.seed = 5;
  BufferRingStats stats;
  ExpectByteExactEcho(options, &stats);
  if (HasFatalFailure() || IsSkipped()) return;
  EXPECT_TRUE(stats.registered);
  EXPECT_GT(stats.selected, 100u);
}

// A kernel that refuses the ring (before 5.19): receives own their buffers.
TEST(BufferRingTest, WithoutABufferRingReceivesOwnTheirBuffers) {
  LoopOptions options;
  options.faults.no_buffer_ring = 1;
  BufferRingStats stats;
  ExpectByteExactEcho(options, &stats);
  if (HasFatalFailure() || IsSkipped()) return;
  EXPECT_FALSE(stats.registered);
  EXPECT_EQ(stats.selected, 0u);
  EXPECT_EQ(stats.provided, 0u);
}

TEST(BufferRingTest, NoBufferRingIsAFaultClass) {
  absl::StatusOr<FaultOptions> options = ParseFaultSpec("nobufring=1,seed=2");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->no_buffer_ring, 1);
  EXPECT_TRUE(options->enabled());
  EXPECT_EQ(options->ToSpec(), "seed=2,nobufring=1");
  FaultInjector injector(*options);
  EXPECT_TRUE(injector.RefuseBufferRing());
  EXPECT_EQ(injector.stats().refused_buffer_rings, 1u);
  EXPECT_FALSE(FaultInjector(FaultOptions{}).RefuseBufferRing());
}

// More receives find data in one kernel entry than the ring has buffers:
// those that find it empty go again on the next entry, and the ring grows
// once for that pass, not once per receive.
Task<void> ReadAllPairs(std::vector<Pair>* pairs, size_t size) {
  std::vector<Task<absl::StatusOr<std::string>>> reads;
  for (Pair& pair : *pairs) reads.push_back(pair.stream->reader.ReadExactly(size));
  std::vector<absl::StatusOr<std::string>> got = co_await Gather(std::move(reads));
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(got[i].ok()) << got[i].status();
    if (got[i].ok()) {
      EXPECT_TRUE(*got[i] == Pattern(size, i)) << "pair " << i;
    }
  }
}

TEST(BufferRingTest, AnExhaustedRingLosesNoBytes) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, LoopOptions{});
  constexpr size_t kPairs = 3 * Uring::kRingGrowth;
  constexpr size_t kSize = 3000;
  std::vector<Pair> pairs;
  for (size_t i = 0; i < kPairs; ++i) {
    pairs.push_back(MakePair());
    ASSERT_GE(pairs.back().peer, 0);
    const std::string bytes = Pattern(kSize, i);
    ASSERT_EQ(write(pairs.back().peer, bytes.data(), bytes.size()), static_cast<ssize_t>(kSize));
  }
  absl::Status ran = loop->RunUntilComplete(ReadAllPairs(&pairs, kSize));
  EXPECT_TRUE(ran.ok()) << ran;
  const BufferRingStats& stats = loop->uring().buffer_ring_stats();
  ASSERT_TRUE(stats.registered);
  // Every receive was submitted in one entry, all with data waiting.
  EXPECT_GT(stats.exhausted, 0u);
  EXPECT_GT(stats.provided, Uring::kRingGrowth);
  EXPECT_LE(stats.provided, 2 * Uring::kRingGrowth);
  for (Pair& pair : pairs) close(pair.peer);
  pairs.clear();
  EXPECT_TRUE(loop->CancelAllAndDrain().ok());
}

Task<std::string> ReadSomeString(StreamReader* reader) {
  absl::StatusOr<absl::string_view> data = co_await reader->ReadSome(4096);
  EXPECT_TRUE(data.ok()) << data.status();
  co_return data.ok() ? std::string(*data) : std::string();
}

// A receive cancelled as its data arrives: whichever wins, the bytes are
// read exactly once and in order, and the ring buffer goes back (one lost
// per race would empty the ring within its 64 buffers).
Task<void> CancelRaces(Pair* pair, int rounds, int* raced) {
  std::string expected;
  std::string got;
  for (int i = 0; i < rounds; ++i) {
    Task<std::string> read = CreateTask(ReadSomeString(&pair->stream->reader));
    // Every other round the receive is armed in the kernel first; else it
    // is still queued and reaches the kernel with the cancel.
    co_await Sleep(i % 2 == 0 ? absl::Milliseconds(1) : absl::ZeroDuration());
    const char byte = static_cast<char>('a' + i % 26);
    expected.push_back(byte);
    EXPECT_EQ(write(pair->peer, &byte, 1), 1);
    read.Cancel();
    try {
      got += co_await read;
    } catch (const CancelledError&) {
      // The bytes that came with the cancellation stay buffered.
      if (!pair->stream->reader.PeekBuffer().empty()) ++*raced;
    }
  }
  while (got.size() < expected.size()) {
    absl::StatusOr<absl::string_view> rest = co_await pair->stream->reader.ReadSome(4096);
    EXPECT_TRUE(rest.ok() && !rest->empty());
    if (!rest.ok() || rest->empty()) break;
    got.append(rest->data(), rest->size());
  }
  EXPECT_EQ(got, expected);
}

TEST(BufferRingTest, ACancelRacingTheDataReturnsTheBuffer) {
  ASYNCIO_LIKE_LOOP_OR_SKIP(loop, LoopOptions{});
  Pair pair = MakePair();
  ASSERT_GE(pair.peer, 0);
  int raced = 0;
  const int rounds = kUnderSanitizer ? 200 : 400;
  absl::Status ran = loop->RunUntilComplete(CancelRaces(&pair, rounds, &raced));
  EXPECT_TRUE(ran.ok()) << ran;
  const BufferRingStats& stats = loop->uring().buffer_ring_stats();
  ASSERT_TRUE(stats.registered);
  EXPECT_GT(raced, 0);
  EXPECT_GT(stats.selected, static_cast<uint64_t>(Uring::kRingGrowth));
  EXPECT_EQ(stats.exhausted, 0u);
  EXPECT_EQ(stats.provided, Uring::kRingGrowth);
  close(pair.peer);
  pair.stream.reset();
  EXPECT_TRUE(loop->CancelAllAndDrain().ok());
}

// Readers left waiting when the loop goes: some with data just arrived
// (a ring buffer taken), some without. Nothing leaks (LSan), nothing
// crashes, and a new loop reads through its own ring.
Task<void> StartReadersAndLeave(std::vector<Pair>* pairs, std::vector<Task<std::string>>* reads) {
  for (Pair& pair : *pairs) reads->push_back(CreateTask(ReadSomeString(&pair.stream->reader)));
  co_await Sleep(absl::Milliseconds(2));
  for (size_t i = 0; i < pairs->size(); i += 2) {
    EXPECT_EQ(write((*pairs)[i].peer, "x", 1), 1);
  }
}

TEST(BufferRingTest, ALoopDestroyedWithReceivesWaiting) {
  for (int round = 0; round < 3; ++round) {
    std::vector<Pair> pairs;
    for (int i = 0; i < 40; ++i) {
      pairs.push_back(MakePair());
      ASSERT_GE(pairs.back().peer, 0);
    }
    std::vector<Task<std::string>> reads;
    {
      ASYNCIO_LIKE_LOOP_OR_SKIP(loop, LoopOptions{});
      absl::Status ran = loop->RunUntilComplete(StartReadersAndLeave(&pairs, &reads));
      EXPECT_TRUE(ran.ok()) << ran;
      EXPECT_GT(loop->uring().in_flight(), 0u);
      reads.clear();
      // Destroyed with the receives in flight (the frames go with it).
    }
    for (Pair& pair : pairs) close(pair.peer);
  }
  BufferRingStats stats;
  ExpectByteExactEcho(LoopOptions{}, &stats);
  EXPECT_TRUE(stats.registered);
}

// ----- ReadSome (read(n) without a caller's buffer) -----

Task<void> ReadSomeOnAFedReader() {
  StreamReader reader;
  reader.FeedData("hello");
  absl::StatusOr<absl::string_view> first = co_await reader.ReadSome(3);
  EXPECT_TRUE(first.ok() && *first == "hel");
  absl::StatusOr<absl::string_view> zero = co_await reader.ReadSome(0);
  EXPECT_TRUE(zero.ok() && zero->empty());
  absl::StatusOr<absl::string_view> rest = co_await reader.ReadSome(100);
  EXPECT_TRUE(rest.ok() && *rest == "lo");
  EXPECT_TRUE(reader.PeekBuffer().empty());
  // Waits for FeedData, then for FeedEof.
  Task<std::string> waiting = CreateTask(ReadSomeString(&reader));
  co_await Sleep(absl::ZeroDuration());
  EXPECT_FALSE(waiting.done());
  reader.FeedData("world");
  EXPECT_EQ(co_await waiting, "world");
  reader.FeedEof();
  absl::StatusOr<absl::string_view> end = co_await reader.ReadSome(10);
  EXPECT_TRUE(end.ok() && end->empty());
  EXPECT_TRUE(reader.AtEof());
}

TEST(ReadSomeTest, ReadSomeOnAFedReader) { ASYNCIO_LIKE_RUN_LOOP_TEST(ReadSomeOnAFedReader()); }

Task<void> ReadSomeReportsTheReadersError() {
  StreamReader reader;
  reader.FeedData("kept");
  reader.SetException(absl::DataLossError("broken"));
  absl::StatusOr<absl::string_view> data = co_await reader.ReadSome(10);
  EXPECT_EQ(data.status(), absl::DataLossError("broken"));
  // read(0) does not look at the error, as Read(0) does not.
  absl::StatusOr<absl::string_view> zero = co_await reader.ReadSome(0);
  EXPECT_TRUE(zero.ok());
}

TEST(ReadSomeTest, ReadSomeReportsTheReadersError) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(ReadSomeReportsTheReadersError());
}

Task<void> ReadSomeOnASocket() {
  Pair pair = MakePair();
  EXPECT_GE(pair.peer, 0);
  EXPECT_EQ(write(pair.peer, "abcdef", 6), 6);
  absl::StatusOr<absl::string_view> data = co_await pair.stream->reader.ReadSome(4);
  EXPECT_TRUE(data.ok() && *data == "abcd");
  data = co_await pair.stream->reader.ReadSome(4);
  EXPECT_TRUE(data.ok() && *data == "ef");
  shutdown(pair.peer, SHUT_WR);
  data = co_await pair.stream->reader.ReadSome(4);
  EXPECT_TRUE(data.ok() && data->empty());
  EXPECT_TRUE(pair.stream->reader.AtEof());
  close(pair.peer);
  // A closed connection reads end of stream.
  (void)co_await pair.stream->writer.Close();
  data = co_await pair.stream->reader.ReadSome(4);
  EXPECT_TRUE(data.ok() && data->empty());
}

TEST(ReadSomeTest, ReadSomeOnASocket) { ASYNCIO_LIKE_RUN_LOOP_TEST(ReadSomeOnASocket()); }

}  // namespace
}  // namespace asyncio_like
