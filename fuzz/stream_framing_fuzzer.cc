// Fuzzes StreamReader's framing: a script of reader calls (ReadExactly,
// ReadUntil, Read) runs against bytes that arrive in arbitrary pieces, and
// every result is checked against a reference reader that holds the whole
// stream at once and does what Python's asyncio.StreamReader does with it.
// How the bytes are split must never change what a framed read returns.
//
// The input is a script:
//   byte 0          the separator's length, mod 4 (0 is the empty separator,
//                   which ReadUntil must refuse), then the separator itself;
//   then records, each starting with a tag byte:
//     tag % 4 == 0  a piece: a length byte n and n bytes, sent in one write,
//                   followed by (tag / 4) % 4 loop passes before the next;
//     tag % 4 == 1  a run: a byte and a count c, (c % 80 + 1) KiB of that
//                   byte in one write (cheap inputs that pass the 64 KiB
//                   limit of ReadUntil);
//     otherwise     a call: the row (tag / 4) of kCalls, with an argument
//                   byte.
// The pieces make up the stream, which ends (end of stream) after the last
// one; the calls run in order, then the rest is read to the end and compared
// too. A mismatch prints the call and both results, then aborts.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asyncio_like/event_loop.h"
#include "asyncio_like/stream.h"
#include "asyncio_like/task.h"
#include "asyncio_like/tcp.h"

namespace asyncio_like {
namespace {

constexpr size_t kLimit = StreamReader::kDefaultLimit;

// One call of the script: which row of kCalls, its argument byte, and the
// separators it may use (owned here: ReadUntil keeps a view of its
// separator until it is done).
struct Call {
  size_t row;
  uint8_t argument;
  std::string separator;  // the script's
  std::string argument_separator;  // the argument byte alone
};

// The whole stream, as Python's StreamReader would hold it once every byte
// and the end of stream had arrived.
struct ReferenceReader {
  std::string data;
  size_t position = 0;

  absl::string_view rest() const { return absl::string_view(data).substr(position); }
  std::string Take(size_t n) {
    std::string taken(rest().substr(0, n));
    position += n;
    return taken;
  }
};

absl::Status Incomplete() { return absl::OutOfRangeError("[IncompleteReadError]"); }
absl::Status Overrun() { return absl::ResourceExhaustedError("[LimitOverrunError]"); }

// readexactly(n) on the whole stream: n bytes, or IncompleteReadError after
// consuming what is left.
absl::StatusOr<std::string> ReferenceReadExactly(ReferenceReader& ref, size_t n) {
  if (ref.rest().size() >= n) return ref.Take(n);
  ref.position = ref.data.size();
  return Incomplete();
}

// readuntil(separator) on the whole stream, as CPython 3.13 decides it:
// LimitOverrunError (nothing consumed) if the separator starts past the
// limit, or is absent and more than the limit was searched; otherwise the
// bytes through the separator, or IncompleteReadError after consuming the
// rest if the stream ends without it.
absl::StatusOr<std::string> ReferenceReadUntil(ReferenceReader& ref, absl::string_view separator) {
  if (separator.empty()) return absl::InvalidArgumentError("empty separator");
  const absl::string_view rest = ref.rest();
  const size_t found = rest.find(separator);
  if (found != absl::string_view::npos) {
    if (found > kLimit) return Overrun();
    return ref.Take(found + separator.size());
  }
  if (rest.size() + 1 >= separator.size() && rest.size() + 1 - separator.size() > kLimit) {
    return Overrun();
  }
  ref.position = ref.data.size();
  return Incomplete();
}

// Sizes for ReadExactly and Read: small ones mostly, a few past the limit.
size_t SizeOf(uint8_t argument) {
  return argument < 240 ? argument : (argument - 239) * size_t{8 * 1024};
}

// Compares a framed read with the reference's: the same bytes, or the same
// kind of error (the status code; the messages are the reader's own).
std::string Compare(const absl::StatusOr<std::string>& got,
                    const absl::StatusOr<std::string>& want) {
  if (got.ok() && want.ok() && *got == *want) return "";
  if (!got.ok() && !want.ok() && got.status().code() == want.status().code()) return "";
  auto show = [](const absl::StatusOr<std::string>& r) {
    return r.ok() ? absl::StrCat("\"", absl::CEscape(r->substr(0, 64)), "\" (", r->size(),
                                 " bytes)")
                  : r.status().ToString();
  };
  return absl::StrCat("got ", show(got), ", Python's reader gives ", show(want));
}

// A row: how the reader is called, and how its result is checked against
// the reference (which the check advances). To fuzz another reader call,
// add its row here.
struct CallKind {
  const char* name;
  Task<absl::StatusOr<std::string>> (*run)(StreamReader& reader, const Call& call);
  // "" if `got` is right; otherwise what is wrong.
  std::string (*check)(ReferenceReader& ref, const Call& call,
                       const absl::StatusOr<std::string>& got);
};

const CallKind kCalls[] = {
    {"ReadExactly",
     [](StreamReader& reader, const Call& call) { return reader.ReadExactly(SizeOf(call.argument)); },
     [](ReferenceReader& ref, const Call& call, const absl::StatusOr<std::string>& got) {
       return Compare(got, ReferenceReadExactly(ref, SizeOf(call.argument)));
     }},
    {"ReadUntil(separator)",
     [](StreamReader& reader, const Call& call) { return reader.ReadUntil(call.separator); },
     [](ReferenceReader& ref, const Call& call, const absl::StatusOr<std::string>& got) {
       return Compare(got, ReferenceReadUntil(ref, call.separator));
     }},
    {"ReadUntil(one byte)",
     [](StreamReader& reader, const Call& call) {
       return reader.ReadUntil(call.argument_separator);
     },
     [](ReferenceReader& ref, const Call& call, const absl::StatusOr<std::string>& got) {
       return Compare(got, ReferenceReadUntil(ref, call.argument_separator));
     }},
    // read(n) returns what has arrived, so its length depends on the
    // pieces: at least one byte and at most n of what comes next, nothing
    // only for n == 0 or at the end of the stream.
    {"Read",
     [](StreamReader& reader, const Call& call) { return reader.Read(SizeOf(call.argument)); },
     [](ReferenceReader& ref, const Call& call, const absl::StatusOr<std::string>& got) {
       const size_t n = SizeOf(call.argument);
       if (!got.ok()) return absl::StrCat("failed: ", got.status().ToString());
       const bool may_be_empty = n == 0 || ref.rest().empty();
       if (got->size() > n || (got->empty() && !may_be_empty) ||
           !absl::StartsWith(ref.rest(), *got)) {
         return Compare(got, std::string(ref.rest().substr(0, n)));
       }
       ref.position += got->size();
       return std::string();
     }},
};
constexpr size_t kCallKinds = sizeof(kCalls) / sizeof(kCalls[0]);

struct Script {
  std::string separator;
  std::vector<std::string> pieces;
  std::vector<int> passes_after;  // loop passes after each piece
  std::vector<Call> calls;
};

Script Parse(const uint8_t* data, size_t size) {
  Script script;
  size_t at = 0;
  auto next = [&]() -> uint8_t { return at < size ? data[at++] : 0; };
  const size_t separator_size = size > 0 ? next() % 4 : 1;
  while (script.separator.size() < separator_size && at < size) {
    script.separator.push_back(static_cast<char>(next()));
  }
  while (at < size) {
    const uint8_t tag = next();
    if (tag % 4 == 0) {
      const size_t n = std::min<size_t>(next(), size - at);
      script.pieces.emplace_back(reinterpret_cast<const char*>(data + at), n);
      at += n;
      script.passes_after.push_back((tag / 4) % 4);
    } else if (tag % 4 == 1) {
      const char byte = static_cast<char>(next());
      const size_t kib = next() % 80 + 1;
      script.pieces.emplace_back(kib * 1024, byte);
      script.passes_after.push_back(1);
    } else {
      const uint8_t argument = next();
      script.calls.push_back(Call{(tag / 4) % kCallKinds, argument, script.separator,
                                  std::string(1, static_cast<char>(argument))});
    }
  }
  return script;
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "stream framing mismatch: %s\n", what.c_str());
  std::abort();
}

Task<void> SendPieces(StreamWriter writer, const Script& script) {
  // Drain returns only once the kernel has taken every byte, so each piece
  // is its own write.
  if (!writer.SetWriteBufferLimits(0, 0).ok()) Fail("SetWriteBufferLimits(0, 0) failed");
  for (size_t i = 0; i < script.pieces.size(); ++i) {
    writer.Write(script.pieces[i]);
    absl::Status drained = co_await writer.Drain();
    if (!drained.ok()) Fail(absl::StrCat("sending piece ", i, ": ", drained.ToString()));
    for (int pass = 0; pass < script.passes_after[i]; ++pass) {
      co_await Sleep(absl::ZeroDuration());
    }
  }
  absl::Status closed = co_await writer.Close();
  if (!closed.ok()) Fail(absl::StrCat("closing the sender: ", closed.ToString()));
}

Task<void> ReadAndCheck(StreamReader reader, const Script& script) {
  ReferenceReader ref;
  for (const std::string& piece : script.pieces) ref.data += piece;
  for (size_t i = 0; i < script.calls.size(); ++i) {
    const Call& call = script.calls[i];
    const CallKind& kind = kCalls[call.row];
    const absl::StatusOr<std::string> got = co_await kind.run(reader, call);
    const std::string wrong = kind.check(ref, call, got);
    if (!wrong.empty()) {
      Fail(absl::StrCat("call ", i, " ", kind.name, "(argument ", call.argument,
                        ", separator \"", absl::CEscape(call.separator), "\") at offset ",
                        ref.position, " of ", ref.data.size(), ": ", wrong));
    }
  }
  // Whatever the calls left is still there, in order, then end of stream.
  std::string rest;
  for (;;) {
    absl::StatusOr<std::string> got = co_await reader.Read(size_t{64 * 1024});
    if (!got.ok()) Fail(absl::StrCat("reading the rest: ", got.status().ToString()));
    if (got->empty()) break;
    rest += *got;
  }
  if (rest != ref.rest()) {
    Fail(absl::StrCat("the rest after the calls: got ", rest.size(), " bytes, expected ",
                      ref.rest().size()));
  }
  if (!reader.AtEof()) Fail("AtEof() is false after the end of stream");
}

Task<void> RunScript(const Script& script) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) Fail("socketpair failed");
  Stream receiver{TcpSocket(fds[0])};
  Stream sender{TcpSocket(fds[1])};
  Task<void> sending = CreateTask(SendPieces(std::move(sender.writer), script), "sender");
  co_await ReadAndCheck(std::move(receiver.reader), script);
  co_await sending;
}

}  // namespace
}  // namespace asyncio_like

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using asyncio_like::EventLoop;
  // One loop for every input: creating a ring per input would dominate.
  static EventLoop* const loop = [] {
    absl::StatusOr<std::unique_ptr<EventLoop>> created = EventLoop::Create();
    if (!created.ok()) asyncio_like::Fail(created.status().ToString());
    return created->release();
  }();
  const asyncio_like::Script script = asyncio_like::Parse(data, size);
  absl::Status ran = loop->RunUntilComplete(asyncio_like::RunScript(script));
  if (!ran.ok()) asyncio_like::Fail(absl::StrCat("the loop: ", ran.ToString()));
  if (loop->pending_tasks() != 0) asyncio_like::Fail("a task is left pending");
  return 0;
}
