// A restricted pickle reader (protocols 2-5, the opcodes torch.save emits, no code execution) and a small writer.
#pragma once
#include <any>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace yoco::data {

struct PickleValue;
using PickleRef = std::shared_ptr<PickleValue>;

// One unpickled value. Lists and dicts are shared (the memo holds the same object the stack does), so APPENDs
// through a memoised reference change it in place, as in Python.
struct PickleValue {
  enum class Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Object };
  Kind kind = Kind::None;
  int64_t i = 0;                 // Bool, Int
  double f = 0;                  // Float
  std::string s;                 // String; Global: "module.name"
  std::vector<PickleRef> items;  // Tuple, List; Dict: key, value, key, value, ...
  std::any object;               // Object: whatever a hook built (e.g. a tensor view)
  int depth = 1;                 // nesting depth of this value (containers: 1 + deepest item)
  // Set once the value is inside another container or passed to a hook: later changes to it are refused, so
  // a pickle can build no cycle and every depth stays true. (Shared items still make a DAG: walk with care.)
  bool sealed = false;
};

const char* pickle_kind_name(PickleValue::Kind k);

// What the unpickler may do beyond building plain data. Each hook receives the pickle offset of the opcode, to
// name it in its own one-line error; a hook that refuses throws (yoco::Error).
struct UnpickleHooks {
  // GLOBAL / STACK_GLOBAL "module.name": true to allow it (as an opaque Global value), false to refuse.
  std::function<bool(const std::string& global)> allow_global;
  // REDUCE on an allowed Global with a Tuple of arguments; returns the result.
  std::function<PickleRef(const PickleValue& callable, const PickleValue& args, size_t offset)> reduce;
  // BINPERSID with the persistent id (torch: a Tuple ('storage', type, key, location, numel)).
  std::function<PickleRef(const PickleValue& pid, size_t offset)> persistent_load;
};

// Limits on what a pickle may build, whatever its size.
inline constexpr int kPickleMaxDepth = 64;
inline constexpr size_t kPickleMaxStack = size_t(1) << 20;  // values on the stack and in the memo, each
// Values pushed in all (each costs ~150 bytes at most): bounds the memory of any pickle at ~150 MiB, far above the
// ~20 values per tensor torch.save writes.
inline constexpr size_t kPickleMaxValues = size_t(1) << 20;

// Runs the pickle in data[0, size). Only data opcodes are accepted (no INST/OBJ/NEWOBJ/EXT, no BUILD except a
// dict state merged into a dict); every length is checked against the bytes left before anything is read or
// allocated. Errors are one line: "<what>: pickle offset N: <what was expected>".
PickleRef unpickle(const char* data, size_t size, const std::string& what, const UnpickleHooks& hooks);

// Builds protocol-2 pickles of the shapes torch.save writes (ints, strings, globals, tuples, lists, REDUCE,
// BINPERSID), with BINPUT memo indices as Python assigns them.
class PickleWriter {
 public:
  PickleWriter();  // PROTO 2
  void mark();
  void none();
  void boolean(bool v);
  void integer(int64_t v);
  void string(const std::string& s);
  void global(const std::string& module, const std::string& name);  // memoised: later uses are BINGETs
  void empty_list();
  void empty_tuple();
  void tuple_from_mark();
  void appends();
  void reduce();
  void binpersid();
  void memoize();  // BINPUT of the value on top
  std::string finish();  // STOP; the pickle bytes

 private:
  void memo_op(char short_op, char long_op, uint32_t idx);
  std::string out_;
  uint32_t next_memo_ = 0;
  std::vector<std::pair<std::string, uint32_t>> globals_;
};

}  // namespace yoco::data
