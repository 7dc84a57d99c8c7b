// Values seen by the hook: their kind, their bytes, and who produced them. This is the tracer's
// data-flow half; it runs on every traced call, so the per-type questions (is it a tensor? can it be
// weak-referenced? is it a scalar not worth following?) are answered once per type and cached.
#include <algorithm>

#include "bind_trace_hook.hpp"
#include "codedag/trace/value_types.hpp"

namespace codedag::bindings::tracehook {

namespace {
constexpr Py_ssize_t kMaxElements = 256;  // elements looked at per container, bounded

// Calls f(item) for the first kMaxElements values of a tuple, list or dict (dict: its values).
// A template, so the per-event walk inlines like the loops it replaces.
template <class F>
void for_each_element(PyObject* container, F&& f) {
  if (PyDict_CheckExact(container)) {
    Py_ssize_t pos = 0, seen = 0;
    PyObject *k, *item;
    while (PyDict_Next(container, &pos, &k, &item) && seen++ < kMaxElements) f(item);
  } else {
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(container);
    PyObject** items = PySequence_Fast_ITEMS(container);
    for (Py_ssize_t i = 0; i < n && i < kMaxElements; ++i) f(items[i]);
  }
}

// Pinning a container keeps everything in it alive until the ring forgets it: fine for a tuple of
// numbers, not for one holding an image tensor (16k pinned samples would be gigabytes). A container
// holding any followable value is therefore not pinned: the values in it carry the edge (take_value
// walks into containers). Nor is a long one. `holds_followable`: already known from a walk, or
// -1 to walk now.
bool pinnable_container(PyObject* container, Session& s, int holds_followable) {
  if (Py_SIZE(container) > kMaxElements) return false;  // tuple/list: length; dict: ma_used
  if (holds_followable >= 0) return !holds_followable;
  bool followable = false;
  for_each_element(container, [&](PyObject* item) { followable = followable || s.followable(item); });
  return !followable;
}

bool subtype(PyTypeObject* t, PyObject* base) {
  return base && PyType_IsSubtype(t, reinterpret_cast<PyTypeObject*>(base));
}

// The C getter `name` resolves to on instances of `t`, when nothing else can answer the look-up: an
// immutable type (its MRO's dictionaries cannot change) with the generic tp_getattro, where the
// name is a getset descriptor (a data descriptor: the instance dict is never consulted). Null
// otherwise.
PyGetSetDescrObject* c_getter(PyTypeObject* t, PyObject* name) {
  if (!name || !(t->tp_flags & Py_TPFLAGS_IMMUTABLETYPE) || t->tp_getattro != PyObject_GenericGetAttr) return nullptr;
  PyObject* d = _PyType_Lookup(t, name);  // borrowed; never raises
  if (!d || !Py_IS_TYPE(d, &PyGetSetDescr_Type)) return nullptr;
  auto* descr = reinterpret_cast<PyGetSetDescrObject*>(d);
  return descr->d_getset && descr->d_getset->get ? descr : nullptr;
}
}  // namespace

void Session::refresh_types() {
  PyObject* modules = PyImport_GetModuleDict();
  modules_seen_ = PyDict_GET_SIZE(modules);
  auto find_type = [&](const char* module, const char* name) -> PyObject* {
    PyObject* m = PyDict_GetItemString(modules, module);
    if (!m) return nullptr;
    PyObject* t = PyObject_GetAttrString(m, name);
    if (!t) {
      PyErr_Clear();
      return nullptr;
    }
    Py_DECREF(t);  // the module keeps the type alive for the life of the process
    return PyType_Check(t) ? t : nullptr;
  };
  const bool had_all = tensor_type_ && ndarray_type_ && pil_type_;
  PyObject* before[] = {tensor_type_, ndarray_type_, pil_type_};
  if (!tensor_type_) tensor_type_ = find_type("torch", "Tensor");
  if (!ndarray_type_) ndarray_type_ = find_type("numpy", "ndarray");
  if (!pil_type_) pil_type_ = find_type("PIL.Image", "Image");
  // A library imported mid-trace: facts computed without its types are stale.
  if (!had_all && (before[0] != tensor_type_ || before[1] != ndarray_type_ || before[2] != pil_type_))
    forget_type_facts();
}

TypeFacts Session::compute_facts(PyTypeObject* t) const {
  using namespace trace;
  TypeFacts f;
  // Scalars and singletons are shared by unrelated code (small ints, interned strings): following
  // them by identity would invent edges, so they are not data for the DAG. Nor are types, modules
  // and functions.
  f.trackable = !(t == Py_TYPE(Py_None) || t == &PyBool_Type || t == &PyLong_Type || t == &PyFloat_Type ||
                  t == &PyUnicode_Type || PyType_IsSubtype(t, &PyType_Type) || PyType_IsSubtype(t, &PyModule_Type) ||
                  t == &PyFunction_Type || PyType_IsSubtype(t, &PyCFunction_Type) || t == &PyMethod_Type);
  f.container = t == &PyTuple_Type || t == &PyList_Type || t == &PyDict_Type;
  f.weakref = PyType_SUPPORTS_WEAKREFS(t);
  if (t == Py_TYPE(Py_None))
    f.kind = kNone;
  else if (t == &PyBool_Type)
    f.kind = kBool;
  else if (t == &PyLong_Type)
    f.kind = kInt;
  else if (t == &PyFloat_Type)
    f.kind = kFloat;
  else if (t == &PyUnicode_Type)
    f.kind = kStr;
  else if (t == &PyTuple_Type)
    f.kind = kTuple;
  else if (t == &PyList_Type)
    f.kind = kList;
  else if (t == &PyDict_Type)
    f.kind = kDict;
  else if (t == &PyBytes_Type || t == &PyByteArray_Type)
    f.kind = kBytes;
  else if (subtype(t, tensor_type_))
    f.kind = kTensor;
  else if (subtype(t, ndarray_type_))
    f.kind = kNdarray;
  else if (subtype(t, pil_type_))
    f.kind = kPilImage;
  else if (PyType_IsSubtype(t, &PyLong_Type))
    f.kind = kInt;
  else if (PyType_IsSubtype(t, &PyFloat_Type))
    f.kind = kFloat;
  else if (PyType_IsSubtype(t, &PyUnicode_Type))
    f.kind = kStr;
  else
    f.kind = kOther;
  if (t == &PyBytes_Type)
    f.size = TypeFacts::kBytesSize;
  else if (t == &PyByteArray_Type)
    f.size = TypeFacts::kByteArraySize;
  else if (f.kind == kTensor || f.kind == kNdarray)
    f.size = TypeFacts::kNbytes;
  else if (f.kind == kPilImage)
    f.size = TypeFacts::kPilPixels;
  if (f.kind == kTensor || f.kind == kNdarray) {
    f.nbytes_getter = c_getter(t, nbytes_name_);
    f.base_getter = c_getter(t, base_name_);
  }
  return f;
}

TypeFacts Session::facts_slow(PyTypeObject* t) {
  FactsSlot& slot = recent_facts_[(reinterpret_cast<uintptr_t>(t) >> 4) % recent_facts_.size()];
  TypeFacts* f = type_facts_.find(t);
  if (!f) {
    // Held so the address cannot be reused by another type while its facts are cached.
    Py_INCREF(t);
    f = type_facts_.try_emplace(t, compute_facts(t)).first;
  }
  slot = {t, *f};
  return slot.facts;
}

void Session::forget_type_facts() {
  type_facts_.for_each([](PyTypeObject* t, TypeFacts&) { Py_DECREF(t); });
  type_facts_.clear();
  recent_facts_.fill({});
}

double Session::value_bytes(PyObject* v, const TypeFacts& f) {
  if (!config_.track_memory) return 0;
  switch (f.size) {
    case TypeFacts::kBytesSize:
      return static_cast<double>(PyBytes_GET_SIZE(v));
    case TypeFacts::kByteArraySize:
      return static_cast<double>(PyByteArray_GET_SIZE(v));
    case TypeFacts::kNbytes:
      break;
    case TypeFacts::kPilPixels:
      return pil_bytes(v);
    default:
      return 0;
  }
  // A view holds (part of) its base, whatever its strides make it look like (sliding_window_view's
  // logical size is window x frames), and memory held twice in one value (views of one base, one
  // array in two places of a tuple) is held once.
  PyObject* root = view_root(v, f);
  const double bytes = nbytes(v, f);
  SeenRoot* seen = nullptr;
  for (size_t i = 0; i < seen_root_count_ && !seen; ++i)
    if (seen_roots_[i].root == root) seen = &seen_roots_[i];
  if (!seen) {
    if (seen_root_count_ == seen_roots_.size())
      return root == v ? bytes : std::min(bytes, nbytes(root, facts(Py_TYPE(root))));
    seen = &seen_roots_[seen_root_count_++];
    *seen = {root, root == v ? bytes : nbytes(root, facts(Py_TYPE(root)))};
  }
  const double counted = std::min(bytes, seen->left);  // never more than the owner holds in all
  seen->left -= counted;
  return counted;
}

PyObject* Session::c_attribute(PyObject* v, PyGetSetDescrObject* getter, PyObject* name) const {
  if (getter) return getter->d_getset->get(v, getter->d_getset->closure);  // what getset_get calls
  return PyObject_GetAttr(v, name);
}

double Session::nbytes(PyObject* v, const TypeFacts& f) const {
  // nbytes is a C getter on both torch.Tensor and numpy.ndarray: no Python frame runs.
  PyObject* n = c_attribute(v, f.nbytes_getter, nbytes_name_);
  if (!n) {
    PyErr_Clear();
    return 0;
  }
  const double bytes = PyLong_Check(n) ? PyLong_AsDouble(n) : 0;
  Py_DECREF(n);
  if (PyErr_Occurred()) PyErr_Clear();
  return bytes;
}

PyObject* Session::view_root(PyObject* v, const TypeFacts& f) {
  // Tensor._base is already the root of a view chain. ndarray.base is the next link: follow it while
  // it is an array, and through numpy's as_strided holder (a plain object whose instance dict has
  // `base`); only C getters and dictionary reads, never Python code. Bounded: a few links at most.
  if (f.kind == trace::kTensor) {
    PyObject* base = PyObject_GetAttr(v, tbase_name_);
    if (!base) {
      PyErr_Clear();
      return v;
    }
    Py_DECREF(base);  // borrowed from here on: the view keeps its base alive
    return base != Py_None && facts(Py_TYPE(base)).kind == trace::kTensor ? base : v;
  }
  PyObject* root = v;
  PyObject* link = v;
  for (int step = 0; step < 8 && link; ++step) {
    PyObject* next = nullptr;
    if (const TypeFacts lf = facts(Py_TYPE(link)); lf.kind == trace::kNdarray) {
      next = c_attribute(link, lf.base_getter, base_name_);
    } else if (PyObject* dict = PyObject_GenericGetDict(link, nullptr)) {
      next = PyDict_GetItemWithError(dict, base_name_);
      Py_XINCREF(next);
      Py_DECREF(dict);
    }
    if (!next) {
      PyErr_Clear();
      break;
    }
    Py_DECREF(next);  // each link is kept alive by the one before it
    if (next == Py_None) break;
    if (facts(Py_TYPE(next)).kind == trace::kNdarray) root = next;
    link = next;
  }
  return root;
}

namespace {
// Bytes per pixel of a PIL mode (Pillow's Image.getmodebase/bands and its raw storage).
double pil_pixel_bytes(const std::string& mode) {
  if (mode == "1" || mode == "L" || mode == "P") return 1;
  if (mode == "LA" || mode == "PA" || mode == "La" || mode.rfind("I;16", 0) == 0) return 2;
  if (mode == "RGB" || mode == "YCbCr" || mode == "LAB" || mode == "HSV") return 3;
  if (mode == "RGBA" || mode == "RGBa" || mode == "RGBX" || mode == "CMYK" || mode == "I" || mode == "F") return 4;
  return 0;  // an unknown mode: not measured rather than guessed
}
}  // namespace

// A PIL image's pixel bytes from its plain instance attributes (_size, _mode). Generic lookup only:
// `size` and `mode` are Python properties, and running Python code from the hook is not allowed.
double Session::pil_bytes(PyObject* v) const {
  PyObject* size = PyObject_GenericGetAttr(v, pil_size_name_);
  PyObject* mode = size ? PyObject_GenericGetAttr(v, pil_mode_name_) : nullptr;
  double bytes = 0;
  if (size && mode && PyTuple_Check(size) && PyTuple_GET_SIZE(size) == 2) {
    const long long w = PyLong_AsLongLong(PyTuple_GET_ITEM(size, 0));
    const long long h = PyLong_AsLongLong(PyTuple_GET_ITEM(size, 1));
    if (w > 0 && h > 0) bytes = static_cast<double>(w) * static_cast<double>(h) * pil_pixel_bytes(str_of(mode));
  }
  Py_XDECREF(size);
  Py_XDECREF(mode);
  if (PyErr_Occurred()) PyErr_Clear();
  return bytes;
}

double Session::edge_bytes(PyObject* v, const TypeFacts& f) {
  if (!config_.track_memory) return 0;
  seen_root_count_ = 0;
  if (!f.container) return value_bytes(v, f);
  double bytes = 0;
  for_each_element(v, [&](PyObject* item) { bytes += value_bytes(item, facts(Py_TYPE(item))); });
  return bytes;
}

bool Session::alive(const Producer& p, PyObject* v) {
  if (p.strong) return true;
  if (p.guard) return PyWeakref_GET_OBJECT(p.guard) == v;
  if (!p.anchor) return false;  // evicted from the pinned ring
  // An anchored container: still this one while it holds the same live element at the same place.
  if (!(PyTuple_CheckExact(v) || PyList_CheckExact(v)) || p.anchor_index >= PySequence_Fast_GET_SIZE(v) ||
      PySequence_Fast_ITEMS(v)[p.anchor_index] != p.anchor)
    return false;
  const Producer* a = producers_.find(p.anchor);
  return a && a->guard && !a->strong && PyWeakref_GET_OBJECT(a->guard) == p.anchor;
}

bool Session::flow_from_producer(PyObject* v, const TypeFacts& f, int32_t ctx) {
  const Producer* p = f.trackable ? producers_.find(v) : nullptr;
  if (!p || !alive(*p, v)) return false;
  tree_.add_flow(p->ctx, ctx, p->bytes);
  return true;
}

bool Session::data_range(PyObject* v, uint64_t& begin, uint64_t& end) {
  Py_buffer view;
  if (PyObject_GetBuffer(v, &view, PyBUF_STRIDES) != 0) {
    PyErr_Clear();
    return false;
  }
  const auto* base = static_cast<const char*>(view.buf);
  Py_ssize_t lo = 0, hi = view.strides ? view.itemsize : view.len;
  bool empty = view.len == 0;
  for (int i = 0; view.strides && i < view.ndim; ++i) {
    if (view.shape[i] == 0) empty = true;
    const Py_ssize_t span = (view.shape[i] - 1) * view.strides[i];
    (span < 0 ? lo : hi) += span;
  }
  begin = reinterpret_cast<uint64_t>(base + lo);
  end = reinterpret_cast<uint64_t>(base + hi);
  PyBuffer_Release(&view);
  return !empty && end > begin;
}

const Producer* Session::producer_by_range(PyObject* v) {
  uint64_t begin = 0, end = 0;
  if (view_ranges_.size() == 0 || !data_range(v, begin, end)) return nullptr;
  // A range's owner is a produced view; it is still that view while its producer entry holds the
  // same guard and the guard still points at it (then its memory cannot have been reused either).
  auto live = [this](const trace::MemoryRanges::Found& r) {
    auto* owner = reinterpret_cast<PyObject*>(r.owner);
    const Producer* p = producers_.find(owner);
    return p && reinterpret_cast<uint64_t>(p->guard) == r.tag && alive(*p, owner);
  };
  const auto found = view_ranges_.find(begin, end, live);
  return found ? producers_.find(reinterpret_cast<PyObject*>(found->owner)) : nullptr;
}

bool Session::flow_from_view_base(PyObject* v, const TypeFacts& f, int32_t ctx) {
  // A view the caller cut from a produced array (a row, a slice, a reshape) carries that array's
  // data: the flow is from the array's producer, with the view's bytes. numpy collapses `.base` to
  // the array owning the memory, so a view cut from a produced *view* (a row of a reshape) names the
  // owner: the produced view whose memory holds it is found by address range first. The base is
  // alive (the view holds it), so a live producer entry for it cannot be a reused address.
  PyObject* root = view_root(v, f);
  if (root == v) return false;
  const Producer* p = f.kind == trace::kNdarray ? producer_by_range(v) : nullptr;
  if (!p) {
    p = producers_.find(root);
    if (!p || !alive(*p, root)) return false;
  }
  seen_root_count_ = 0;
  tree_.add_flow(p->ctx, ctx, std::min(p->bytes, value_bytes(v, f)));
  return true;
}

bool Session::followable(PyObject* v) { return facts(Py_TYPE(v)).trackable; }

bool Session::produce(PyObject* v, int32_t ctx, uint32_t& types, double& bytes, bool nested) {
  const TypeFacts f = facts(Py_TYPE(v));
  types |= f.kind;
  if (!nested) seen_root_count_ = 0;
  double own = 0;             // this value's bytes (a container: its elements'), kept for the edges it feeds
  int holds_followable = -1;  // a container walked here: does it hold a followable value?
  if (!nested && f.container) {
    holds_followable = 0;
    for_each_element(v, [&](PyObject* item) { holds_followable |= produce(item, ctx, types, own, true); });
  } else if (f.size != TypeFacts::kNoSize) {  // most values (numbers, strings, user objects) have no bytes
    own = value_bytes(v, f);
  }
  bytes += own;
  if (!f.trackable) return false;
  Producer p;
  p.ctx = ctx;
  p.bytes = own;
  if (!f.weakref && f.container && !pinnable_container(v, *this, holds_followable)) {
    // Not pinned (it holds followable values): anchored to its first weak-referenced element, which
    // nested production has just registered. A dict, or a container with none, is not followed.
    if (nested || PyDict_CheckExact(v)) return true;
    const Py_ssize_t n = std::min(PySequence_Fast_GET_SIZE(v), kMaxElements);
    PyObject** items = PySequence_Fast_ITEMS(v);
    for (Py_ssize_t i = 0; i < n && !p.anchor; ++i) {
      const Producer* e = producers_.find(items[i]);
      if (e && e->guard && !e->strong) {
        p.anchor = items[i];
        p.anchor_index = i;
      }
    }
    if (!p.anchor) return true;
  }
  // Nothing below inserts into or erases from producers_ (the ring only marks entries dead), so
  // `slot` stays valid to be overwritten at the end.
  Producer* slot = producers_.find(v);
  if (slot) {
    if (alive(*slot, v) && !p.anchor) {  // the same live object, passed on
      slot->ctx = ctx;
      slot->bytes = own;
      return true;
    }
    Py_XDECREF(slot->guard);  // a dead object whose address was reused (or a re-anchored container)
    slot->guard = nullptr;
    slot->strong = false;
  }
  auto store = [&] {
    if (slot)
      *slot = p;
    else
      producers_.try_emplace(v, p);
  };
  if (p.anchor) {
    store();
    return true;
  }
  if (f.weakref) {
    p.guard = PyWeakref_NewRef(v, nullptr);
    if (!p.guard) {
      PyErr_Clear();
      return true;
    }
    // A produced ndarray view: its memory range names it when a view of it arrives whose `.base`
    // numpy collapsed to the owner (see producer_by_range).
    uint64_t begin = 0, end = 0;
    if (f.kind == trace::kNdarray && view_root(v, f) != v && data_range(v, begin, end))
      view_ranges_.add(begin, end, reinterpret_cast<uint64_t>(v), reinterpret_cast<uint64_t>(p.guard));
  } else {
    // No weakref support (tuples, lists, dicts, bytes) and only numbers or strings inside: hold the
    // value so its id cannot be reused; a bounded ring forgets the oldest (losing an edge, never
    // inventing one).
    Py_INCREF(v);
    p.guard = v;
    p.strong = true;
    if (pinned_.size() < config_.max_pinned) {
      pinned_.push_back(v);
    } else {
      // The evicted entry is marked dead rather than erased (an erase shifts the entries after it:
      // the costliest step of producing a pinned value). A dead entry is what a collected weakref'd
      // value leaves too: overwritten when its address is produced again, dropped at stop.
      PyObject* old = pinned_[pinned_head_];
      Producer* held = producers_.find(old);
      if (held && held->strong && held->guard == old) {
        held->strong = false;
        held->guard = nullptr;
        Py_DECREF(old);
      }
      pinned_[pinned_head_] = v;
      pinned_head_ = (pinned_head_ + 1) % pinned_.size();
    }
  }
  store();
  return true;
}

void Session::take_value(PyObject* v, int32_t ctx, int32_t anc, uint32_t& types) {
  const TypeFacts f = facts(Py_TYPE(v));
  types |= f.kind;
  if (!f.trackable) return;
  // A producer whose guard no longer matches means the id was reused: not the producer. The edge
  // carries the bytes measured when the value was produced (a container mutated in between is not
  // measured again: that would walk it on every call that takes it).
  if (flow_from_producer(v, f, ctx)) return;
  if (f.size == TypeFacts::kNbytes && flow_from_view_base(v, f, ctx)) return;
  if (f.container) {
    // A container nobody traced produced (the caller built it): what it holds feeds this call, one
    // flow per element. Two levels, because a batch is a list of samples and a sample a tuple
    // (image, label).
    bool found = false;
    for_each_element(v, [&](PyObject* item) {
      const TypeFacts fi = facts(Py_TYPE(item));
      types |= fi.kind;
      if (flow_from_producer(item, fi, ctx)) {
        found = true;
      } else if (fi.container) {
        for_each_element(item,
                         [&](PyObject* inner) { found |= flow_from_producer(inner, facts(Py_TYPE(inner)), ctx); });
      }
    });
    if (found) return;
  }
  // Produced by no traced call: attributed to the caller's context.
  if (anc >= 0 && anc != ctx) tree_.add_flow(anc, ctx, edge_bytes(v, f));
}

}  // namespace codedag::bindings::tracehook
