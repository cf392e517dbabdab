// Engine version string recorded in every output file's metadata.
#pragma once
namespace yoco {
const char* engine_version();
}
