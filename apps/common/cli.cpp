// Shared command-line plumbing (see cli.h).
#include "apps/common/cli.h"
#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include "engine/context.h"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace yoco::app {

std::string user_message(const std::string& what) {
  // "path/file.cpp:123: check `x` failed: message" -> "message"; the path may be relative (ccache base dirs).
  std::string s = what;
  const auto check = s.find(": check `");
  const auto pos = check == std::string::npos ? check : s.find("` failed: ", check);
  if (pos != std::string::npos) s = s.substr(pos + 10);
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s;
}

int run_cli(const char* prog, CLI::App& app, int argc, char** argv, const std::function<void()>& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help: CLI11 prints the help, exit code 0
  } catch (const CLI::ParseError& e) {
    // CLI11's own exit() would print two lines and use codes 104-109; the tools promise one line and 1.
    std::string msg = user_message(e.what());
    // CLI11 reports a misspelt subcommand as "A subcommand is required"; name the word and the choices instead.
    const auto subs = app.get_subcommands([](CLI::App*) { return true; });
    const bool known =
        std::any_of(subs.begin(), subs.end(), [&](CLI::App* s) { return argc > 1 && s->check_name(argv[1]); });
    if (!subs.empty() && argc > 1 && argv[1][0] != '-' && !known) {
      msg = std::string("unknown subcommand '") + argv[1] + "': expected one of";
      for (const CLI::App* s : subs) msg += " " + s->get_name();
    }
    std::fprintf(stderr, "%s: error: %s\n", prog, msg.c_str());
    return 1;
  }
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", prog, user_message(e.what()).c_str());
    return 1;
  }
  return 0;
}

namespace {

namespace fs = std::filesystem;

// The integer in `s` (decimal, the whole string), or false when it is not one or overflows [lo, hi].
bool parse_int(const std::string& s, long long lo, long long hi, long long* out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno == ERANGE || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool parse_finite(const std::string& s, double* out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (errno == ERANGE || *end != '\0' || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

// True when `s` is all decimal digits after an optional sign: an integer, however large.
bool integral(const std::string& s) {
  size_t i = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  return i < s.size() && s.find_first_not_of("0123456789", i) == std::string::npos;
}

CLI::Validator int_validator(long long lo, const std::string& what, const std::string& tag) {
  return CLI::Validator(
      [lo, what](std::string& s) -> std::string {
        long long v;
        if (parse_int(s, lo, std::numeric_limits<long long>::max(), &v)) return {};
        const bool overflow = integral(s) && s[0] != '-' && errno == ERANGE;
        return "expected " + what + ", got '" + s + "'" + (overflow ? " (too large: at most 2^63-1)" : "");
      },
      tag);
}

bool writable_dir(const fs::path& d) { return ::access(d.c_str(), W_OK | X_OK) == 0; }

}  // namespace

CLI::Validator positive_int() { return int_validator(1, "a positive integer", "INT>0"); }
CLI::Validator non_negative_int() { return int_validator(0, "a non-negative integer", "INT>=0"); }

CLI::Validator unsigned_int() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        errno = 0;
        char* end = nullptr;
        bool ok = !s.empty() && std::isdigit(static_cast<unsigned char>(s[0]));
        if (ok) std::strtoull(s.c_str(), &end, 10);
        if (ok && errno != ERANGE && *end == '\0') return {};
        const bool overflow = ok && errno == ERANGE;
        return "expected a non-negative integer, got '" + s + "'" + (overflow ? " (too large: at most 2^64-1)" : "");
      },
      "UINT");
}

CLI::Validator probability() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        double v;
        return parse_finite(s, &v) && v >= 0 && v <= 1 ? std::string() : "expected a number in [0, 1], got '" + s + "'";
      },
      "[0,1]");
}

CLI::Validator positive_float() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        double v;
        return parse_finite(s, &v) && v > 0 ? std::string() : "expected a finite number > 0, got '" + s + "'";
      },
      "NUM>0");
}

void check_output_file(const std::string& flag, const std::string& path) {
  YOCO_CHECK(!path.empty(), flag, ": expected an output file path, got ''");
  std::error_code ec;
  YOCO_CHECK(!fs::is_directory(path, ec), flag, ": '", path, "' is a directory, expected a file path");
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  YOCO_CHECK(fs::is_directory(dir, ec), flag, ": cannot write '", path, "': '", dir.string(),
             fs::exists(dir, ec) ? "' is not a directory" : "' does not exist");
  YOCO_CHECK(writable_dir(dir), flag, ": cannot write '", path, "': directory '", dir.string(), "' is not writable");
}

void check_output_dir(const std::string& flag, const std::string& dir) {
  YOCO_CHECK(!dir.empty(), flag, ": expected an output directory, got ''");
  std::error_code ec;
  fs::path p = fs::absolute(dir, ec);
  if (fs::exists(p, ec)) {
    YOCO_CHECK(fs::is_directory(p, ec), flag, ": '", dir, "' exists and is not a directory");
    YOCO_CHECK(writable_dir(p), flag, ": directory '", dir, "' is not writable");
    return;
  }
  // Climb to the nearest existing ancestor: the directory would be created there.
  fs::path anc = p.parent_path();
  while (!anc.empty() && !fs::exists(anc, ec) && anc != anc.parent_path()) anc = anc.parent_path();
  YOCO_CHECK(fs::is_directory(anc, ec), flag, ": cannot create directory '", dir, "': '", anc.string(),
             "' is not a directory");
  YOCO_CHECK(writable_dir(anc), flag, ": cannot create directory '", dir, "': '", anc.string(), "' is not writable");
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
