// CPython 3.13's Lib/test/test_asyncio/test_streams.py, ported: each test is
// named after the original and asserts the same outcome. Python's
// `stream._buffer` is PeekBuffer(); `loop.call_soon(cb)` is CallSoon;
// test_utils.run_test_server is an HTTP server on this loop answering as
// CPython's does. See CONFORMANCE.md for what is not ported and why.
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/sync.h"
#include "asyncio_like/sync_test_util.h"
#include "asyncio_like/tcp.h"
#include "asyncio_like/tcp_errors.h"
#include "asyncio_like/uring.h"
#include "gtest/gtest.h"

namespace asyncio_like {
namespace {

constexpr absl::string_view kData = "line1\nline2\nline3\n";

// The value of a read, or a failure naming its error.
std::string Value(const absl::StatusOr<std::string>& read) {
  EXPECT_TRUE(read.ok()) << read.status();
  return read.ok() ? *read : "<" + read.status().ToString() + ">";
}

// loop.call_soon(cb).
void CallSoon(absl::AnyInvocable<void()> callback) {
  EventLoop::Current()->CallSoon(std::move(callback));
}

// test_utils.run_test_server: answers any request as CPython's does, then
// closes.
constexpr absl::string_view kHttpResponse =
    "HTTP/1.0 200 OK\r\nContent-type: text/plain\r\n\r\nTest message";

Task<void> ServeHttp(StreamReader reader, StreamWriter writer) {
  (void)co_await reader.ReadUntil("\r\n\r\n");
  writer.Write(kHttpResponse);
  (void)co_await writer.Close();
}

absl::StatusOr<Server> RunTestServer() { return StartServer(ServeHttp, "127.0.0.1", 0); }

// test_utils.run_test_unix_server.
absl::StatusOr<Server> RunTestUnixServer(const UnixSocketPath& address) {
  return StartUnixServer(ServeHttp, address.path());
}

// ------------------------------------------------------------- connections

// _basetest_open_connection: a request, its answer's first line, the rest.
Task<void> BasetestOpenConnection(absl::StatusOr<Stream> stream, const Server& httpd) {
  EXPECT_TRUE(stream.ok()) << stream.status();
  if (!stream.ok()) co_return;
  stream->writer.Write("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(Value(co_await stream->reader.ReadLine()), "HTTP/1.0 200 OK\r\n");
  EXPECT_TRUE(absl::EndsWith(Value(co_await stream->reader.Read()), "\r\n\r\nTest message"));
  (void)stream->writer.Close();  // writer.close(), not awaited
  EXPECT_EQ(httpd.stats().handler_errors, 0u);
}

TEST(StreamTests, test_open_connection) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<Server> httpd = RunTestServer();
    EXPECT_TRUE(httpd.ok()) << httpd.status();
    if (!httpd.ok()) co_return;
    absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", httpd->port());
    co_await BasetestOpenConnection(std::move(stream), *httpd);
  }());
}

TEST(StreamTests, test_open_unix_connection) {
  RunAsync([]() -> Task<void> {
    UnixSocketPath address;
    absl::StatusOr<Server> httpd = RunTestUnixServer(address);
    EXPECT_TRUE(httpd.ok()) << httpd.status();
    if (!httpd.ok()) co_return;
    absl::StatusOr<Stream> stream = co_await OpenUnixConnection(address.path());
    co_await BasetestOpenConnection(std::move(stream), *httpd);
  }());
}

// _basetest_open_connection_error: the reader reports the error its
// connection was lost with.
Task<void> BasetestOpenConnectionError(absl::StatusOr<Stream> stream) {
  EXPECT_TRUE(stream.ok()) << stream.status();
  if (!stream.ok()) co_return;
  // writer._protocol.connection_lost(ZeroDivisionError())
  const absl::Status lost = absl::InternalError("ZeroDivisionError");
  stream->reader.SetException(lost);
  absl::StatusOr<std::string> read = co_await stream->reader.Read();
  EXPECT_EQ(read.status(), lost);
  (void)co_await stream->writer.Close();
}

TEST(StreamTests, test_open_connection_error) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<Server> httpd = RunTestServer();
    EXPECT_TRUE(httpd.ok()) << httpd.status();
    if (!httpd.ok()) co_return;
    absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", httpd->port());
    co_await BasetestOpenConnectionError(std::move(stream));
  }());
}

TEST(StreamTests, test_open_unix_connection_error) {
  RunAsync([]() -> Task<void> {
    UnixSocketPath address;
    absl::StatusOr<Server> httpd = RunTestUnixServer(address);
    EXPECT_TRUE(httpd.ok()) << httpd.status();
    if (!httpd.ok()) co_return;
    absl::StatusOr<Stream> stream = co_await OpenUnixConnection(address.path());
    co_await BasetestOpenConnectionError(std::move(stream));
  }());
}

// ------------------------------------------------------- a reader fed data

TEST(StreamTests, test_feed_empty_data) {
  StreamReader stream;
  stream.FeedData("");
  EXPECT_EQ(stream.PeekBuffer(), "");
}

TEST(StreamTests, test_feed_nonempty_data) {
  StreamReader stream;
  stream.FeedData(kData);
  EXPECT_EQ(stream.PeekBuffer(), kData);
}

TEST(StreamTests, test_read_zero) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    stream.FeedData(kData);
    EXPECT_EQ(Value(co_await stream.Read(0)), "");
    EXPECT_EQ(stream.PeekBuffer(), kData);
  }());
}

TEST(StreamTests, test_read) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    Task<absl::StatusOr<std::string>> read_task = CreateTask(stream.Read(30));
    CallSoon([&stream] { stream.FeedData(kData); });
    EXPECT_EQ(Value(co_await read_task), kData);
    EXPECT_EQ(stream.PeekBuffer(), "");
  }());
}

TEST(StreamTests, test_read_line_breaks) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    stream.FeedData("line1");
    stream.FeedData("line2");
    EXPECT_EQ(Value(co_await stream.Read(5)), "line1");
    EXPECT_EQ(stream.PeekBuffer(), "line2");
  }());
}

TEST(StreamTests, test_read_eof) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    Task<absl::StatusOr<std::string>> read_task = CreateTask(stream.Read(1024));
    CallSoon([&stream] { stream.FeedEof(); });
    EXPECT_EQ(Value(co_await read_task), "");
    EXPECT_EQ(stream.PeekBuffer(), "");
  }());
}

TEST(StreamTests, test_read_until_eof) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    Task<absl::StatusOr<std::string>> read_task = CreateTask(stream.Read());
    CallSoon([&stream] {
      stream.FeedData("chunk1\n");
      stream.FeedData("chunk2");
      stream.FeedEof();
    });
    EXPECT_EQ(Value(co_await read_task), "chunk1\nchunk2");
    EXPECT_EQ(stream.PeekBuffer(), "");
  }());
}

TEST(StreamTests, test_read_exception) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    stream.FeedData("line\n");
    EXPECT_EQ(Value(co_await stream.Read(2)), "li");
    stream.SetException(absl::InvalidArgumentError("ValueError"));
    absl::StatusOr<std::string> read = co_await stream.Read(2);
    EXPECT_EQ(read.status(), absl::InvalidArgumentError("ValueError"));
  }());
}

TEST(StreamTests, test_invalid_limit) {
  // limit=-1 cannot be written: the limit is a size_t.
  try {
    StreamReader stream(0);
    ADD_FAILURE() << "a limit of 0 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(absl::StrContains(e.what(), "imit")) << e.what();
  }
}

TEST(StreamTests, test_read_limit) {
  RunAsync([]() -> Task<void> {
    StreamReader stream(3);
    stream.FeedData("chunk");
    EXPECT_EQ(Value(co_await stream.Read(5)), "chunk");
    EXPECT_EQ(stream.PeekBuffer(), "");
  }());
}

// ----------------------------------------------------------------- readline

TEST(StreamTests, test_readline) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    stream.FeedData("chunk1 ");
    Task<absl::StatusOr<std::string>> read_task = CreateTask(stream.ReadLine());
    CallSoon([&stream] {
      stream.FeedData("chunk2 ");
      stream.FeedData("chunk3 ");
      stream.FeedData("\n chunk4");
    });
    EXPECT_EQ(Value(co_await read_task), "chunk1 chunk2 chunk3 \n");
    EXPECT_EQ(stream.PeekBuffer(), " chunk4");
  }());
}

TEST(StreamTests, test_readline_limit_with_existing_data) {
  RunAsync([]() -> Task<void> {
    {
      StreamReader stream(3);
      stream.FeedData("li");
      stream.FeedData("ne1\nline2\n");
      absl::StatusOr<std::string> line = co_await stream.ReadLine();
      EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument) << line.status();
      // The buffer holds the rest after the error.
      EXPECT_EQ(stream.PeekBuffer(), "line2\n");
    }
    {
      StreamReader stream(3);
      stream.FeedData("li");
      stream.FeedData("ne1");
      stream.FeedData("li");
      absl::StatusOr<std::string> line = co_await stream.ReadLine();
      EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument) << line.status();
      // No "\n" within the limit: everything buffered is dropped.
      EXPECT_EQ(stream.PeekBuffer(), "");
    }
  }());
}

TEST(StreamTests, test_at_eof) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    EXPECT_FALSE(stream.AtEof());
    stream.FeedData("some data\n");
    EXPECT_FALSE(stream.AtEof());
    (void)co_await stream.ReadLine();
    EXPECT_FALSE(stream.AtEof());
    stream.FeedData("some data\n");
    stream.FeedEof();
    (void)co_await stream.ReadLine();
    EXPECT_TRUE(stream.AtEof());
  }());
}

TEST(StreamTests, test_readline_limit) {
  RunAsync([]() -> Task<void> {
    {
      StreamReader stream(7);
      CallSoon([&stream] {
        stream.FeedData("chunk1");
        stream.FeedData("chunk2");
        stream.FeedData("chunk3\n");
        stream.FeedEof();
      });
      absl::StatusOr<std::string> line = co_await stream.ReadLine();
      EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument) << line.status();
      EXPECT_NE(line.status().message().find("[ValueError]"), absl::string_view::npos);
      // The buffer had one line, which the error dropped.
      EXPECT_EQ(stream.PeekBuffer(), "");
    }
    {
      StreamReader stream(7);
      CallSoon([&stream] {
        stream.FeedData("chunk1");
        stream.FeedData("chunk2\n");
        stream.FeedData("chunk3\n");
        stream.FeedEof();
      });
      absl::StatusOr<std::string> line = co_await stream.ReadLine();
      EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument) << line.status();
      EXPECT_EQ(stream.PeekBuffer(), "chunk3\n");
    }
    // The limit is strict.
    StreamReader stream(7);
    stream.FeedData("1234567\n");
    EXPECT_EQ(Value(co_await stream.ReadLine()), "1234567\n");
    EXPECT_EQ(stream.PeekBuffer(), "");

    stream.FeedData("12345678\n");
    absl::StatusOr<std::string> line = co_await stream.ReadLine();
    EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument) << line.status();
    EXPECT_EQ(stream.PeekBuffer(), "");

    stream.FeedData("12345678");
    line = co_await stream.ReadLine();
    EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument) << line.status();
    EXPECT_EQ(stream.PeekBuffer(), "");
  }());
}

TEST(StreamTests, test_readline_nolimit_nowait) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    stream.FeedData(kData.substr(0, 6));
    stream.FeedData(kData.substr(6));
    EXPECT_EQ(Value(co_await stream.ReadLine()), "line1\n");
    EXPECT_EQ(stream.PeekBuffer(), "line2\nline3\n");
  }());
}

TEST(StreamTests, test_readline_eof) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    stream.FeedData("some data");
    stream.FeedEof();
    EXPECT_EQ(Value(co_await stream.ReadLine()), "some data");
  }());
}

TEST(StreamTests, test_readline_empty_eof) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    stream.FeedEof();
    EXPECT_EQ(Value(co_await stream.ReadLine()), "");
  }());
}

TEST(StreamTests, test_readline_read_byte_count) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    stream.FeedData(kData);
    (void)co_await stream.ReadLine();
    EXPECT_EQ(Value(co_await stream.Read(7)), "line2\nl");
    EXPECT_EQ(stream.PeekBuffer(), "ine3\n");
  }());
}

TEST(StreamTests, test_readline_exception) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    stream.FeedData("line\n");
    EXPECT_EQ(Value(co_await stream.ReadLine()), "line\n");
    stream.SetException(absl::InvalidArgumentError("ValueError"));
    absl::StatusOr<std::string> line = co_await stream.ReadLine();
    EXPECT_EQ(line.status(), absl::InvalidArgumentError("ValueError"));
    EXPECT_EQ(stream.PeekBuffer(), "");
  }());
}

// ---------------------------------------------------------------- readuntil

TEST(StreamTests, test_readuntil_separator) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    absl::StatusOr<std::string> read = co_await stream.ReadUntil("");
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(read.status().message(), "Separator should be"));
    const absl::string_view empty_one[] = {""};
    read = co_await stream.ReadUntil(empty_one);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(read.status().message(), "Separator should be"));
    read = co_await stream.ReadUntil(absl::Span<const absl::string_view>());
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(read.status().message(), "Separator should contain"));
  }());
}

TEST(StreamTests, test_readuntil_multi_chunks) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    stream.FeedData("lineAAA");
    EXPECT_EQ(Value(co_await stream.ReadUntil("AAA")), "lineAAA");
    EXPECT_EQ(stream.PeekBuffer(), "");

    stream.FeedData("lineAAA");
    EXPECT_EQ(Value(co_await stream.ReadUntil("AAA")), "lineAAA");
    EXPECT_EQ(stream.PeekBuffer(), "");

    stream.FeedData("lineAAAxxx");
    EXPECT_EQ(Value(co_await stream.ReadUntil("AAA")), "lineAAA");
    EXPECT_EQ(stream.PeekBuffer(), "xxx");
  }());
}

TEST(StreamTests, test_readuntil_multi_chunks_1) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    stream.FeedData("QWEaa");
    stream.FeedData("XYaa");
    stream.FeedData("a");
    EXPECT_EQ(Value(co_await stream.ReadUntil("aaa")), "QWEaaXYaaa");
    EXPECT_EQ(stream.PeekBuffer(), "");

    stream.FeedData("QWEaa");
    stream.FeedData("XYa");
    stream.FeedData("aa");
    EXPECT_EQ(Value(co_await stream.ReadUntil("aaa")), "QWEaaXYaaa");
    EXPECT_EQ(stream.PeekBuffer(), "");

    stream.FeedData("aaa");
    EXPECT_EQ(Value(co_await stream.ReadUntil("aaa")), "aaa");
    EXPECT_EQ(stream.PeekBuffer(), "");

    stream.FeedData("Xaaa");
    EXPECT_EQ(Value(co_await stream.ReadUntil("aaa")), "Xaaa");
    EXPECT_EQ(stream.PeekBuffer(), "");

    stream.FeedData("XXX");
    stream.FeedData("a");
    stream.FeedData("a");
    stream.FeedData("a");
    EXPECT_EQ(Value(co_await stream.ReadUntil("aaa")), "XXXaaa");
    EXPECT_EQ(stream.PeekBuffer(), "");
  }());
}

TEST(StreamTests, test_readuntil_eof) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    const std::string data = "some dataAA";
    stream.FeedData(data);
    stream.FeedEof();
    absl::StatusOr<std::string> read = co_await stream.ReadUntil("AAA");
    EXPECT_EQ(read.status().code(), absl::StatusCode::kOutOfRange);
    EXPECT_TRUE(absl::StrContains(read.status().message(), "undefined expected bytes"))
        << read.status();
    std::optional<IncompleteRead> incomplete = IncompleteReadOf(read.status());
    EXPECT_TRUE(incomplete.has_value());
    if (incomplete.has_value()) {
      EXPECT_EQ(incomplete->partial, data);
      EXPECT_EQ(incomplete->expected, std::nullopt);
    }
    EXPECT_EQ(stream.PeekBuffer(), "");
  }());
}

TEST(StreamTests, test_readuntil_limit_found_sep) {
  RunAsync([]() -> Task<void> {
    StreamReader stream(3);
    stream.FeedData("some dataAA");
    absl::StatusOr<std::string> read = co_await stream.ReadUntil("AAA");
    EXPECT_TRUE(absl::StrContains(read.status().message(), "not found")) << read.status();
    std::optional<LimitOverrun> overrun = LimitOverrunOf(read.status());
    EXPECT_TRUE(overrun.has_value()) << read.status();
    if (overrun.has_value()) {
      EXPECT_EQ(overrun->consumed, 9u);  // len - (len(sep) - 1)
      EXPECT_EQ(overrun->limit, 3u);
    }
    EXPECT_EQ(stream.PeekBuffer(), "some dataAA");

    stream.FeedData("A");
    read = co_await stream.ReadUntil("AAA");
    EXPECT_TRUE(absl::StrContains(read.status().message(), "is found")) << read.status();
    overrun = LimitOverrunOf(read.status());
    EXPECT_TRUE(overrun.has_value()) << read.status();
    if (overrun.has_value()) {
      EXPECT_EQ(overrun->consumed, 9u);  // where "AAA" starts
    }
    EXPECT_EQ(stream.PeekBuffer(), "some dataAAA");
  }());
}

TEST(StreamTests, test_readuntil_multi_separator) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    // Simple case.
    const absl::string_view cr_or_lf[] = {"\r", "\n"};
    stream.FeedData("line 1\nline 2\r");
    EXPECT_EQ(Value(co_await stream.ReadUntil(cr_or_lf)), "line 1\n");
    EXPECT_EQ(Value(co_await stream.ReadUntil(cr_or_lf)), "line 2\r");
    EXPECT_EQ(stream.PeekBuffer(), "");

    // The first end position matches, even if that is a longer match.
    stream.FeedData("ABCDEFG");
    const absl::string_view def_or_bcde[] = {"DEF", "BCDE"};
    EXPECT_EQ(Value(co_await stream.ReadUntil(def_or_bcde)), "ABCDE");
    EXPECT_EQ(stream.PeekBuffer(), "FG");
  }());
}

TEST(StreamTests, test_readuntil_multi_separator_limit) {
  RunAsync([]() -> Task<void> {
    StreamReader stream(3);
    stream.FeedData("some dataA");
    const absl::string_view separators[] = {"A", "ome dataA"};
    absl::StatusOr<std::string> read = co_await stream.ReadUntil(separators);
    EXPECT_TRUE(absl::StrContains(read.status().message(), "is found")) << read.status();
    EXPECT_TRUE(LimitOverrunOf(read.status()).has_value()) << read.status();
    EXPECT_EQ(stream.PeekBuffer(), "some dataA");
  }());
}

TEST(StreamTests, test_readuntil_multi_separator_negative_offset) {
  RunAsync([]() -> Task<void> {
    // The buffer is big enough for the shortest separator (but does not hold
    // it) and too small for the longest: the offset must not go negative.
    StreamReader stream;
    stream.FeedData("data");
    const absl::string_view separators[] = {"A", "long sep"};
    Task<absl::StatusOr<std::string>> readuntil_task = CreateTask(stream.ReadUntil(separators));
    CallSoon([&stream] { stream.FeedData("Z"); });
    CallSoon([&stream] { stream.FeedData("Aaaa"); });
    EXPECT_EQ(Value(co_await readuntil_task), "dataZA");
    EXPECT_EQ(stream.PeekBuffer(), "aaa");
  }());
}

TEST(StreamTests, test_readuntil_bytearray) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    stream.FeedData("some data\r\n");
    const std::vector<char> separator = {'\r', '\n'};  // a mutable buffer
    EXPECT_EQ(Value(co_await stream.ReadUntil(absl::string_view(separator.data(), 2))),
              "some data\r\n");
    EXPECT_EQ(stream.PeekBuffer(), "");
  }());
}

// -------------------------------------------------------------- readexactly

TEST(StreamTests, test_readexactly_zero_or_less) {
  RunAsync([]() -> Task<void> {
    // readexactly(-1) cannot be written: the count is a size_t.
    StreamReader stream;
    stream.FeedData(kData);
    EXPECT_EQ(Value(co_await stream.ReadExactly(0)), "");
    EXPECT_EQ(stream.PeekBuffer(), kData);
  }());
}

TEST(StreamTests, test_readexactly) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    const size_t n = 2 * kData.size();
    Task<absl::StatusOr<std::string>> read_task = CreateTask(stream.ReadExactly(n));
    CallSoon([&stream] {
      stream.FeedData(kData);
      stream.FeedData(kData);
      stream.FeedData(kData);
    });
    EXPECT_EQ(Value(co_await read_task), absl::StrCat(kData, kData));
    EXPECT_EQ(stream.PeekBuffer(), kData);
  }());
}

TEST(StreamTests, test_readexactly_limit) {
  RunAsync([]() -> Task<void> {
    StreamReader stream(3);
    stream.FeedData("chunk");
    EXPECT_EQ(Value(co_await stream.ReadExactly(5)), "chunk");
    EXPECT_EQ(stream.PeekBuffer(), "");
  }());
}

TEST(StreamTests, test_readexactly_eof) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    const size_t n = 2 * kData.size();
    Task<absl::StatusOr<std::string>> read_task = CreateTask(stream.ReadExactly(n));
    CallSoon([&stream] {
      stream.FeedData(kData);
      stream.FeedEof();
    });
    absl::StatusOr<std::string> read = co_await read_task;
    std::optional<IncompleteRead> incomplete = IncompleteReadOf(read.status());
    EXPECT_TRUE(incomplete.has_value()) << read.status();
    if (incomplete.has_value()) {
      EXPECT_EQ(incomplete->partial, kData);
      EXPECT_EQ(incomplete->expected, n);
    }
    EXPECT_EQ(read.status().message(),
              "18 bytes read on a total of 36 expected bytes [IncompleteReadError]");
    EXPECT_EQ(stream.PeekBuffer(), "");
  }());
}

TEST(StreamTests, test_readexactly_exception) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    stream.FeedData("line\n");
    EXPECT_EQ(Value(co_await stream.ReadExactly(2)), "li");
    stream.SetException(absl::InvalidArgumentError("ValueError"));
    absl::StatusOr<std::string> read = co_await stream.ReadExactly(2);
    EXPECT_EQ(read.status(), absl::InvalidArgumentError("ValueError"));
  }());
}

// ---------------------------------------------------------------- exception

TEST(StreamTests, test_exception) {
  StreamReader stream;
  EXPECT_TRUE(stream.exception().ok());
  const absl::Status error = absl::InvalidArgumentError("ValueError");
  stream.SetException(error);
  EXPECT_EQ(stream.exception(), error);
}

TEST(StreamTests, test_exception_waiter) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    Task<absl::StatusOr<std::string>> t1 = CreateTask(stream.ReadLine());
    auto set_err = [](StreamReader* s) -> Task<void> {
      s->SetException(absl::InvalidArgumentError("ValueError"));
      co_return;
    };
    Task<void> t2 = CreateTask(set_err(&stream));
    co_await t2;
    absl::StatusOr<std::string> line = co_await t1;
    EXPECT_EQ(line.status(), absl::InvalidArgumentError("ValueError"));
  }());
}

TEST(StreamTests, test_exception_cancel) {
  RunAsync([]() -> Task<void> {
    StreamReader stream;
    Task<absl::StatusOr<std::string>> t = CreateTask(stream.ReadLine());
    co_await Yield();
    t.Cancel();
    co_await Yield();
    // Fails if SetException is not careful with a cancelled waiter.
    stream.SetException(absl::InternalError("message"));
    co_await Yield();
    EXPECT_TRUE(t.cancelled());
    EXPECT_EQ(stream.exception(), absl::InternalError("message"));
  }());
}

// ------------------------------------------------------------------ servers

// MyServer.handle_client: echoes one line.
Task<void> HandleClient(StreamReader client_reader, StreamWriter client_writer) {
  absl::StatusOr<std::string> data = co_await client_reader.ReadLine();
  if (data.ok()) client_writer.Write(*data);
  (void)co_await client_writer.Drain();
  (void)client_writer.Close();
  (void)co_await client_writer.WaitClosed();
}

// The client: sends a line, reads it back.
Task<std::string> EchoClient(SocketAddress address) {
  absl::StatusOr<Stream> stream = absl::UnknownError("not connected");
  if (address.is_unix()) {
    stream = co_await OpenUnixConnection(address.path);
  } else {
    stream = co_await OpenConnection(address.host, address.port);
  }
  EXPECT_TRUE(stream.ok()) << stream.status();
  if (!stream.ok()) co_return "";
  stream->writer.Write("hello world!\n");
  std::string msgback = Value(co_await stream->reader.ReadLine());
  (void)stream->writer.Close();
  (void)co_await stream->writer.WaitClosed();
  co_return msgback;
}

TEST(StreamTests, test_start_server) {
  RunAsync([]() -> Task<void> {
    {
      // A coroutine as the client handler, on a socket of our own (sock=).
      absl::StatusOr<TcpListener> sock = TcpListener::Listen("127.0.0.1", 0);
      EXPECT_TRUE(sock.ok()) << sock.status();
      if (!sock.ok()) co_return;
      absl::StatusOr<Server> server = StartServer(HandleClient, *std::move(sock));
      EXPECT_TRUE(server.ok()) << server.status();
      if (!server.ok()) co_return;
      const std::vector<SocketAddress> addr = server->sockets();
      EXPECT_EQ(addr.size(), 1u);
      if (addr.empty()) co_return;
      EXPECT_EQ(co_await EchoClient(addr[0]), "hello world!\n");
      server->Close();
      co_await server->WaitClosed();
      EXPECT_EQ(server->stats().handler_errors, 0u);
    }
    {
      // A callback that starts a task of its own, on host and port.
      ConnectionHandler callback = [](StreamReader r, StreamWriter w) -> Task<void> {
        CreateTask(HandleClient(std::move(r), std::move(w)));
        co_return;
      };
      absl::StatusOr<Server> server = StartServer(callback, "127.0.0.1", 0);
      EXPECT_TRUE(server.ok()) << server.status();
      if (!server.ok()) co_return;
      const SocketAddress address{"127.0.0.1", server->port()};
      EXPECT_EQ(co_await EchoClient(address), "hello world!\n");
      server->Close();
      co_await server->WaitClosed();
      EXPECT_EQ(server->stats().handler_errors, 0u);
    }
  }());
}

TEST(StreamTests, test_start_unix_server) {
  RunAsync([]() -> Task<void> {
    {
      // A coroutine as the client handler.
      UnixSocketPath path;
      absl::StatusOr<Server> server = StartUnixServer(HandleClient, path.path());
      EXPECT_TRUE(server.ok()) << server.status();
      if (!server.ok()) co_return;
      EXPECT_EQ(co_await EchoClient(SocketAddress::Unix(path.path())), "hello world!\n");
      server->Close();
      co_await server->WaitClosed();
      EXPECT_EQ(server->stats().handler_errors, 0u);
    }
    {
      // A callback that starts a task of its own.
      ConnectionHandler callback = [](StreamReader r, StreamWriter w) -> Task<void> {
        CreateTask(HandleClient(std::move(r), std::move(w)));
        co_return;
      };
      UnixSocketPath path;
      absl::StatusOr<Server> server = StartUnixServer(callback, path.path());
      EXPECT_TRUE(server.ok()) << server.status();
      if (!server.ok()) co_return;
      EXPECT_EQ(co_await EchoClient(SocketAddress::Unix(path.path())), "hello world!\n");
      server->Close();
      co_await server->WaitClosed();
      EXPECT_EQ(server->stats().handler_errors, 0u);
    }
  }());
}

// connect_read_pipe: a task feeds the reader what the pipe gives.
Task<void> FeedFromPipe(int fd, StreamReader* reader) {
  char buffer[64];
  for (;;) {
    const int n = co_await KernelOp(
        [&](io_uring_sqe* sqe) { io_uring_prep_read(sqe, fd, buffer, sizeof buffer, 0); });
    if (n <= 0) break;
    reader->FeedData(absl::string_view(buffer, static_cast<size_t>(n)));
  }
  reader->FeedEof();
}

TEST(StreamTests, test_read_all_from_pipe_reader) {
  RunAsync([]() -> Task<void> {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    // The limit is far below what is written: read() must not stop at it.
    StreamReader reader(1);
    Task<void> feeder = CreateTask(FeedFromPipe(fds[0], &reader));
    // The writing end, in another thread (the child process of the original).
    std::thread child([wfd = fds[1]] {
      EXPECT_EQ(write(wfd, "data", 4), 4);
      close(wfd);
    });
    EXPECT_EQ(Value(co_await reader.Read()), "data");
    co_await feeder;
    child.join();
    close(fds[0]);
  }());
}

// Ten tasks drain one writer whose peer does not read yet; once it reads,
// every one of them returns.
Task<void> ReadWhenReleased(Event* release, size_t bytes, StreamReader reader,
                            StreamWriter writer) {
  co_await release->Wait();
  EXPECT_TRUE((co_await reader.ReadExactly(bytes)).ok());
  (void)co_await writer.Close();
}

TEST(StreamTests, test_multiple_drain) {
  RunAsync([]() -> Task<void> {
    constexpr size_t kBytes = 64 << 20;  // more than the socket buffers hold
    Event release;
    Event* release_ptr = &release;
    ConnectionHandler handler = [release_ptr](StreamReader r, StreamWriter w) {
      return ReadWhenReleased(release_ptr, kBytes, std::move(r), std::move(w));
    };
    absl::StatusOr<Server> server = StartServer(handler, "127.0.0.1", 0);
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) co_return;
    absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", server->port());
    EXPECT_TRUE(stream.ok()) << stream.status();
    if (!stream.ok()) co_return;
    stream->writer.Write(std::string(kBytes, 'x'));
    int drained = 0;
    auto drainer = [](StreamWriter* writer, int* count) -> Task<void> {
      EXPECT_TRUE((co_await writer->Drain()).ok());
      ++*count;
    };
    std::vector<Task<void>> drainers;
    for (int i = 0; i < 10; ++i) drainers.push_back(CreateTask(drainer(&stream->writer, &drained)));
    co_await Sleep(absl::Milliseconds(20));
    EXPECT_EQ(drained, 0);  // paused: the peer reads nothing
    release.Set();
    co_await AwaitAll(drainers);
    EXPECT_EQ(drained, 10);
    (void)co_await stream->writer.Close();
  }());
}

TEST(StreamTests, test_drain_raises) {
  RunAsync([]() -> Task<void> {
    // A plain blocking server in a thread: accepts, then closes at once.
    std::promise<uint16_t> port_promise;
    std::future<uint16_t> port_future = port_promise.get_future();
    std::thread server([&port_promise] {
      const int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t length = sizeof address;
      if (bind(sock, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(sock, 1) != 0 ||
          getsockname(sock, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        port_promise.set_value(0);
        close(sock);
        return;
      }
      port_promise.set_value(ntohs(address.sin_port));
      const int client = accept(sock, nullptr, nullptr);
      if (client >= 0) close(client);
      close(sock);
    });
    const uint16_t port = port_future.get();
    EXPECT_NE(port, 0);
    absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", port);
    EXPECT_TRUE(stream.ok()) << stream.status();
    absl::Status drained;
    // Not stuck forever: the write fails once the peer is gone.
    while (stream.ok() && drained.ok()) {
      stream->writer.Write("foo\n");
      drained = co_await stream->writer.Drain();
    }
    EXPECT_TRUE(IsConnectionReset(drained) || IsBrokenPipe(drained) ||
                ErrnoOf(drained) == ECONNABORTED)
        << drained;
    server.join();
  }());
}

// ------------------------------------------------ error details (pickling)

TEST(StreamTests, test_IncompleteReadError_pickleable) {
  // What survives pickling in Python travels with the status here: a copy
  // keeps the message, the partial bytes and the expected count.
  const absl::Status e = IncompleteReadError("abc", 10);
  const absl::Status e2 = e;
  EXPECT_EQ(e.ToString(), e2.ToString());
  std::optional<IncompleteRead> original = IncompleteReadOf(e);
  std::optional<IncompleteRead> copied = IncompleteReadOf(e2);
  EXPECT_TRUE(original.has_value() && copied.has_value());
  if (original.has_value() && copied.has_value()) {
    EXPECT_EQ(copied->partial, "abc");
    EXPECT_EQ(copied->expected, 10u);
    EXPECT_EQ(original->partial, copied->partial);
  }
}

TEST(StreamTests, test_LimitOverrunError_pickleable) {
  const absl::Status e = LimitOverrunError("message", 10, 3);
  const absl::Status e2 = e;
  EXPECT_EQ(e.ToString(), e2.ToString());
  EXPECT_TRUE(absl::StartsWith(e.message(), "message"));
  std::optional<LimitOverrun> copied = LimitOverrunOf(e2);
  EXPECT_TRUE(copied.has_value());
  if (copied.has_value()) {
    EXPECT_EQ(copied->consumed, 10u);
    EXPECT_EQ(copied->limit, 3u);
  }
}

// ------------------------------------------------------- closing a writer

TEST(StreamTests, test_wait_closed_on_close) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<Server> httpd = RunTestServer();
    EXPECT_TRUE(httpd.ok()) << httpd.status();
    if (!httpd.ok()) co_return;
    absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", httpd->port());
    EXPECT_TRUE(stream.ok()) << stream.status();
    if (!stream.ok()) co_return;
    StreamReader& rd = stream->reader;
    StreamWriter& wr = stream->writer;
    wr.Write("GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(Value(co_await rd.ReadLine()), "HTTP/1.0 200 OK\r\n");
    EXPECT_TRUE(absl::EndsWith(Value(co_await rd.Read()), "\r\n\r\nTest message"));
    EXPECT_FALSE(wr.IsClosing());
    (void)wr.Close();
    EXPECT_TRUE(wr.IsClosing());
    EXPECT_TRUE((co_await wr.WaitClosed()).ok());
  }());
}

TEST(StreamTests, test_wait_closed_on_close_with_unread_data) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<Server> httpd = RunTestServer();
    EXPECT_TRUE(httpd.ok()) << httpd.status();
    if (!httpd.ok()) co_return;
    absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", httpd->port());
    EXPECT_TRUE(stream.ok()) << stream.status();
    if (!stream.ok()) co_return;
    stream->writer.Write("GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(Value(co_await stream->reader.ReadLine()), "HTTP/1.0 200 OK\r\n");
    (void)stream->writer.Close();
    EXPECT_TRUE((co_await stream->writer.WaitClosed()).ok());
  }());
}

TEST(StreamTests, test_async_writer_api) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<Server> httpd = RunTestServer();
    EXPECT_TRUE(httpd.ok()) << httpd.status();
    if (!httpd.ok()) co_return;
    absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", httpd->port());
    EXPECT_TRUE(stream.ok()) << stream.status();
    if (!stream.ok()) co_return;
    stream->writer.Write("GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(Value(co_await stream->reader.ReadLine()), "HTTP/1.0 200 OK\r\n");
    EXPECT_TRUE(
        absl::EndsWith(Value(co_await stream->reader.Read()), "\r\n\r\nTest message"));
    (void)stream->writer.Close();
    EXPECT_TRUE((co_await stream->writer.WaitClosed()).ok());
    EXPECT_EQ(httpd->stats().handler_errors, 0u);
  }());
}

TEST(StreamTests, test_async_writer_api_exception_after_close) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<Server> httpd = RunTestServer();
    EXPECT_TRUE(httpd.ok()) << httpd.status();
    if (!httpd.ok()) co_return;
    absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", httpd->port());
    EXPECT_TRUE(stream.ok()) << stream.status();
    if (!stream.ok()) co_return;
    stream->writer.Write("GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(Value(co_await stream->reader.ReadLine()), "HTTP/1.0 200 OK\r\n");
    EXPECT_TRUE(
        absl::EndsWith(Value(co_await stream->reader.Read()), "\r\n\r\nTest message"));
    (void)stream->writer.Close();
    stream->writer.Write("data");
    // CPython raises ConnectionResetError; a send on the closed stream is
    // EPIPE here (CONFORMANCE.md).
    const absl::Status drained = co_await stream->writer.Drain();
    EXPECT_TRUE(IsBrokenPipe(drained)) << drained;
  }());
}

TEST(StreamTests, test_eof_feed_when_closing_writer) {
  RunAsync([]() -> Task<void> {
    absl::StatusOr<Server> httpd = RunTestServer();
    EXPECT_TRUE(httpd.ok()) << httpd.status();
    if (!httpd.ok()) co_return;
    absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", httpd->port());
    EXPECT_TRUE(stream.ok()) << stream.status();
    if (!stream.ok()) co_return;
    (void)stream->writer.Close();
    (void)co_await stream->writer.WaitClosed();
    EXPECT_TRUE(stream->reader.AtEof());
    EXPECT_EQ(Value(co_await stream->reader.Read()), "");
  }());
}

// ------------------------------------------------------- unhandled errors

// _basetest_unhandled_exceptions: one client writes, closes; the server is
// closed; returns the server's error count and last error.
Task<ServerStats> ServeOneClient(ConnectionHandler handle_echo) {
  absl::StatusOr<Server> server = StartServer(std::move(handle_echo), "127.0.0.1", 0);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) co_return ServerStats{};
  absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", server->port());
  EXPECT_TRUE(stream.ok()) << stream.status();
  if (stream.ok()) {
    stream->writer.Write("test msg");
    (void)co_await stream->writer.Drain();
    (void)co_await stream->writer.Close();
  }
  server->Close();
  co_await server->WaitClosed();
  // The handler's done callback runs on a later pass.
  for (int i = 0; i < 3; ++i) co_await Yield();
  co_return server->stats();
}

TEST(StreamTests, test_unhandled_exception) {
  RunAsync([]() -> Task<void> {
    ConnectionHandler handle_echo = [](StreamReader, StreamWriter) -> Task<void> {
      throw std::runtime_error("test");
      co_return;
    };
    ServerStats stats = co_await ServeOneClient(handle_echo);
    EXPECT_EQ(stats.handler_errors, 1u);
    EXPECT_TRUE(absl::StartsWith(stats.last_handler_error.message(),
                                 "Unhandled exception in client_connected_cb"))
        << stats.last_handler_error;
    EXPECT_TRUE(absl::StrContains(stats.last_handler_error.message(), "test"));
  }());
}

TEST(StreamTests, test_unhandled_cancel) {
  RunAsync([]() -> Task<void> {
    ConnectionHandler handle_echo = [](StreamReader, StreamWriter writer) -> Task<void> {
      (void)writer.Close();
      CurrentTask().Cancel();
      co_return;
    };
    ServerStats stats = co_await ServeOneClient(handle_echo);
    EXPECT_EQ(stats.handler_errors, 0u) << stats.last_handler_error;
  }());
}

}  // namespace
}  // namespace asyncio_like
