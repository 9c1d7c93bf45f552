#include "asyncio_like/bench/beside_cpython.h"

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>

namespace asyncio_like {

std::map<std::string, double>& Figures() {
  // Never destroyed: main() reads it after the benchmarks, and nothing is
  // gained by tearing it down at exit.
  static auto* figures = new std::map<std::string, double>;
  return *figures;
}

int64_t ProcessCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string TakePythonScriptFlag(int& argc, char** argv, std::string default_script) {
  const std::string flag = "--python_script=";
  std::string script = std::move(default_script);
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind(flag, 0) == 0) {
      script = arg.substr(flag.size());
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return script;
}

void PrintBesideCPython(const std::string& script, const std::string& args,
                        const std::map<std::string, double>& ours, const FigureUnit& unit) {
  const std::string command = "PYENV_VERSION=3.13.0 python3 '" + script + "' " + args;
  std::printf("\nCPython 3.13 on the same workloads: %s\n", command.c_str());
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    std::printf("could not run python3\n");
    return;
  }
  std::map<std::string, double> cpython;
  char name[128];
  double ns = 0;
  while (std::fscanf(pipe, "%127s %lf", name, &ns) == 2) cpython[name] = ns;
  const int rc = pclose(pipe);
  if (rc != 0 || cpython.empty()) {
    std::printf("python3 failed (status %d); no comparison\n", rc);
    return;
  }
  std::printf("\n| workload | asyncio_like %s | CPython %s | speed-up |\n", unit.title.c_str(),
              unit.title.c_str());
  std::printf("|---|---:|---:|---:|\n");
  for (const auto& [workload, mine] : ours) {
    auto theirs = cpython.find(workload);
    if (theirs == cpython.end() || mine <= 0) continue;
    std::printf("| %s | %.1f | %.1f | %.1fx |\n", workload.c_str(), mine / unit.ns_per_unit,
                theirs->second / unit.ns_per_unit, theirs->second / mine);
  }
}

}  // namespace asyncio_like
