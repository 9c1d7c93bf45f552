#include "asyncio_like/fault_workload.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/file.h"
#include "asyncio_like/tcp_errors.h"

namespace asyncio_like {
namespace {

// splitmix64, for sizes and orders derived from a seed.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  size_t Between(size_t low, size_t high) { return low + Next() % (high - low + 1); }

 private:
  uint64_t state_;
};

std::string Pattern(uint64_t seed, uint64_t offset, size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = PatternByte(seed, offset + i);
  return bytes;
}

// Records a mismatch between `got` and `expected`, naming where.
void CheckBytes(absl::string_view got, absl::string_view expected, absl::string_view what,
                WorkloadCounts* counts, bool* ok) {
  if (got == expected) {
    counts->bytes_checked += got.size();
    return;
  }
  size_t at = 0;
  while (at < got.size() && at < expected.size() && got[at] == expected[at]) ++at;
  counts->Violation(absl::StrCat(what, ": ", got.size(), " bytes where ", expected.size(),
                                 " were expected, first difference at byte ", at));
  *ok = false;
}

// Each frame: a header line and a payload.
std::vector<std::pair<std::string, std::string>> Frames(uint64_t seed, int frames) {
  std::vector<std::pair<std::string, std::string>> result;
  Random random(seed);
  uint64_t offset = 0;
  for (int k = 0; k < frames; ++k) {
    const size_t size = random.Between(0, 3000);
    result.emplace_back(absl::StrCat("frame ", k, " ", size, "\n"), Pattern(seed, offset, size));
    offset += size;
  }
  return result;
}

}  // namespace

void WorkloadCounts::Fail(const absl::Status& error) {
  if (!IsClearFailure(error)) {
    Violation(absl::StrCat("unclear error: ", error.ToString()));
    return;
  }
  ++failed;
  last_error = error;
}

void WorkloadCounts::Violation(std::string what) {
  if (violations++ == 0) first_violation = std::move(what);
}

void WorkloadCounts::Add(const WorkloadCounts& other) {
  succeeded += other.succeeded;
  failed += other.failed;
  bytes_checked += other.bytes_checked;
  if (violations == 0 && other.violations > 0) first_violation = other.first_violation;
  violations += other.violations;
  if (!other.last_error.ok()) last_error = other.last_error;
}

std::string WorkloadCounts::ToString() const {
  // An IncompleteReadError carries the partial bytes in its payload: a
  // summary line shows only the start of the error.
  constexpr size_t kErrorShown = 200;
  std::string error = last_error.ToString();
  if (error.size() > kErrorShown) error = absl::StrCat(error.substr(0, kErrorShown), "...");
  return absl::StrCat("succeeded=", succeeded, " failed=", failed,
                      " bytes_checked=", bytes_checked, " violations=", violations,
                      violations > 0 ? absl::StrCat(" (first: ", first_violation, ")") : "",
                      last_error.ok() ? "" : absl::StrCat(" last_error=", error));
}

bool IsClearFailure(const absl::Status& status) {
  if (status.ok()) return false;
  if (ErrnoOf(status).has_value()) return true;
  return absl::IsOutOfRange(status) &&
         status.message().find("[IncompleteReadError]") != absl::string_view::npos;
}

char PatternByte(uint64_t seed, uint64_t offset) {
  // Varies with the offset's every byte, so a shifted stream mismatches.
  const uint64_t x = (offset + 1) * 0x9e3779b97f4a7c15ULL ^ seed * 0xbf58476d1ce4e5b9ULL;
  return static_cast<char>((x >> 56) ^ (x >> 24) ^ offset);
}

Task<void> CheckedEchoClient(uint16_t port, uint64_t seed, EchoClientOptions options,
                             WorkloadCounts* counts) {
  absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", port);
  if (!stream.ok()) {
    counts->Fail(stream.status());
    co_return;
  }
  Random random(seed);
  uint64_t offset = 0;
  bool ok = true;
  for (int m = 0; m < options.messages && ok; ++m) {
    const size_t size = random.Between(1, options.max_message);
    const std::string message = Pattern(seed, offset, size);
    offset += size;
    stream->writer.Write(message);
    if (absl::Status drained = co_await stream->writer.Drain(); !drained.ok()) {
      counts->Fail(drained);
      ok = false;
      break;
    }
    absl::StatusOr<std::string> echo = co_await stream->reader.ReadExactly(size);
    if (!echo.ok()) {
      counts->Fail(echo.status());
      ok = false;
      break;
    }
    CheckBytes(*echo, message, "echo", counts, &ok);
  }
  absl::Status closed = co_await stream->writer.Close();
  if (ok && !closed.ok()) {
    counts->Fail(closed);
    ok = false;
  }
  if (ok) ++counts->succeeded;
}

Task<void> FramingServerHandler(StreamReader reader, StreamWriter writer, uint64_t seed,
                                int frames) {
  std::string all;
  for (const auto& [header, payload] : Frames(seed, frames)) all += header + payload;
  Random random(seed ^ 0x5eed);
  absl::string_view rest = all;
  while (!rest.empty()) {
    const size_t piece = std::min(rest.size(), random.Between(1, 4096));
    writer.Write(rest.substr(0, piece));
    rest.remove_prefix(piece);
    if (!(co_await writer.Drain()).ok()) break;
  }
  (void)co_await writer.Close();
  (void)reader;
}

Task<void> CheckedFramingClient(uint16_t port, uint64_t seed, int frames,
                                WorkloadCounts* counts) {
  absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", port);
  if (!stream.ok()) {
    counts->Fail(stream.status());
    co_return;
  }
  bool ok = true;
  for (const auto& [header, payload] : Frames(seed, frames)) {
    absl::StatusOr<std::string> line = co_await stream->reader.ReadUntil("\n");
    if (!line.ok()) {
      counts->Fail(line.status());
      ok = false;
      break;
    }
    CheckBytes(*line, header, "frame header", counts, &ok);
    if (!ok) break;
    absl::StatusOr<std::string> body = co_await stream->reader.ReadExactly(payload.size());
    if (!body.ok()) {
      counts->Fail(body.status());
      ok = false;
      break;
    }
    CheckBytes(*body, payload, "frame payload", counts, &ok);
    if (!ok) break;
  }
  if (ok) {
    // Nothing after the last frame.
    absl::StatusOr<std::string> extra = co_await stream->reader.Read(1);
    if (!extra.ok()) {
      counts->Fail(extra.status());
      ok = false;
    } else if (!extra->empty()) {
      counts->Violation("bytes after the last frame");
      ok = false;
    }
  }
  (void)co_await stream->writer.Close();
  if (ok) ++counts->succeeded;
}

namespace {

// Reads `total` echoed bytes, checking them (a mismatch is recorded in
// *counts and sets *ok false); returns why the bytes stopped, if they did.
Task<absl::Status> ReadBackChecked(StreamReader* reader, uint64_t seed, size_t total,
                                   WorkloadCounts* counts, bool* ok) {
  std::vector<char> buffer(16 * 1024);
  size_t offset = 0;
  while (offset < total) {
    absl::StatusOr<size_t> n = co_await reader->Read(absl::MakeSpan(buffer));
    if (!n.ok()) co_return n.status();
    if (*n == 0) {
      co_return absl::OutOfRangeError(
          absl::StrCat("end of stream after ", offset, " bytes [IncompleteReadError]"));
    }
    CheckBytes(absl::string_view(buffer.data(), *n), Pattern(seed, offset, *n), "drained echo",
               counts, ok);
    if (!*ok) co_return absl::OkStatus();
    offset += *n;
  }
  co_return absl::OkStatus();
}

}  // namespace

Task<void> CheckedDrainClient(uint16_t port, uint64_t seed, size_t total, WorkloadCounts* counts) {
  constexpr size_t kHigh = 16 * 1024;
  constexpr size_t kLow = 4 * 1024;
  constexpr size_t kChunk = 4 * 1024;
  absl::StatusOr<Stream> stream = co_await OpenConnection("127.0.0.1", port);
  if (!stream.ok()) {
    counts->Fail(stream.status());
    co_return;
  }
  if (absl::Status set = stream->writer.SetWriteBufferLimits(kHigh, kLow); !set.ok()) {
    counts->Violation(set.ToString());
    co_return;
  }
  bool bytes_ok = true;
  Task<absl::Status> reading =
      CreateTask(ReadBackChecked(&stream->reader, seed, total, counts, &bytes_ok));
  absl::Status error;
  for (size_t offset = 0; offset < total && error.ok(); offset += kChunk) {
    stream->writer.Write(Pattern(seed, offset, std::min(kChunk, total - offset)));
    error = co_await stream->writer.Drain();
    if (error.ok() && stream->writer.buffered() > kHigh) {
      counts->Violation(absl::StrCat("Drain returned with ", stream->writer.buffered(),
                                     " bytes unsent, above the high mark"));
      bytes_ok = false;
      break;
    }
  }
  // A failed writer closes the connection, which ends the reader's wait.
  if (!error.ok() || !bytes_ok) (void)co_await stream->writer.Close();
  absl::Status read = co_await reading;
  if (error.ok()) error = read;
  if (error.ok() && bytes_ok) error = co_await stream->writer.Close();
  if (!bytes_ok) co_return;  // recorded as a violation
  if (error.ok()) {
    ++counts->succeeded;
  } else {
    counts->Fail(error);
  }
}

Task<void> CheckedFileRoundTrip(std::string path, uint64_t seed, size_t total,
                                WorkloadCounts* counts) {
  constexpr size_t kBlock = 4096;
  const std::string expected = Pattern(seed, 0, total);
  bool ok = true;
  {
    absl::StatusOr<File> file = co_await File::Open(path, O_RDWR | O_CREAT | O_TRUNC);
    if (!file.ok()) {
      counts->Fail(file.status());
      co_return;
    }
    std::vector<size_t> blocks((total + kBlock - 1) / kBlock);
    std::iota(blocks.begin(), blocks.end(), size_t{0});
    Random random(seed);
    for (size_t i = blocks.size(); i > 1; --i) std::swap(blocks[i - 1], blocks[random.Between(0, i - 1)]);
    for (size_t block : blocks) {
      const size_t offset = block * kBlock;
      const size_t size = std::min(kBlock, total - offset);
      absl::Status written =
          co_await file->WriteAt(offset, absl::MakeConstSpan(expected.data() + offset, size));
      if (!written.ok()) {
        counts->Fail(written);
        ok = false;
        break;
      }
    }
    if (ok) {
      if (absl::Status synced = co_await file->Sync(); !synced.ok()) {
        counts->Fail(synced);
        ok = false;
      }
    }
    std::string got(total, '\0');
    size_t offset = 0;
    while (ok && offset < total) {
      absl::StatusOr<size_t> n =
          co_await file->ReadAt(offset, absl::MakeSpan(got.data() + offset, total - offset));
      if (!n.ok()) {
        counts->Fail(n.status());
        ok = false;
      } else if (*n == 0) {
        counts->Violation(absl::StrCat("file ends at ", offset, " of ", total, " bytes"));
        ok = false;
      } else {
        offset += *n;
      }
    }
    if (ok) CheckBytes(got, expected, "file", counts, &ok);
    if (absl::Status closed = co_await file->Close(); ok && !closed.ok()) {
      counts->Fail(closed);
      ok = false;
    }
  }
  unlink(path.c_str());
  if (ok) ++counts->succeeded;
}

int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the directory's own descriptor
}

}  // namespace asyncio_like
