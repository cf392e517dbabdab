// The warnings the stb single-header libraries' implementations raise and we do not fix (third-party code): included
// by the two translation units that hold them, between their own `#pragma GCC diagnostic push` and pop.
#ifdef __clang__
#pragma clang diagnostic ignored "-Wunknown-warning-option"  // the GCC-only groups below
#endif
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
