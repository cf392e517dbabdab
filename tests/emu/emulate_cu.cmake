# Writes the emulator's C++ copy of one kernels/*.cu file: `extern __shared__ T name[];` (which no macro can turn
# into valid host C++) becomes EMU_EXTERN_SHARED(T, name); (tests/emu/emu_cuda.h), all else is kept, and a #line
# directive points diagnostics at the original. Usage: cmake -DIN=<file.cu> -DOUT=<file.cpp> -P emulate_cu.cmake
file(READ "${IN}" src)
set(ws "[ \t]+")
set(id "[A-Za-z_][A-Za-z0-9_]*")
set(decl "extern${ws}__shared__${ws}(alignas\\([0-9]+\\)${ws})?(${id}(::${id})*)${ws}(${id})[ \t]*\\[[ \t]*\\][ \t]*;")
string(REGEX REPLACE "${decl}" "EMU_EXTERN_SHARED(\\2, \\4);" src "${src}")
if(src MATCHES "extern${ws}__shared__")
  message(FATAL_ERROR "${IN}: an `extern __shared__` declaration the emulator cannot rewrite "
                      "(it expects `extern __shared__ T name[];`)")
endif()
set(head "// Generated from ${IN} by tests/emu/emulate_cu.cmake for the CPU emulator; do not edit.")
file(WRITE "${OUT}" "${head}\n#line 1 \"${IN}\"\n${src}")
