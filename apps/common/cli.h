// Shared command-line plumbing: one-line errors with a non-zero exit, device parsing, atomic JSON output.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include "engine/tensor.h"

namespace yoco::app {

// Runs `body` (which parses and executes); a yoco::Error or std::exception becomes "<prog>: error: <what>"
// on one line and exit code 1; CLI11 parse errors keep CLI11's own exit codes and messages.
int run_cli(const char* prog, CLI::App& app, int argc, char** argv, const std::function<void()>& body);

Device parse_device(const std::string& s);  // "cpu" | "cuda"
// Writes JSON to `path` through a temporary name + rename, so a crash never leaves a partial file.
void write_json_atomic(const std::string& path, const nlohmann::json& j);
// The engine's numeric settings that change results in the last bits (TF32, CUDA convolution algorithm search,
// CPU convolution path, threads), recorded beside each output's configuration.
nlohmann::json numerics_json();
// Strips file:line prefixes so user-facing errors are one clean line.
std::string user_message(const std::string& what);

}  // namespace yoco::app
