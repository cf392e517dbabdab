// Shared command-line plumbing: one-line errors with a non-zero exit, device parsing, atomic JSON output.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include "engine/tensor.h"

namespace yoco::app {

// Parses, then runs `body`. Every parse error (unknown flag, bad value, missing option) and every yoco::Error or
// std::exception becomes "<prog>: error: <what>" on one line and exit code 1; --help prints help and returns 0.
int run_cli(const char* prog, CLI::App& app, int argc, char** argv, const std::function<void()>& body);

// Numeric flag checks whose messages name the flag (CLI11 adds it), the value given and a readable bound, e.g.
// "--epochs: expected a positive integer, got '-3'". Values that overflow the option's type are refused too.
CLI::Validator positive_int();      // integer in [1, 2^63)
CLI::Validator non_negative_int();  // integer in [0, 2^63)
CLI::Validator unsigned_int();      // integer in [0, 2^64), e.g. seeds
CLI::Validator probability();       // finite number in [0, 1]
CLI::Validator positive_float();    // finite number > 0

// Output locations, checked before any compute so a bad path fails in the first second, not after the run.
// A file: not a directory, and its directory exists and is writable. `flag` names the option in the error.
void check_output_file(const std::string& flag, const std::string& path);
// A directory: an existing writable directory, or one that can be created (its nearest existing ancestor is a
// writable directory). Nothing is created here.
void check_output_dir(const std::string& flag, const std::string& dir);

Device parse_device(const std::string& s);  // "cpu" | "cuda"
// Writes JSON to `path` through a temporary name + rename, so a crash never leaves a partial file.
void write_json_atomic(const std::string& path, const nlohmann::json& j);
// The engine's numeric settings that change results in the last bits (TF32, CUDA convolution algorithm search,
// CPU convolution path, threads), recorded beside each output's configuration.
nlohmann::json numerics_json();
// Strips file:line prefixes so user-facing errors are one clean line.
std::string user_message(const std::string& what);

}  // namespace yoco::app
