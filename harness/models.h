// The registry of models, in report order: the C++ adapters over this
// project's packages, then the CPython programs.
//
//   absl::StatusOr<const ModelInfo*> model = FindModel("threads_gil");
//   for (const ModelInfo& m : AllModels()) ...

#ifndef HARNESS_MODELS_H_
#define HARNESS_MODELS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "harness/model.h"

namespace harness {

const std::vector<ModelInfo>& AllModels();

// InvalidArgument listing the valid names if `name` is unknown.
absl::StatusOr<const ModelInfo*> FindModel(absl::string_view name);
std::string ValidModelNames();  // "asyncio, asyncio_to_thread, ..."

// OK if an asyncio_like event loop (an io_uring ring) can be created here;
// otherwise the loop's error, which says why.
absl::Status IoUringAvailable();

}  // namespace harness

#endif  // HARNESS_MODELS_H_
