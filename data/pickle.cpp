// Restricted unpickler: a data-only pickle machine with bounded stack, memo and nesting; hooks decide globals.
#include "data/pickle.h"
#include "data/printable.h"

#include <cstring>
#include <unordered_map>
#include "kernels/common.h"

namespace yoco::data {

const char* pickle_kind_name(PickleValue::Kind k) {
  switch (k) {
    case PickleValue::Kind::None: return "None";
    case PickleValue::Kind::Bool: return "bool";
    case PickleValue::Kind::Int: return "int";
    case PickleValue::Kind::Float: return "float";
    case PickleValue::Kind::String: return "str";
    case PickleValue::Kind::Tuple: return "tuple";
    case PickleValue::Kind::List: return "list";
    case PickleValue::Kind::Dict: return "dict";
    case PickleValue::Kind::Global: return "global";
    case PickleValue::Kind::Object: return "object";
  }
  return "?";
}

namespace {

using Kind = PickleValue::Kind;

PickleRef make(Kind k) {
  auto v = std::make_shared<PickleValue>();
  v->kind = k;
  return v;
}

class Machine {
 public:
  Machine(const char* data, size_t size, const std::string& what, const UnpickleHooks& hooks)
      : p_(reinterpret_cast<const uint8_t*>(data)), n_(size), what_(what), hooks_(hooks) {}

  PickleRef run() {
    fail_if(n_ == 0, "empty pickle");
    while (true) {
      op_at_ = pos_;
      fail_if(pos_ >= n_, "pickle ends without STOP");
      const uint8_t op = p_[pos_++];
      if (op == '.') break;
      step(op);
    }
    fail_if(!marks_.empty(), "STOP with an open MARK");
    fail_if(stack_.size() != 1, "STOP with ", stack_.size(), " values on the stack, expected 1");
    return stack_.back();
  }

 private:
  template <class... A>
  void fail_if(bool bad, const A&... parts) {
    if (bad) YOCO_CHECK(false, what_, ": pickle offset ", op_at_, ": ", parts...);
  }

  const uint8_t* take(size_t k, const char* field) {
    fail_if(k > n_ - pos_, field, " needs ", k, " bytes but only ", n_ - pos_, " remain");
    const uint8_t* q = p_ + pos_;
    pos_ += k;
    return q;
  }
  uint64_t uint_le(size_t k, const char* field) {
    const uint8_t* q = take(k, field);
    uint64_t v = 0;
    for (size_t b = 0; b < k; ++b) v |= static_cast<uint64_t>(q[b]) << (8 * b);
    return v;
  }
  std::string line(const char* field) {
    const size_t limit = std::min<size_t>(n_ - pos_, 1024);
    const void* nl = std::memchr(p_ + pos_, '\n', limit);
    fail_if(nl == nullptr, field, ": no newline within ", limit, " bytes");
    const size_t len = static_cast<const uint8_t*>(nl) - (p_ + pos_);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len + 1;
    return s;
  }

  void push(PickleRef v) {
    fail_if(stack_.size() >= kPickleMaxStack, "stack deeper than ", kPickleMaxStack, " values");
    fail_if(++pushed_ > kPickleMaxValues, "more than ", kPickleMaxValues, " values");
    stack_.push_back(std::move(v));
  }
  PickleRef pop(const char* opname) {
    fail_if(stack_.size() <= floor(), opname, " on an empty stack");
    PickleRef v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  PickleRef& top(const char* opname) {
    fail_if(stack_.size() <= floor(), opname, " on an empty stack");
    return stack_.back();
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<PickleRef> pop_to_mark(const char* opname) {
    fail_if(marks_.empty(), opname, " without a MARK");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PickleRef> items(std::make_move_iterator(stack_.begin() + static_cast<ptrdiff_t>(m)),
                                 std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }

  // Puts `item` into `c` (sealing the item: it may not change any more) and keeps c's depth true.
  void add_item(PickleValue& c, PickleRef item, const char* opname) {
    fail_if(c.sealed, opname, " changes a ", pickle_kind_name(c.kind),
            " already inside another value (recursive structures are not supported)");
    fail_if(item.get() == &c, opname, " puts a ", pickle_kind_name(c.kind), " into itself");
    item->sealed = true;
    fail_if(item->depth + 1 > kPickleMaxDepth, "nesting deeper than ", kPickleMaxDepth, " levels");
    c.depth = std::max(c.depth, item->depth + 1);
    c.items.push_back(std::move(item));
  }
  PickleRef container(Kind k, std::vector<PickleRef> items, const char* opname) {
    PickleRef c = make(k);
    if (k == Kind::Dict) fail_if(items.size() % 2 != 0, opname, ": odd number of items for key/value pairs");
    c->items.reserve(items.size());
    for (auto& it : items) add_item(*c, std::move(it), opname);
    return c;
  }
  void append_to(const char* opname, std::vector<PickleRef> items, Kind want) {
    PickleRef target = top(opname);
    fail_if(target->kind != want, opname, " on a ", pickle_kind_name(target->kind), ", expected a ",
            pickle_kind_name(want));
    if (want == Kind::Dict) fail_if(items.size() % 2 != 0, opname, ": odd number of items for key/value pairs");
    for (auto& it : items) add_item(*target, std::move(it), opname);
  }

  void memo_put(uint64_t idx) {
    fail_if(stack_.size() <= floor(), "memo store on an empty stack");
    fail_if(memo_.size() >= kPickleMaxStack && !memo_.count(idx), "memo larger than ", kPickleMaxStack, " entries");
    memo_[idx] = stack_.back();
  }
  void memo_get(uint64_t idx) {
    auto it = memo_.find(idx);
    fail_if(it == memo_.end(), "memo index ", idx, " was never stored");
    push(it->second);
  }

  void global(const std::string& module, const std::string& name) {
    const std::string g = module + "." + name;
    fail_if(!hooks_.allow_global || !hooks_.allow_global(g), "global '", printable(g),
            "' is not allowed (only the tensor-rebuilding globals torch.load(weights_only=True) accepts)");
    PickleRef v = make(Kind::Global);
    v->s = g;
    push(v);
  }

  PickleRef string_of(uint64_t len, const char* field) {
    const uint8_t* q = take(len, field);
    PickleRef v = make(Kind::String);
    v->s.assign(reinterpret_cast<const char*>(q), len);
    return v;
  }
  PickleRef integer(int64_t x) {
    PickleRef v = make(Kind::Int);
    v->i = x;
    return v;
  }

  void step(uint8_t op) {
    switch (op) {
      case 0x80: {  // PROTO
        const uint64_t v = uint_le(1, "PROTO");
        fail_if(v < 2 || v > 5, "pickle protocol ", v, ", expected 2 to 5");
        break;
      }
      case 0x95: {  // FRAME: a length hint; the bytes follow inline
        const uint64_t len = uint_le(8, "FRAME");
        fail_if(len > n_ - pos_, "FRAME of ", len, " bytes but only ", n_ - pos_, " remain");
        break;
      }
      case '(': fail_if(marks_.size() >= kPickleMaxStack, "too many MARKs"); marks_.push_back(stack_.size()); break;
      case 'N': push(make(Kind::None)); break;
      case 0x88: case 0x89: {  // NEWTRUE, NEWFALSE
        PickleRef v = make(Kind::Bool);
        v->i = op == 0x88;
        push(v);
        break;
      }
      case 'J': push(integer(static_cast<int32_t>(uint_le(4, "BININT")))); break;
      case 'K': push(integer(static_cast<int64_t>(uint_le(1, "BININT1")))); break;
      case 'M': push(integer(static_cast<int64_t>(uint_le(2, "BININT2")))); break;
      case 0x8a: {  // LONG1: little-endian two's complement of n bytes
        const uint64_t k = uint_le(1, "LONG1");
        fail_if(k > 8, "LONG1 of ", k, " bytes: integers wider than 64 bits are not supported");
        uint64_t v = k ? uint_le(k, "LONG1") : 0;
        if (k > 0 && k < 8 && (v >> (8 * k - 1)) & 1) v |= ~uint64_t(0) << (8 * k);  // sign-extend
        push(integer(static_cast<int64_t>(v)));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        const uint8_t* q = take(8, "BINFLOAT");
        uint64_t bits = 0;
        for (int b = 0; b < 8; ++b) bits = bits << 8 | q[b];
        PickleRef v = make(Kind::Float);
        std::memcpy(&v->f, &bits, sizeof bits);
        push(v);
        break;
      }
      case 'X': push(string_of(uint_le(4, "BINUNICODE"), "BINUNICODE")); break;
      case 0x8c: push(string_of(uint_le(1, "SHORT_BINUNICODE"), "SHORT_BINUNICODE")); break;
      case 0x8d: push(string_of(uint_le(8, "BINUNICODE8"), "BINUNICODE8")); break;
      case ')': push(make(Kind::Tuple)); break;
      case 't': push(container(Kind::Tuple, pop_to_mark("TUPLE"), "TUPLE")); break;
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        const size_t k = op - 0x84u;
        fail_if(stack_.size() < floor() + k, "TUPLE", k, " needs ", k, " values on the stack");
        std::vector<PickleRef> items(std::make_move_iterator(stack_.end() - static_cast<ptrdiff_t>(k)),
                                     std::make_move_iterator(stack_.end()));
        stack_.resize(stack_.size() - k);
        push(container(Kind::Tuple, std::move(items), "TUPLE"));
        break;
      }
      case ']': push(make(Kind::List)); break;
      case 'l': push(container(Kind::List, pop_to_mark("LIST"), "LIST")); break;
      case 'a': {
        PickleRef v = pop("APPEND");
        append_to("APPEND", {std::move(v)}, Kind::List);
        break;
      }
      case 'e': append_to("APPENDS", pop_to_mark("APPENDS"), Kind::List); break;
      case '}': push(make(Kind::Dict)); break;
      case 'd': push(container(Kind::Dict, pop_to_mark("DICT"), "DICT")); break;
      case 's': {
        PickleRef v = pop("SETITEM"), k = pop("SETITEM");
        append_to("SETITEM", {std::move(k), std::move(v)}, Kind::Dict);
        break;
      }
      case 'u': append_to("SETITEMS", pop_to_mark("SETITEMS"), Kind::Dict); break;
      case 'q': memo_put(uint_le(1, "BINPUT")); break;
      case 'r': memo_put(uint_le(4, "LONG_BINPUT")); break;
      case 0x94: memo_put(memo_.size()); break;  // MEMOIZE
      case 'h': memo_get(uint_le(1, "BINGET")); break;
      case 'j': memo_get(uint_le(4, "LONG_BINGET")); break;
      case 'c': {
        const std::string module = line("GLOBAL module");
        const std::string name = line("GLOBAL name");
        global(module, name);
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        PickleRef name = pop("STACK_GLOBAL"), module = pop("STACK_GLOBAL");
        fail_if(name->kind != Kind::String || module->kind != Kind::String, "STACK_GLOBAL needs two strings");
        global(module->s, name->s);
        break;
      }
      case 'R': {  // REDUCE: only on allowed globals, through the hook
        PickleRef args = pop("REDUCE"), fn = pop("REDUCE");
        fail_if(fn->kind != Kind::Global, "REDUCE calls a ", pickle_kind_name(fn->kind),
                ", expected an allowed global");
        fail_if(args->kind != Kind::Tuple, "REDUCE arguments are a ", pickle_kind_name(args->kind),
                ", expected a tuple");
        fail_if(!hooks_.reduce, "REDUCE of '", printable(fn->s), "' is not allowed here");
        args->sealed = true;
        PickleRef r = hooks_.reduce(*fn, *args, op_at_);
        fail_if(!r, "REDUCE of '", printable(fn->s), "' gave nothing");
        fail_if(r->depth > kPickleMaxDepth, "nesting deeper than ", kPickleMaxDepth, " levels");
        push(std::move(r));
        break;
      }
      case 'b': {  // BUILD: only a dict state merged into a dict (OrderedDict.__setstate__ is a plain update)
        PickleRef state = pop("BUILD");
        PickleRef& obj = top("BUILD");
        fail_if(obj->kind != Kind::Dict || state->kind != Kind::Dict, "BUILD on a ",
                obj->kind == Kind::Global ? "'" + printable(obj->s) + "'" : std::string(pickle_kind_name(obj->kind)),
                " with a ", pickle_kind_name(state->kind), " state: only a dict state on a dict is allowed");
        append_to("BUILD", state->items, Kind::Dict);
        break;
      }
      case 'Q': {  // BINPERSID
        PickleRef pid = pop("BINPERSID");
        fail_if(!hooks_.persistent_load, "BINPERSID: persistent ids are not allowed here");
        pid->sealed = true;
        PickleRef r = hooks_.persistent_load(*pid, op_at_);
        fail_if(!r, "BINPERSID gave nothing");
        push(std::move(r));
        break;
      }
      default:
        fail_if(true, "opcode 0x", "0123456789abcdef"[op >> 4], "0123456789abcdef"[op & 15],
                (op >= 0x20 && op < 0x7f) ? cat(" ('", static_cast<char>(op), "')") : std::string(),
                " is not allowed (only data opcodes: no code execution)");
    }
  }

  const uint8_t* p_;
  size_t n_, pos_ = 0, op_at_ = 0, pushed_ = 0;
  const std::string& what_;
  const UnpickleHooks& hooks_;
  std::vector<PickleRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleRef> memo_;
};

}  // namespace

PickleRef unpickle(const char* data, size_t size, const std::string& what, const UnpickleHooks& hooks) {
  return Machine(data, size, what, hooks).run();
}

// ---- writer ----

PickleWriter::PickleWriter() { out_ = std::string("\x80\x02", 2); }
void PickleWriter::mark() { out_ += '('; }
void PickleWriter::none() { out_ += 'N'; }
void PickleWriter::boolean(bool v) { out_ += static_cast<char>(v ? 0x88 : 0x89); }
void PickleWriter::empty_list() { out_ += ']'; }
void PickleWriter::empty_tuple() { out_ += ')'; }
void PickleWriter::tuple_from_mark() { out_ += 't'; }
void PickleWriter::appends() { out_ += 'e'; }
void PickleWriter::reduce() { out_ += 'R'; }
void PickleWriter::binpersid() { out_ += 'Q'; }

void PickleWriter::integer(int64_t v) {
  if (v >= 0 && v < 256) {
    out_ += 'K';
    out_ += static_cast<char>(v);
  } else if (v >= 0 && v < 65536) {
    out_ += 'M';
    out_ += static_cast<char>(v & 0xff);
    out_ += static_cast<char>(v >> 8);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    out_ += 'J';
    for (int b = 0; b < 4; ++b) out_ += static_cast<char>((static_cast<uint32_t>(v) >> (8 * b)) & 0xff);
  } else {  // LONG1 with 8 bytes (Python would trim, but any width reads back the same)
    out_ += static_cast<char>(0x8a);
    out_ += static_cast<char>(8);
    for (int b = 0; b < 8; ++b) out_ += static_cast<char>((static_cast<uint64_t>(v) >> (8 * b)) & 0xff);
  }
}

void PickleWriter::string(const std::string& s) {
  out_ += 'X';
  const uint32_t n = static_cast<uint32_t>(s.size());
  for (int b = 0; b < 4; ++b) out_ += static_cast<char>((n >> (8 * b)) & 0xff);
  out_ += s;
  memoize();
}

// BINPUT/BINGET for indices below 256, LONG_ forms (4-byte index) above, as Python's pickler does.
void PickleWriter::memo_op(char short_op, char long_op, uint32_t idx) {
  if (idx < 256) {
    out_ += short_op;
    out_ += static_cast<char>(idx);
  } else {
    out_ += long_op;
    for (int b = 0; b < 4; ++b) out_ += static_cast<char>((idx >> (8 * b)) & 0xff);
  }
}

void PickleWriter::memoize() { memo_op('q', 'r', next_memo_++); }

void PickleWriter::global(const std::string& module, const std::string& name) {
  const std::string key = module + "\n" + name + "\n";
  for (const auto& [g, idx] : globals_)
    if (g == key) return memo_op('h', 'j', idx);
  out_ += 'c';
  out_ += key;
  globals_.emplace_back(key, next_memo_);
  memoize();
}

std::string PickleWriter::finish() {
  out_ += '.';
  return out_;
}

}  // namespace yoco::data
