// Shared command-line plumbing (see cli.h).
#include "apps/common/cli.h"
#include <cstdio>
#include <filesystem>
#include <fstream>
#include "engine/context.h"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace yoco::app {

std::string user_message(const std::string& what) {
  // "path/file.cpp:123: check `x` failed: message" -> "message"
  std::string s = what;
  auto pos = s.find("failed: ");
  if (s.rfind("/", 0) == 0 && pos != std::string::npos) s = s.substr(pos + 8);
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s;
}

int run_cli(const char* prog, CLI::App& app, int argc, char** argv, const std::function<void()>& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", prog, user_message(e.what()).c_str());
    return 1;
  }
  return 0;
}

nlohmann::json numerics_json() {
  Context& ctx = Context::get();
  return {{"allow_tf32", ctx.allow_tf32},
          {"cuda_conv_search", ctx.conv_search == kernels::ConvSearch::Measured ? "measured" : "heuristic"},
          {"cudnn_api", ctx.cudnn_graph_api ? "graph, legacy fallback" : "legacy"},
          {"cpu_conv", ctx.conv_algo == kernels::ConvAlgo::Im2col ? "im2col" : "onednn"},
          {"cpu_threads", ctx.num_threads()}};
}

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::CPU;
  if (s == "cuda" || s == "gpu") {
    YOCO_CHECK(Context::get().cuda_available(), "--device cuda: no CUDA device is available on this machine");
    return Device::CUDA;
  }
  YOCO_CHECK(false, "--device: expected cpu or cuda, got '", s, "'");
  return Device::CPU;
}

void write_json_atomic(const std::string& path, const nlohmann::json& j) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    YOCO_CHECK(f.good(), "cannot write '", path, "': the directory does not exist or is not writable");
    f << j.dump(2) << "\n";
    YOCO_CHECK(f.good(), "writing '", path, "' failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    YOCO_CHECK(false, "cannot rename '", tmp, "' to '", path, "': ", ec.message());
  }
}

}  // namespace yoco::app
