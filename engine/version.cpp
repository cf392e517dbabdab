// Engine version string (kept in sync with CMake's project version).
#include "engine/version.h"
namespace yoco {
const char* engine_version() { return "yoco-0.1.0"; }
}
