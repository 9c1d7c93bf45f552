// Streams and TCP over the loop: partial reads and writes, end of stream,
// and each failure a connection can meet (refused, timed out, reset, broken
// pipe, out of descriptors, cancelled), with the other connections and the
// server carrying on.
#include "asyncio_like/stream.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "asyncio_like/echo_server.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/tcp.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/tcp_errors.h"
#include "asyncio_like/test_util.h"
#include "asyncio_like/timeout.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

// One round trip through an echo server.
Task<void> ExpectEcho(uint16_t port, std::string message) {
  absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", port);
  EXPECT_TRUE(stream.ok()) << stream.status();
  if (!stream.ok()) co_return;
  stream->writer.Write(message);
  EXPECT_TRUE((co_await stream->writer.Drain()).ok());
  absl::StatusOr<std::string> echo = co_await stream->reader.ReadExactly(message.size());
  EXPECT_TRUE(echo.ok()) << echo.status();
  if (echo.ok()) {
    EXPECT_EQ(*echo, message);
  }
  EXPECT_TRUE((co_await stream->writer.Close()).ok());
}

// ----- reading and writing -----

struct ParsedRequest {
  absl::StatusOr<std::string> line = absl::UnknownError("not read");
  absl::StatusOr<std::string> body = absl::UnknownError("not read");
  absl::StatusOr<std::string> after_eof = absl::UnknownError("not read");
  bool at_eof = false;
};

Task<void> ParseRequest(std::shared_ptr<ParsedRequest> out, StreamReader reader,
                        StreamWriter writer) {
  out->line = co_await reader.ReadUntil("\r\n");
  out->body = co_await reader.ReadExactly(5);
  if (out->line.ok() && out->body.ok()) writer.Write(*out->line + *out->body);
  (void)co_await writer.Drain();
  out->after_eof = co_await reader.ReadExactly(3);
  out->at_eof = reader.AtEof();
  (void)co_await writer.Close();
}

Task<void> PartialWritesAreReassembled() {
  auto parsed = std::make_shared<ParsedRequest>();
  absl::StatusOr<Server> server = StartServer(
      [parsed](StreamReader r, StreamWriter w) {
        return ParseRequest(parsed, std::move(r), std::move(w));
      },
      "127.0.0.1", 0);
  EXPECT_TRUE(server.ok()) << server.status();
  absl::StatusOr<Stream> client = co_await OpenConnection("127.0.0.1", server->port());
  EXPECT_TRUE(client.ok()) << client.status();
  // The separator and the body arrive split over several segments.
  for (const char* piece : {"GET /", "index\r", "\nab", "c", "de", "xy"}) {
    client->writer.Write(piece);
    EXPECT_TRUE((co_await client->writer.Drain()).ok());
    co_await Sleep(absl::Milliseconds(2));
  }
  EXPECT_TRUE((co_await client->writer.WriteEof()).ok());
  absl::StatusOr<std::string> reply = co_await client->reader.Read(size_t{1000});
  std::string all = reply.ok() ? *reply : "";
  while (reply.ok() && !reply->empty()) {
    reply = co_await client->reader.Read(size_t{1000});
    if (reply.ok()) all += *reply;
  }
  EXPECT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(all, "GET /index\r\nabcde");
  EXPECT_TRUE(client->reader.AtEof());
  EXPECT_EQ(parsed->line.value_or("?"), "GET /index\r\n");
  EXPECT_EQ(parsed->body.value_or("?"), "abcde");
  // Two bytes, then end of stream: an incomplete read, not a crash or hang.
  EXPECT_EQ(parsed->after_eof.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(parsed->after_eof.status().message().find("[IncompleteReadError]"),
            absl::string_view::npos);
  EXPECT_TRUE(parsed->at_eof);
  (void)co_await client->writer.Close();
}

TEST(StreamTest, PartialWritesAreReassembled) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(PartialWritesAreReassembled());
}

struct SpanReads {
  std::vector<absl::StatusOr<size_t>> results;
  std::string bytes;
};

// A line with ReadUntil, then reads into small spans until end of stream.
Task<void> LineThenSpans(std::shared_ptr<SpanReads> out, StreamReader reader,
                         StreamWriter writer) {
  absl::StatusOr<std::string> line = co_await reader.ReadUntil("\n");
  if (line.ok()) out->bytes = *line;
  char none[1];
  out->results.push_back(co_await reader.Read(absl::MakeSpan(none, 0)));
  for (;;) {
    char buffer[3];
    absl::StatusOr<size_t> n = co_await reader.Read(absl::MakeSpan(buffer));
    out->results.push_back(n);
    if (!n.ok() || *n == 0) break;
    out->bytes.append(buffer, *n);
  }
  out->results.push_back(co_await reader.Read(absl::MakeSpan(none)));  // after the end
  (void)co_await writer.Close();
}

Task<void> SpanReadsTakeBufferedBytesFirst() {
  auto reads = std::make_shared<SpanReads>();
  absl::StatusOr<Server> server = StartServer(
      [reads](StreamReader r, StreamWriter w) {
        return LineThenSpans(reads, std::move(r), std::move(w));
      },
      "127.0.0.1", 0);
  EXPECT_TRUE(server.ok());
  absl::StatusOr<Stream> client = co_await OpenConnection("127.0.0.1", server->port());
  EXPECT_TRUE(client.ok());
  // One segment: ReadUntil receives the line and the start of the rest,
  // which the span reads must return before the later bytes.
  client->writer.Write("line\nabcdefg");
  EXPECT_TRUE((co_await client->writer.Drain()).ok());
  co_await Sleep(absl::Milliseconds(5));
  client->writer.Write("hij");
  EXPECT_TRUE((co_await client->writer.WriteEof()).ok());
  absl::StatusOr<std::string> closed = co_await client->reader.Read(size_t{16});
  EXPECT_TRUE(closed.ok() && closed->empty());  // the server closed
  EXPECT_EQ(reads->bytes, "line\nabcdefghij");
  EXPECT_GE(reads->results.size(), 4u);
  if (reads->results.size() < 4) co_return;
  EXPECT_EQ(reads->results.front().value_or(99), 0u);  // an empty span
  for (size_t i = 1; i + 2 < reads->results.size(); ++i) {
    EXPECT_TRUE(reads->results[i].ok() && *reads->results[i] > 0 && *reads->results[i] <= 3);
  }
  EXPECT_EQ(reads->results[reads->results.size() - 2].value_or(99), 0u);  // end of stream
  EXPECT_EQ(reads->results.back().value_or(99), 0u);  // and it stays ended
  (void)co_await client->writer.Close();
}

TEST(StreamTest, SpanReadsTakeBufferedBytesFirst) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(SpanReadsTakeBufferedBytesFirst());
}

Task<void> ReadUntilLimit(std::shared_ptr<absl::Status> out, StreamReader reader,
                          StreamWriter writer) {
  absl::StatusOr<std::string> line = co_await reader.ReadUntil("\n");
  *out = line.status();
  (void)co_await writer.Close();
}

Task<void> LongLineOverrunsTheLimit() {
  auto status = std::make_shared<absl::Status>();
  absl::StatusOr<Server> server = StartServer(
      [status](StreamReader r, StreamWriter w) {
        return ReadUntilLimit(status, std::move(r), std::move(w));
      },
      "127.0.0.1", 0);
  EXPECT_TRUE(server.ok());
  absl::StatusOr<Stream> client = co_await OpenConnection("127.0.0.1", server->port());
  EXPECT_TRUE(client.ok());
  client->writer.Write(std::string(StreamReader::kDefaultLimit + 4096, 'x'));
  (void)co_await client->writer.Drain();
  absl::StatusOr<std::string> rest = co_await client->reader.Read(size_t{16});
  EXPECT_TRUE(rest.ok() && rest->empty());  // the server closed
  EXPECT_EQ(status->code(), absl::StatusCode::kResourceExhausted) << *status;
  EXPECT_NE(status->message().find("[LimitOverrunError]"), absl::string_view::npos);
  (void)co_await client->writer.Close();
}

TEST(StreamTest, LongLineOverrunsTheLimit) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(LongLineOverrunsTheLimit());
}

// ----- connecting -----

Task<void> RefusedConnection() {
  absl::StatusOr<TcpListener> listener = TcpListener::Listen("127.0.0.1", 0);
  EXPECT_TRUE(listener.ok());
  const uint16_t port = listener->port();
  listener->Close();  // nobody listens there any more
  absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", port);
  EXPECT_TRUE(IsConnectionRefused(stream.status())) << stream.status();
  EXPECT_NE(stream.status().message().find("[ConnectionRefusedError]"),
            absl::string_view::npos);
}

TEST(StreamTest, RefusedConnection) { ASYNCIO_LIKE_RUN_LOOP_TEST(RefusedConnection()); }

Task<void> ConnectTimesOut() {
  // With a backlog of 0 and nobody accepting, the kernel queues one
  // connection and drops the SYNs of the next ones, whose connects hang.
  absl::StatusOr<TcpListener> listener = TcpListener::Listen("127.0.0.1", 0, /*backlog=*/0);
  EXPECT_TRUE(listener.ok());
  std::vector<TcpSocket> queued;
  absl::Status timed_out;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 8 && timed_out.ok(); ++i) {
    absl::StatusOr<TcpSocket> socket =
        co_await Connect("127.0.0.1", listener->port(), absl::Milliseconds(200));
    if (socket.ok()) {
      queued.push_back(*std::move(socket));
    } else {
      timed_out = socket.status();
    }
  }
  EXPECT_TRUE(IsTimedOut(timed_out)) << timed_out;
  EXPECT_EQ(timed_out.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(timed_out.message().find("[TimeoutError]"), absl::string_view::npos);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(StreamTest, ConnectTimesOut) { ASYNCIO_LIKE_RUN_LOOP_TEST(ConnectTimesOut()); }

Task<void> HostNamesAreRejectedClearly() {
  absl::StatusOr<Stream> stream = co_await OpenConnection("example.invalid", 80);
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StreamTest, HostNamesAreRejectedClearly) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(HostNamesAreRejectedClearly());
}

// ----- failures of established connections -----

// Echoes and records how the connection ended.
Task<void> RecordingEcho(std::shared_ptr<std::vector<absl::Status>> endings, StreamReader reader,
                         StreamWriter writer) {
  char buffer[1024];
  absl::Status ending;
  for (;;) {
    absl::StatusOr<size_t> n = co_await reader.Read(absl::MakeSpan(buffer));
    if (!n.ok() || *n == 0) {
      ending = n.status();
      break;
    }
    writer.Write(absl::string_view(buffer, *n));
    if (ending = co_await writer.Drain(); !ending.ok()) break;
  }
  endings->push_back(ending);
  (void)co_await writer.Close();
}

Task<void> PeerResetMidStream() {
  auto endings = std::make_shared<std::vector<absl::Status>>();
  absl::StatusOr<Server> server = StartServer(
      [endings](StreamReader r, StreamWriter w) {
        return RecordingEcho(endings, std::move(r), std::move(w));
      },
      "127.0.0.1", 0);
  EXPECT_TRUE(server.ok());
  absl::StatusOr<TcpSocket> rude = co_await Connect("127.0.0.1", server->port());
  EXPECT_TRUE(rude.ok());
  EXPECT_TRUE((co_await rude->SendAll(absl::string_view("abc"))).ok());
  char echo[3];
  absl::StatusOr<size_t> n = co_await rude->Receive(absl::MakeSpan(echo));
  EXPECT_TRUE(n.ok() && *n > 0);
  rude->Abort();  // RST while the server waits in a read
  for (int i = 0; i < 200 && endings->empty(); ++i) co_await Sleep(absl::Milliseconds(5));
  EXPECT_EQ(endings->size(), 1u);
  if (!endings->empty()) {
    EXPECT_TRUE(IsConnectionReset(endings->front())) << endings->front();
    EXPECT_NE(endings->front().message().find("[ConnectionResetError]"),
              absl::string_view::npos);
  }
  // The server and new connections are unaffected.
  co_await ExpectEcho(server->port(), "still serving");
  EXPECT_EQ(server->stats().accepted, 2u);
}

TEST(StreamTest, PeerResetMidStream) { ASYNCIO_LIKE_RUN_LOOP_TEST(PeerResetMidStream()); }

Task<void> CloseAtOnce(StreamReader, StreamWriter writer) { (void)co_await writer.Close(); }

Task<void> WriteToClosedConnection() {
  absl::StatusOr<Server> closer = StartServer(CloseAtOnce, "127.0.0.1", 0);
  absl::StatusOr<Server> echo = StartServer(EchoConnection, "127.0.0.1", 0);
  EXPECT_TRUE(closer.ok() && echo.ok());
  absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", closer->port());
  EXPECT_TRUE(stream.ok());
  // The first sends may still be taken; once the peer has answered with a
  // reset, sending fails.
  absl::Status failed;
  for (int i = 0; i < 200 && failed.ok(); ++i) {
    stream->writer.Write(std::string(1000, 'x'));
    failed = co_await stream->writer.Drain();
    if (failed.ok()) co_await Sleep(absl::Milliseconds(5));
  }
  EXPECT_TRUE(IsBrokenPipe(failed) || IsConnectionReset(failed)) << failed;
  // The error sticks: later drains report it too.
  stream->writer.Write("more");
  EXPECT_EQ(co_await stream->writer.Drain(), failed);
  co_await ExpectEcho(echo->port(), "others carry on");
  (void)co_await stream->writer.Close();
}

TEST(StreamTest, WriteToClosedConnection) { ASYNCIO_LIKE_RUN_LOOP_TEST(WriteToClosedConnection()); }

// ----- cancellation -----

// Cancels `task` and awaits it; true if the cancellation was taken and the
// task ended with CancelledError.
template <typename T>
Task<bool> CancelAndAwait(Task<T>& task) {
  if (!task.Cancel()) co_return false;
  bool raised = false;
  try {
    (void)co_await task;
  } catch (const CancelledError&) {
    raised = true;
  }
  co_return raised;
}

Task<absl::StatusOr<size_t>> ReadInto(StreamReader* reader, char* buffer, size_t size) {
  co_return co_await reader->Read(absl::MakeSpan(buffer, size));
}

Task<void> Silent(std::shared_ptr<StreamWriter> keep, StreamReader, StreamWriter writer) {
  *keep = std::move(writer);  // keeps the connection open, writes later
  co_return;
}

Task<void> CancelledReadLeavesTheKernel() {
  auto server_writer = std::make_shared<StreamWriter>(Stream(TcpSocket()).writer);
  absl::StatusOr<Server> server = StartServer(
      [server_writer](StreamReader r, StreamWriter w) {
        return Silent(server_writer, std::move(r), std::move(w));
      },
      "127.0.0.1", 0);
  EXPECT_TRUE(server.ok());
  absl::StatusOr<Stream> client = co_await OpenConnection("127.0.0.1", server->port());
  EXPECT_TRUE(client.ok());
  co_await Sleep(absl::Milliseconds(10));  // the server has accepted
  EventLoop& loop = *EventLoop::Current();
  const uint64_t in_flight_before = loop.uring().in_flight();

  char buffer[16];
  Task<absl::StatusOr<size_t>> read =
      CreateTask(ReadInto(&client->reader, buffer, sizeof buffer), "blocked-read");
  co_await Sleep(absl::Milliseconds(10));
  EXPECT_FALSE(read.done());
  EXPECT_EQ(loop.uring().in_flight(), in_flight_before + 1);  // the receive

  const absl::Time cancelled_at = absl::Now();
  EXPECT_TRUE(co_await CancelAndAwait(read));
  EXPECT_LT(absl::Now() - cancelled_at, absl::Seconds(1));
  // The kernel's receive is gone, not merely ignored...
  EXPECT_EQ(loop.uring().in_flight(), in_flight_before);
  // ...so data sent now is not swallowed by it: the next read gets it.
  server_writer->Write("late");
  EXPECT_TRUE((co_await server_writer->Drain()).ok());
  absl::StatusOr<std::string> late = co_await client->reader.ReadExactly(4);
  EXPECT_EQ(late.value_or("?"), "late");
  (void)co_await server_writer->Close();
  (void)co_await client->writer.Close();
}

TEST(StreamTest, CancelledReadLeavesTheKernel) {
  Watchdog watchdog(absl::Seconds(10),
                    "the cancelled receive to end (cancelled in the kernel?)");
  ASYNCIO_LIKE_RUN_LOOP_TEST(CancelledReadLeavesTheKernel());
}

Task<void> ReadTimesOut() {
  auto server_writer = std::make_shared<StreamWriter>(Stream(TcpSocket()).writer);
  absl::StatusOr<Server> silent = StartServer(
      [server_writer](StreamReader r, StreamWriter w) {
        return Silent(server_writer, std::move(r), std::move(w));
      },
      "127.0.0.1", 0);
  absl::StatusOr<Server> echo = StartServer(EchoConnection, "127.0.0.1", 0);
  EXPECT_TRUE(silent.ok() && echo.ok());
  absl::StatusOr<Stream> client = co_await OpenConnection("127.0.0.1", silent->port());
  EXPECT_TRUE(client.ok());
  char buffer[16];
  const absl::Time start = absl::Now();
  bool timed_out = false;
  try {
    (void)co_await WaitFor(ReadInto(&client->reader, buffer, sizeof buffer),
                          absl::Milliseconds(50));
  } catch (const TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // Other connections carry on, and so does this one: the timed-out
  // receive was cancelled and took nothing.
  co_await ExpectEcho(echo->port(), "unaffected");
  server_writer->Write("after");
  EXPECT_TRUE((co_await server_writer->Drain()).ok());
  EXPECT_EQ((co_await client->reader.ReadExactly(5)).value_or("?"), "after");
  (void)co_await server_writer->Close();
  (void)co_await client->writer.Close();
}

TEST(StreamTest, ReadTimesOut) { ASYNCIO_LIKE_RUN_LOOP_TEST(ReadTimesOut()); }

Task<void> Park(std::shared_ptr<Stream> parked, StreamReader reader, StreamWriter writer) {
  parked->reader = std::move(reader);  // keeps the connection open, reads later
  parked->writer = std::move(writer);
  co_return;
}

Task<absl::Status> DrainOf(StreamWriter* writer) { co_return co_await writer->Drain(); }

// Bytes that differ at every offset, so a lost, repeated or reordered chunk
// shows.
std::string Pattern(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131) ^ (i >> 12));
  return bytes;
}

// A Stream whose server side is parked: it neither reads nor writes until
// the test uses it.
struct ParkedPair {
  std::shared_ptr<Stream> parked = std::make_shared<Stream>(TcpSocket());
  std::optional<Server> server;
  std::optional<Stream> client;
};

Task<ParkedPair> ConnectToParked() {
  ParkedPair pair;
  std::shared_ptr<Stream> parked = pair.parked;
  absl::StatusOr<Server> server = StartServer(
      [parked](StreamReader r, StreamWriter w) { return Park(parked, std::move(r), std::move(w)); },
      "127.0.0.1", 0);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) co_return pair;
  absl::StatusOr<Stream> client = co_await OpenConnection("127.0.0.1", server->port());
  EXPECT_TRUE(client.ok()) << client.status();
  pair.server.emplace(*std::move(server));
  if (client.ok()) pair.client.emplace(*std::move(client));
  co_await Sleep(absl::Milliseconds(10));  // the server has accepted
  co_return pair;
}

// More than the socket buffers of both ends hold while the peer does not
// read: its sends stay in flight until the peer reads.
constexpr size_t kMoreThanSocketBuffers = size_t{32} << 20;

// Writes, then reads at once: the receive waits a loop pass, since the
// reply it follows has not reached the kernel yet.
Task<absl::StatusOr<size_t>> WriteThenRead(StreamWriter* writer, StreamReader* reader,
                                           char* buffer, size_t size) {
  writer->Write("ping");
  co_return co_await reader->Read(absl::MakeSpan(buffer, size));
}

Task<void> ReadAfterWriteWaitsOnePass() {
  ParkedPair pair = co_await ConnectToParked();
  if (!pair.client.has_value()) co_return;
  Stream* client = &*pair.client;
  StreamWriter* server_writer = &pair.parked->writer;
  EventLoop& loop = *EventLoop::Current();
  const uint64_t in_flight_before = loop.uring().in_flight();
  char buffer[16];

  // The receive reaches the kernel a pass after the send, and gets the
  // answer.
  Task<absl::StatusOr<size_t>> answered =
      CreateTask(WriteThenRead(&client->writer, &client->reader, buffer, sizeof buffer), "r1");
  co_await Sleep(absl::ZeroDuration());  // `answered` wrote and waits to receive
  EXPECT_EQ(loop.uring().in_flight(), in_flight_before + 1);  // the send only
  co_await Sleep(absl::Milliseconds(10));
  EXPECT_EQ(loop.uring().in_flight(), in_flight_before + 1);  // the receive only
  server_writer->Write("pong");
  absl::StatusOr<size_t> n = co_await answered;
  EXPECT_TRUE(n.ok() && *n == 4 && absl::string_view(buffer, 4) == "pong");

  // Cancelled before it reached the kernel: it ends at once, and leaves
  // nothing in flight.
  Task<absl::StatusOr<size_t>> cancelled =
      CreateTask(WriteThenRead(&client->writer, &client->reader, buffer, sizeof buffer), "r2");
  co_await Sleep(absl::ZeroDuration());
  EXPECT_FALSE(cancelled.done());
  EXPECT_EQ(loop.uring().in_flight(), in_flight_before + 1);  // the send only
  EXPECT_TRUE(co_await CancelAndAwait(cancelled));
  EXPECT_TRUE((co_await client->writer.WriteEof()).ok());  // the send is done
  EXPECT_EQ(loop.uring().in_flight(), in_flight_before);
  (void)co_await server_writer->Close();
  (void)co_await client->writer.Close();
}

TEST(StreamTest, ReadAfterWriteWaitsOnePass) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(ReadAfterWriteWaitsOnePass());
}

// With marks of 0, Drain returns once the kernel has taken every byte.
Task<void> DrainWaitsUntilTheKernelHasTakenEverything() {
  ParkedPair pair = co_await ConnectToParked();
  if (!pair.client.has_value()) co_return;
  StreamWriter& writer = pair.client->writer;
  EXPECT_TRUE(writer.SetWriteBufferLimits(0, 0).ok());
  writer.Write(std::string(1000, 'a'));
  EXPECT_EQ(writer.buffered(), 1000u);  // submitted, not yet sent
  EXPECT_TRUE((co_await writer.Drain()).ok());
  EXPECT_EQ(writer.buffered(), 0u);
  absl::StatusOr<std::string> received = co_await pair.parked->reader.ReadExactly(1000);
  EXPECT_EQ(received.value_or("?"), std::string(1000, 'a'));
  (void)co_await pair.parked->writer.Close();
  EXPECT_TRUE((co_await writer.Close()).ok());
}

TEST(StreamTest, DrainWaitsUntilTheKernelHasTakenEverything) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(DrainWaitsUntilTheKernelHasTakenEverything());
}

// Drain's default marks, asyncio's.
constexpr size_t kHighWater = 64 * 1024;
constexpr size_t kLowWater = 16 * 1024;

Task<void> DrainWaitsOnlyAboveTheHighWaterMark() {
  ParkedPair pair = co_await ConnectToParked();
  if (!pair.client.has_value()) co_return;
  StreamWriter& writer = pair.client->writer;
  EventLoop& loop = *EventLoop::Current();
  EXPECT_EQ(writer.SetWriteBufferLimits(1, 2).code(), absl::StatusCode::kInvalidArgument);

  // A little: Drain returns without suspending, though nothing was read.
  writer.Write(std::string(1000, 'a'));
  const uint64_t steps_before = loop.stats().task_resumes;
  EXPECT_TRUE((co_await writer.Drain()).ok());
  EXPECT_EQ(loop.stats().task_resumes, steps_before);

  // A lot: Drain waits until the peer has read all but the low-water mark.
  const std::string big = Pattern(kMoreThanSocketBuffers);
  writer.Write(big);
  Task<absl::Status> drain = CreateTask(DrainOf(&writer), "blocked-drain");
  co_await Sleep(absl::Milliseconds(20));
  EXPECT_FALSE(drain.done());
  EXPECT_GT(writer.buffered(), kHighWater);
  Task<absl::StatusOr<std::string>> received =
      CreateTask(pair.parked->reader.ReadExactly(1000 + big.size()), "reader");
  EXPECT_TRUE((co_await drain).ok());
  EXPECT_LE(writer.buffered(), kLowWater);
  absl::StatusOr<std::string> all = co_await received;
  EXPECT_TRUE(all.ok() && *all == std::string(1000, 'a') + big);
  (void)co_await pair.parked->writer.Close();
  EXPECT_TRUE((co_await writer.Close()).ok());
}

TEST(StreamTest, DrainWaitsOnlyAboveTheHighWaterMark) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(DrainWaitsOnlyAboveTheHighWaterMark());
}

Task<void> CancelledDrainStopsOnlyTheWait() {
  ParkedPair pair = co_await ConnectToParked();
  if (!pair.client.has_value()) co_return;
  StreamWriter& writer = pair.client->writer;
  const std::string sent = Pattern(kMoreThanSocketBuffers);
  writer.Write(sent);
  Task<absl::Status> drain = CreateTask(DrainOf(&writer), "blocked-drain");
  co_await Sleep(absl::Milliseconds(20));
  EXPECT_FALSE(drain.done());
  writer.Write("mid");  // queued behind the send in flight
  const absl::Time cancelled_at = absl::Now();
  EXPECT_TRUE(co_await CancelAndAwait(drain));
  EXPECT_LT(absl::Now() - cancelled_at, absl::Seconds(1));
  // Nothing was dropped: the bytes are still on their way, in order.
  EXPECT_GT(writer.buffered(), 3u);
  writer.Write("tail");
  Task<absl::StatusOr<std::string>> received =
      CreateTask(pair.parked->reader.ReadExactly(sent.size() + 7), "reader");
  EXPECT_TRUE((co_await writer.WriteEof()).ok());
  EXPECT_EQ(writer.buffered(), 0u);
  absl::StatusOr<std::string> all = co_await received;
  EXPECT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all.ok() && *all == sent + "midtail");
  (void)co_await pair.parked->writer.Close();
  (void)co_await writer.Close();
}

TEST(StreamTest, CancelledDrainStopsOnlyTheWait) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(CancelledDrainStopsOnlyTheWait());
}

// Writes `bytes` and returns, dropping the reader and writer unclosed.
Task<void> WriteAndDrop(const std::string* bytes, StreamReader, StreamWriter writer) {
  writer.Write(*bytes);
  co_return;
}

// A server that runs WriteAndDrop; `bytes` must outlive it.
absl::StatusOr<Server> StartWriteAndDropServer(const std::string& bytes) {
  return StartServer(
      [&bytes](StreamReader r, StreamWriter w) {
        return WriteAndDrop(&bytes, std::move(r), std::move(w));
      },
      "127.0.0.1", 0);
}

Task<void> DroppedWriterStillSendsEverything() {
  const std::string bytes = Pattern(size_t{8} << 20);
  absl::StatusOr<Server> server = StartWriteAndDropServer(bytes);
  EXPECT_TRUE(server.ok());
  absl::StatusOr<Stream> client = co_await OpenConnection("127.0.0.1", server->port());
  EXPECT_TRUE(client.ok());
  if (!client.ok()) co_return;
  co_await Sleep(absl::Milliseconds(20));  // the handler has long returned
  // Everything arrives, then end of stream: the last send closed it.
  absl::StatusOr<std::string> all = co_await client->reader.ReadExactly(bytes.size());
  EXPECT_TRUE(all.ok() && *all == bytes) << all.status();
  absl::StatusOr<std::string> after = co_await client->reader.Read(size_t{16});
  EXPECT_TRUE(after.ok() && after->empty()) << after.status();
  EXPECT_TRUE(client->reader.AtEof());
  (void)co_await client->writer.Close();
}

TEST(StreamTest, DroppedWriterStillSendsEverything) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(DroppedWriterStillSendsEverything());
}

int OpenDescriptors() {
  int count = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (readdir(dir) != nullptr) ++count;
    closedir(dir);
  }
  return count - 3;  // ".", ".." and the directory's own descriptor
}

Task<void> DropWhilePeerDoesNotRead(std::shared_ptr<std::optional<Stream>> client) {
  const std::string bytes = Pattern(kMoreThanSocketBuffers);
  absl::StatusOr<Server> server = StartWriteAndDropServer(bytes);
  EXPECT_TRUE(server.ok());
  absl::StatusOr<Stream> connected = co_await OpenConnection("127.0.0.1", server->port());
  EXPECT_TRUE(connected.ok());
  if (connected.ok()) client->emplace(*std::move(connected));
  co_await Sleep(absl::Milliseconds(20));  // the handler has returned
}

// The loop closes while a dropped writer's send waits for a peer that never
// reads: the connection is freed and its socket closed with the loop
// (LeakSanitizer checks the former in the ASan build).
TEST(StreamTest, LoopClosingFreesAConnectionWithASendInFlight) {
  auto client = std::make_shared<std::optional<Stream>>();
  const int descriptors_before = OpenDescriptors();
  {
    ASYNCIO_LIKE_LOOP_OR_SKIP(loop, LoopOptions{});
    absl::Status ran = loop->RunUntilComplete(DropWhilePeerDoesNotRead(client));
    EXPECT_TRUE(ran.ok()) << ran;
    EXPECT_TRUE(client->has_value());
    EXPECT_GT(loop->uring().in_flight(), 0u);  // the server's send
    EXPECT_TRUE(loop->CancelAllAndDrain().ok());
  }
  // Only the client's socket is left of the test.
  EXPECT_EQ(OpenDescriptors(), descriptors_before + 1);
  client->reset();
  EXPECT_EQ(OpenDescriptors(), descriptors_before);
}

// ----- a descriptor closed while an operation naming it is queued -----

Task<absl::StatusOr<size_t>> ReceiveSome(const TcpSocket* socket, absl::Span<char> buffer) {
  co_return co_await socket->Receive(buffer);
}

// Closes `socket`, then puts a new connection, whose peer has already sent
// "secret", at the number the socket had. Returns the peer's descriptor.
Task<int> CloseAndReuseTheNumber(TcpSocket* socket, int number, const sockaddr_in* other_server,
                                 int other_listener) {
  socket->Close();
  const int fresh = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_EQ(connect(fresh, reinterpret_cast<const sockaddr*>(other_server), sizeof *other_server),
            0);
  if (fresh != number) {  // the lowest free number is usually `number` itself
    EXPECT_EQ(dup2(fresh, number), number);
    close(fresh);
  }
  const int peer = accept(other_listener, nullptr, nullptr);
  EXPECT_EQ(send(peer, "secret", 6, 0), 6);
  co_return peer;
}

Task<void> QueuedReceiveNeverMeetsAReusedNumber() {
  absl::StatusOr<TcpListener> listener = TcpListener::Listen("127.0.0.1", 0);
  EXPECT_TRUE(listener.ok());
  absl::StatusOr<TcpSocket> client = co_await Connect("127.0.0.1", listener->port());
  EXPECT_TRUE(client.ok());
  absl::StatusOr<TcpSocket> served = co_await listener->Accept();
  EXPECT_TRUE(served.ok());
  const int number = client->fd();

  // A second server, on plain system calls.
  const int other_listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in other_server{};
  other_server.sin_family = AF_INET;
  other_server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof other_server;
  EXPECT_EQ(bind(other_listener, reinterpret_cast<sockaddr*>(&other_server), length), 0);
  EXPECT_EQ(listen(other_listener, 1), 0);
  EXPECT_EQ(getsockname(other_listener, reinterpret_cast<sockaddr*>(&other_server), &length), 0);

  // In one pass of the loop: the receive queues its SQE, then the socket is
  // closed and its number given to the other connection, before the loop
  // enters the kernel.
  char buffer[16];
  Task<absl::StatusOr<size_t>> received = CreateTask(ReceiveSome(&*client, absl::MakeSpan(buffer)));
  Task<int> peer = CreateTask(CloseAndReuseTheNumber(&*client, number, &other_server, other_listener));
  absl::StatusOr<size_t> got = co_await received;
  const int peer_fd = co_await peer;

  // The receive was on the closed socket (end of stream or an error), not
  // on the connection that took its number, whose bytes are all still there.
  EXPECT_TRUE(!got.ok() || *got == 0) << "received " << got.value_or(0) << " bytes";
  char left[16];
  EXPECT_EQ(recv(number, left, sizeof left, MSG_DONTWAIT), 6);
  close(number);
  close(peer_fd);
  close(other_listener);
}

TEST(StreamTest, QueuedReceiveNeverMeetsAReusedNumber) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(QueuedReceiveNeverMeetsAReusedNumber());
}

// Closes `other` with a receive on a different socket queued; returns the
// kernel enters the close cost.
Task<uint64_t> EntersToClose(TcpSocket* other) {
  const uint64_t before = EventLoop::Current()->stats().kernel_enters;
  other->Close();
  co_return EventLoop::Current()->stats().kernel_enters - before;
}

// Only a queued operation on the closing descriptor itself makes Close
// enter the kernel early; others wait for the loop's next wait, batched.
Task<void> CloseSubmitsOnlyForItsOwnDescriptor() {
  absl::StatusOr<TcpListener> listener = TcpListener::Listen("127.0.0.1", 0);
  EXPECT_TRUE(listener.ok());
  absl::StatusOr<TcpSocket> receiving = co_await Connect("127.0.0.1", listener->port());
  absl::StatusOr<TcpSocket> receiving_peer = co_await listener->Accept();
  absl::StatusOr<TcpSocket> other = co_await Connect("127.0.0.1", listener->port());
  absl::StatusOr<TcpSocket> other_peer = co_await listener->Accept();
  EXPECT_TRUE(receiving.ok() && receiving_peer.ok() && other.ok() && other_peer.ok());

  char buffer[16];
  Task<absl::StatusOr<size_t>> received =
      CreateTask(ReceiveSome(&*receiving, absl::MakeSpan(buffer)));
  Task<uint64_t> other_close = CreateTask(EntersToClose(&*other));
  Task<uint64_t> own_close = CreateTask(EntersToClose(&*receiving));
  EXPECT_EQ(co_await other_close, 0u);
  EXPECT_EQ(co_await own_close, 1u);
  absl::StatusOr<size_t> got = co_await received;
  EXPECT_TRUE(!got.ok() || *got == 0);
}

TEST(StreamTest, CloseSubmitsOnlyForItsOwnDescriptor) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(CloseSubmitsOnlyForItsOwnDescriptor());
}

// ----- running out of descriptors -----


Task<void> OutOfDescriptors() {
  constexpr int kClients = 4;
  absl::StatusOr<TcpListener> listener = TcpListener::Listen("127.0.0.1", 0);
  EXPECT_TRUE(listener.ok());
  const uint16_t port = listener->port();
  // Every client is connected (queued in the backlog) before the limit is
  // lowered and the server starts; it can accept only two of them.
  std::vector<Stream> streams;
  for (int i = 0; i < kClients; ++i) {
    absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", port);
    EXPECT_TRUE(stream.ok()) << stream.status();
    if (!stream.ok()) co_return;
    streams.push_back(*std::move(stream));
  }
  rlimit original{};
  getrlimit(RLIMIT_NOFILE, &original);
  rlimit lowered = original;
  lowered.rlim_cur = static_cast<rlim_t>(OpenDescriptors() + 2);
  setrlimit(RLIMIT_NOFILE, &lowered);
  absl::StatusOr<Server> server = StartServer(EchoConnection, *std::move(listener));
  EXPECT_TRUE(server.ok());

  for (int i = 0; i < 400 && server->stats().accept_errors == 0; ++i) {
    co_await Sleep(absl::Milliseconds(5));
  }
  EXPECT_GT(server->stats().accept_errors, 0u);
  EXPECT_TRUE(IsTooManyOpenFiles(server->stats().last_accept_error))
      << server->stats().last_accept_error;
  EXPECT_EQ(server->stats().accepted, 2u);

  // The accepted connections are still served.
  for (int i = 0; i < 2; ++i) {
    streams[i].writer.Write("served");
    EXPECT_TRUE((co_await streams[i].writer.Drain()).ok());
    EXPECT_EQ((co_await streams[i].reader.ReadExactly(6)).value_or("?"), "served");
  }
  // Closing them frees the server's descriptors; the server recovers and
  // serves the connections that waited.
  for (int i = 0; i < 2; ++i) (void)co_await streams[i].writer.Close();
  for (int i = 2; i < kClients; ++i) {
    streams[i].writer.Write("recovered");
    EXPECT_TRUE((co_await streams[i].writer.Drain()).ok());
    absl::StatusOr<std::string> echo = co_await streams[i].reader.ReadExactly(9);
    EXPECT_EQ(echo.value_or(echo.status().ToString()), "recovered");
    (void)co_await streams[i].writer.Close();
  }
  setrlimit(RLIMIT_NOFILE, &original);
  EXPECT_EQ(server->stats().accepted, static_cast<uint64_t>(kClients));
}

TEST(StreamTest, OutOfDescriptorsDuringAccept) { ASYNCIO_LIKE_RUN_LOOP_TEST(OutOfDescriptors()); }

// ----- closing a server while connections arrive -----

// Connects, sends one byte and waits for the server's answer: the echo if
// the connection was served, end of stream if the server dropped it, or a
// refused connect once nobody listens.
Task<bool> EchoedOneByte(uint16_t port) {
  absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", port);
  if (!stream.ok()) co_return false;
  stream->writer.Write("x");
  (void)co_await stream->writer.Drain();
  absl::StatusOr<std::string> echo = co_await stream->reader.Read(1);
  (void)co_await stream->writer.Close();
  co_return echo.ok() && *echo == "x";
}

// The first connection's handler closes the server from inside the accept
// task, with more connections arriving: the accept stays armed in the
// kernel until its last completion, connections it accepted meanwhile are
// dropped, and nothing is left behind.
Task<void> CloseWhileConnectionsArrive() {
  constexpr int kRounds = 20;
  constexpr int kClients = 10;
  const int descriptors_before = OpenDescriptors();
  for (int round = 0; round < kRounds; ++round) {
    std::optional<Server> server;
    int handled = 0;
    ConnectionHandler close_on_first = [&server, &handled](StreamReader reader,
                                                           StreamWriter writer) {
      if (++handled == 1) server->Close();
      return EchoConnection(std::move(reader), std::move(writer));
    };
    absl::StatusOr<Server> started = StartServer(close_on_first, "127.0.0.1", 0);
    EXPECT_TRUE(started.ok()) << started.status();
    if (!started.ok()) co_return;
    server.emplace(*std::move(started));
    std::vector<Task<bool>> clients;
    for (int i = 0; i < kClients; ++i) clients.push_back(CreateTask(EchoedOneByte(server->port())));
    int served = 0;
    for (Task<bool>& client : clients) served += (co_await client) ? 1 : 0;
    // Closed already: WaitClosed returns once the handlers have closed
    // their connections.
    co_await server->WaitClosed();
    EXPECT_GE(handled, 1);
    EXPECT_EQ(served, handled);
    EXPECT_EQ(server->stats().accepted, static_cast<uint64_t>(handled));
  }
  // The handlers of the last round close their side once they read the
  // clients' end of stream.
  for (int i = 0; i < 400 && OpenDescriptors() != descriptors_before; ++i) {
    co_await Sleep(absl::Milliseconds(5));
  }
  EXPECT_EQ(OpenDescriptors(), descriptors_before);
}

TEST(StreamTest, CloseWhileConnectionsArrive) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(CloseWhileConnectionsArrive());
}

// A handler that throws before returning its Task costs its connection
// only: the server counts it and serves the next connections.
Task<void> HandlerThatThrows() {
  int calls = 0;
  ConnectionHandler throw_on_first = [&calls](StreamReader reader, StreamWriter writer) {
    if (++calls == 1) throw std::runtime_error("no handler for you");
    return EchoConnection(std::move(reader), std::move(writer));
  };
  absl::StatusOr<Server> server = StartServer(throw_on_first, "127.0.0.1", 0);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) co_return;
  EXPECT_FALSE(co_await EchoedOneByte(server->port()));  // closed unserved
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(co_await EchoedOneByte(server->port()));
  EXPECT_EQ(server->stats().handler_errors, 1u);
  EXPECT_NE(server->stats().last_handler_error.message().find("no handler for you"),
            std::string::npos)
      << server->stats().last_handler_error;
  EXPECT_EQ(server->stats().accepted, 4u);
}

TEST(StreamTest, HandlerThatThrowsCostsOnlyItsConnection) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(HandlerThatThrows());
}

// ----- read to end of stream, the limit option, closing a server -----

// Read() collects every chunk until end of stream, not only the first
// that arrives.
Task<void> ReadToEndOfStreamCollectsEveryChunk() {
  StreamReader reader;
  Task<absl::StatusOr<std::string>> all = CreateTask(reader.Read());
  co_await Sleep(absl::ZeroDuration());
  reader.FeedData("first ");
  co_await Sleep(absl::ZeroDuration());
  reader.FeedData("second");
  co_await Sleep(absl::ZeroDuration());
  EXPECT_FALSE(all.done());
  reader.FeedEof();
  absl::StatusOr<std::string> read = co_await all;
  EXPECT_TRUE(read.ok()) << read.status();
  if (read.ok()) {
    EXPECT_EQ(*read, "first second");
  }
}

TEST(StreamTest, ReadToEndOfStreamCollectsEveryChunk) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(ReadToEndOfStreamCollectsEveryChunk());
}

Task<void> ReadLineRecording(std::shared_ptr<absl::Status> out, StreamReader reader,
                             StreamWriter writer) {
  *out = (co_await reader.ReadLine()).status();
  writer.Write(std::string(40, 'y') + "\n");
  (void)co_await writer.Close();
}

// limit= on StartServer and OpenConnection reaches their readers: a
// 40-byte line overruns a limit of 16 on both sides.
Task<void> LimitOptionReachesTheReaders() {
  auto status = std::make_shared<absl::Status>();
  absl::StatusOr<Server> zero = StartServer(EchoConnection, "127.0.0.1", 0, SOMAXCONN, 0);
  EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<Server> server = StartServer(
      [status](StreamReader r, StreamWriter w) {
        return ReadLineRecording(status, std::move(r), std::move(w));
      },
      "127.0.0.1", 0, SOMAXCONN, /*limit=*/16);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) co_return;
  absl::StatusOr<Stream> client =
      co_await OpenConnection("127.0.0.1", server->port(), absl::InfiniteDuration(), 16);
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) co_return;
  EXPECT_EQ(client->reader.limit(), 16u);
  client->writer.Write(std::string(40, 'x') + "\n");
  absl::StatusOr<std::string> line = co_await client->reader.ReadLine();
  EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument) << line.status();
  EXPECT_EQ(status->code(), absl::StatusCode::kInvalidArgument) << *status;
  (void)co_await client->writer.Close();
}

TEST(StreamTest, LimitOptionReachesTheReaders) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(LimitOptionReachesTheReaders());
}

Task<void> HoldUntil(Event* release, StreamReader, StreamWriter writer) {
  co_await release->Wait();
  (void)co_await writer.Close();
}

// Server::WaitClosed waits for the server to close and for the connections
// it handed over to close, in either order.
Task<void> ServerWaitClosedWaitsForConnections() {
  Event release;
  Event* release_ptr = &release;
  absl::StatusOr<Server> server = StartServer(
      [release_ptr](StreamReader r, StreamWriter w) {
        return HoldUntil(release_ptr, std::move(r), std::move(w));
      },
      "127.0.0.1", 0);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) co_return;
  EXPECT_TRUE(server->IsServing());
  EXPECT_EQ(server->sockets().size(), 1u);
  absl::StatusOr<Stream> client = co_await OpenConnection("127.0.0.1", server->port());
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) co_return;
  EXPECT_EQ(client->writer.GetExtraInfo("peername"),
            std::optional<SocketAddress>(SocketAddress{"127.0.0.1", server->port()}));
  EXPECT_EQ(client->writer.GetExtraInfo("sockname")->host, "127.0.0.1");
  EXPECT_EQ(client->writer.GetExtraInfo("socket"), std::nullopt);
  while (server->stats().accepted == 0) co_await Sleep(absl::Milliseconds(1));
  Task<void> closed = CreateTask(server->WaitClosed());
  server->Close();
  EXPECT_FALSE(server->IsServing());
  EXPECT_TRUE(server->sockets().empty());
  co_await Sleep(absl::Milliseconds(20));
  EXPECT_FALSE(closed.done());  // the connection is still open
  release.Set();
  co_await closed;
  (void)co_await client->writer.Close();
}

TEST(StreamTest, ServerWaitClosedWaitsForConnections) {
  ASYNCIO_LIKE_RUN_LOOP_TEST(ServerWaitClosedWaitsForConnections());
}

}  // namespace
}  // namespace asyncio_like
