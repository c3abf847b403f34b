#include "gguf/gguf_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "gguf/gguf_limits.h"
#include "gguf/name_quote.h"

namespace loom::gguf {
namespace {

constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr char kAlignmentKey[] = "general.alignment";

uint64_t align_up(uint64_t offset, uint64_t alignment) {
  return (offset + alignment - 1) / alignment * alignment;
}

// Where serialized bytes go: memory for to_bytes(), a buffered file for write().
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void put(const void* data, size_t n) = 0;

  template <typename T>
  void put_scalar(T v) {
    put(&v, sizeof(v));
  }
  void put_string(const std::string& s) {
    put_scalar<uint64_t>(s.size());
    put(s.data(), s.size());
  }
  void put_zeros(uint64_t n) {
    static constexpr uint8_t kZeros[256] = {};
    while (n > 0) {
      const uint64_t chunk = std::min<uint64_t>(n, sizeof(kZeros));
      put(kZeros, chunk);
      n -= chunk;
    }
  }
};

class VectorSink : public Sink {
 public:
  void put(const void* data, size_t n) override {
    if (n == 0) return;
    const size_t at = bytes_.size();
    bytes_.resize(at + n);
    std::memcpy(bytes_.data() + at, data, n);
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// Buffers small writes (the header is many tiny fields) and passes large ones through.
class FileSink : public Sink {
 public:
  FileSink(const std::string& file_path, const std::string& shown_path) : shown_path_(shown_path) {
    fd_ = ::open(file_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("gguf: {}: cannot create: {}", shown_path_, std::strerror(errno));
    buffer_.reserve(kBufferBytes);
  }
  ~FileSink() override {
    if (fd_ >= 0) ::close(fd_);
  }
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  void put(const void* data, size_t n) override {
    if (buffer_.size() + n > kBufferBytes) flush();
    if (n >= kBufferBytes) {
      write_all(static_cast<const uint8_t*>(data), n);
      return;
    }
    const auto* p = static_cast<const uint8_t*>(data);
    buffer_.insert(buffer_.end(), p, p + n);
  }

  void close() {
    flush();
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("gguf: {}: write failed: {}", shown_path_, std::strerror(errno));
  }

 private:
  static constexpr size_t kBufferBytes = 1 << 20;

  void flush() {
    write_all(buffer_.data(), buffer_.size());
    buffer_.clear();
  }
  void write_all(const uint8_t* p, size_t n) {
    while (n > 0) {
      const ssize_t done = ::write(fd_, p, n);
      if (done < 0 && errno == EINTR) continue;
      if (done <= 0) fail("gguf: {}: write failed: {}", shown_path_, std::strerror(errno));
      p += done;
      n -= static_cast<size_t>(done);
    }
  }

  std::string shown_path_;
  int fd_ = -1;
  std::vector<uint8_t> buffer_;
};

// Throws unless `v` can be written as its declared type (a copied Value may carry a
// number too wide for its type, or an array whose members disagree with array_type).
void check_value(const std::string& key, const Value& v, ValueType type, int depth) {
  const auto out_of_range = [&](auto value) {
    fail("gguf writer: key {}: value {} does not fit in {}", quote_name(key), value,
         value_type_name(type));
  };
  switch (type) {
    case ValueType::U8:
      if (v.u > std::numeric_limits<uint8_t>::max()) out_of_range(v.u);
      break;
    case ValueType::U16:
      if (v.u > std::numeric_limits<uint16_t>::max()) out_of_range(v.u);
      break;
    case ValueType::U32:
      if (v.u > std::numeric_limits<uint32_t>::max()) out_of_range(v.u);
      break;
    case ValueType::BOOL:
      if (v.u > 1) out_of_range(v.u);
      break;
    case ValueType::I8:
      if (v.i < INT8_MIN || v.i > INT8_MAX) out_of_range(v.i);
      break;
    case ValueType::I16:
      if (v.i < INT16_MIN || v.i > INT16_MAX) out_of_range(v.i);
      break;
    case ValueType::I32:
      if (v.i < INT32_MIN || v.i > INT32_MAX) out_of_range(v.i);
      break;
    case ValueType::U64:
    case ValueType::I64:
    case ValueType::F32:
    case ValueType::F64:
    case ValueType::STRING:
      break;
    case ValueType::ARRAY: {
      if (!value_type_from_id(static_cast<uint32_t>(v.array_type))) {
        fail("gguf writer: key {}: unknown array element type {}", quote_name(key),
             static_cast<uint32_t>(v.array_type));
      }
      if (v.array_size() > kMaxArrayElements) {
        fail("gguf writer: key {}: {} array elements exceed the reader's limit of {}",
             quote_name(key), v.array_size(), kMaxArrayElements);
      }
      if (v.array_type == ValueType::ARRAY && depth + 1 >= kMaxArrayDepth) {
        fail("gguf writer: key {}: arrays nested more than {} deep", quote_name(key),
             kMaxArrayDepth);
      }
      Value element;
      for (uint64_t u : v.array_u) {
        element.u = u;
        check_value(key, element, v.array_type, depth);
      }
      for (int64_t i : v.array_i) {
        element.i = i;
        check_value(key, element, v.array_type, depth);
      }
      for (const Value& nested : v.array_nested) {
        if (nested.type != ValueType::ARRAY) {
          fail("gguf writer: key {}: an element of a nested array has type {}", quote_name(key),
               value_type_name(nested.type));
        }
        check_value(key, nested, ValueType::ARRAY, depth + 1);
      }
      break;
    }
    default:
      fail("gguf writer: key {}: unknown value type {}", quote_name(key),
           static_cast<uint32_t>(type));
  }
}

void put_scalar_value(Sink& out, ValueType type, uint64_t u, int64_t i, double f) {
  switch (type) {
    case ValueType::U8:
      out.put_scalar(static_cast<uint8_t>(u));
      break;
    case ValueType::I8:
      out.put_scalar(static_cast<int8_t>(i));
      break;
    case ValueType::U16:
      out.put_scalar(static_cast<uint16_t>(u));
      break;
    case ValueType::I16:
      out.put_scalar(static_cast<int16_t>(i));
      break;
    case ValueType::U32:
      out.put_scalar(static_cast<uint32_t>(u));
      break;
    case ValueType::I32:
      out.put_scalar(static_cast<int32_t>(i));
      break;
    case ValueType::F32:
      out.put_scalar(static_cast<float>(f));
      break;
    case ValueType::BOOL:
      out.put_scalar(static_cast<uint8_t>(u));
      break;
    case ValueType::U64:
      out.put_scalar(u);
      break;
    case ValueType::I64:
      out.put_scalar(i);
      break;
    case ValueType::F64:
      out.put_scalar(f);
      break;
    case ValueType::STRING:
    case ValueType::ARRAY:
      break;
  }
}

// The array body: element type, u64 count, elements.
void put_array(Sink& out, const Value& v) {
  out.put_scalar(static_cast<uint32_t>(v.array_type));
  out.put_scalar<uint64_t>(v.array_size());
  switch (v.array_type) {
    case ValueType::STRING:
      for (const std::string& s : v.array_str) out.put_string(s);
      break;
    case ValueType::ARRAY:
      for (const Value& nested : v.array_nested) put_array(out, nested);
      break;
    default:
      for (uint64_t u : v.array_u) put_scalar_value(out, v.array_type, u, 0, 0);
      for (int64_t i : v.array_i) put_scalar_value(out, v.array_type, 0, i, 0);
      for (double f : v.array_f) put_scalar_value(out, v.array_type, 0, 0, f);
      break;
  }
}

void put_value(Sink& out, const Value& v) {
  out.put_scalar(static_cast<uint32_t>(v.type));
  if (v.type == ValueType::STRING) {
    out.put_string(v.str);
  } else if (v.type == ValueType::ARRAY) {
    put_array(out, v);
  } else {
    put_scalar_value(out, v.type, v.u, v.i, v.f);
  }
}

Value scalar(ValueType type) {
  Value v;
  v.type = type;
  return v;
}

}  // namespace

void GgufWriter::set_alignment(uint64_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 ||
      alignment > std::numeric_limits<uint32_t>::max()) {
    fail("gguf writer: alignment {} is not a power of two that fits in u32", alignment);
  }
  alignment_ = alignment;
}

void GgufWriter::add_u32(const std::string& key, uint32_t v) {
  Value value = scalar(ValueType::U32);
  value.u = v;
  add_value(key, value);
}

void GgufWriter::add_i32(const std::string& key, int32_t v) {
  Value value = scalar(ValueType::I32);
  value.i = v;
  add_value(key, value);
}

void GgufWriter::add_u64(const std::string& key, uint64_t v) {
  Value value = scalar(ValueType::U64);
  value.u = v;
  add_value(key, value);
}

void GgufWriter::add_f32(const std::string& key, float v) {
  Value value = scalar(ValueType::F32);
  value.f = v;
  add_value(key, value);
}

void GgufWriter::add_bool(const std::string& key, bool v) {
  Value value = scalar(ValueType::BOOL);
  value.u = v ? 1 : 0;
  add_value(key, value);
}

void GgufWriter::add_string(const std::string& key, const std::string& v) {
  Value value = scalar(ValueType::STRING);
  value.str = v;
  add_value(key, value);
}

void GgufWriter::add_string_array(const std::string& key, const std::vector<std::string>& v) {
  Value value = scalar(ValueType::ARRAY);
  value.array_type = ValueType::STRING;
  value.array_str = v;
  add_value(key, value);
}

void GgufWriter::add_f32_array(const std::string& key, const std::vector<float>& v) {
  Value value = scalar(ValueType::ARRAY);
  value.array_type = ValueType::F32;
  value.array_f.assign(v.begin(), v.end());
  add_value(key, value);
}

void GgufWriter::add_i32_array(const std::string& key, const std::vector<int32_t>& v) {
  Value value = scalar(ValueType::ARRAY);
  value.array_type = ValueType::I32;
  value.array_i.assign(v.begin(), v.end());
  add_value(key, value);
}

void GgufWriter::add_value(const std::string& key, const Value& v) {
  if (key.empty()) fail("gguf writer: empty key");
  check_value(key, v, v.type, 0);
  // The alignment is a property of the layout, so the key is routed to set_alignment and
  // written from there; copying all keys of a file therefore keeps its alignment.
  if (key == kAlignmentKey) {
    if (v.type != ValueType::U32) {
      fail("gguf writer: key '{}' has type {}, expected u32", key, value_type_name(v.type));
    }
    set_alignment(v.u);
    return;
  }
  for (auto& [existing, value] : metadata_) {
    if (existing == key) {  // adding a key again replaces its value in place
      value = v;
      return;
    }
  }
  metadata_.emplace_back(key, v);
}

void GgufWriter::add_tensor(const std::string& name, DType type, std::vector<int64_t> shape,
                            Fill fill) {
  const std::string quoted = quote_name(name);
  if (name.empty()) fail("gguf writer: empty tensor name");
  for (const PendingTensor& t : tensors_) {
    if (t.name == name) fail("gguf writer: duplicate tensor {}", quoted);
  }
  if (shape.empty() || shape.size() > kMaxDims) {
    fail("gguf writer: tensor {}: {} dimensions, expected 1..{}", quoted, shape.size(), kMaxDims);
  }
  const std::optional<DTypeTraits> traits = dtype_traits(static_cast<uint32_t>(type));
  if (!traits) fail("gguf writer: tensor {}: unknown type {}", quoted, static_cast<uint32_t>(type));
  int64_t n_elements = 1;
  for (int64_t dim : shape) {
    if (dim < 0) fail("gguf writer: tensor {}: negative dimension {}", quoted, dim);
    if (__builtin_mul_overflow(n_elements, dim, &n_elements)) {
      fail("gguf writer: tensor {}: element count overflows int64", quoted);
    }
  }
  if (shape[0] % traits->block_size != 0) {
    fail("gguf writer: tensor {}: shape[0] = {} is not a multiple of the {} block size {}", quoted,
         shape[0], traits->name, traits->block_size);
  }
  uint64_t n_bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(n_elements / traits->block_size),
                             static_cast<uint64_t>(traits->block_bytes), &n_bytes)) {
    fail("gguf writer: tensor {}: byte size overflows", quoted);
  }
  if (!fill) fail("gguf writer: tensor {}: no fill function", quoted);
  tensors_.push_back({name, type, std::move(shape), n_bytes, std::move(fill)});
}

void GgufWriter::add_tensor(const std::string& name, DType type, std::vector<int64_t> shape,
                            std::vector<uint8_t> data) {
  const size_t given = data.size();
  add_tensor(name, type, std::move(shape), [data = std::move(data)](std::span<uint8_t> out) {
    if (!out.empty()) std::memcpy(out.data(), data.data(), out.size());
  });
  if (tensors_.back().n_bytes != given) {
    const uint64_t expected = tensors_.back().n_bytes;
    tensors_.pop_back();
    fail("gguf writer: tensor {}: {} bytes of data given, its shape needs {}", quote_name(name),
         given, expected);
  }
}

namespace {

// Header (magic, version, counts), metadata, tensor infos, then zero padding up to the
// aligned start of the data section. Tensor offsets are relative to that start.
// `tensors` is the writer's private PendingTensor list (hence auto).
void put_header(Sink& out, const std::vector<std::pair<std::string, Value>>& metadata,
                uint64_t alignment, const auto& tensors) {
  VectorSink header;  // small next to the data; sent to `out` in one piece
  header.put("GGUF", 4);
  header.put_scalar(kVersion);
  header.put_scalar<uint64_t>(tensors.size());
  const bool write_alignment = alignment != kDefaultAlignment;
  header.put_scalar<uint64_t>(metadata.size() + (write_alignment ? 1 : 0));
  if (write_alignment) {
    Value v = scalar(ValueType::U32);
    v.u = alignment;
    header.put_string(kAlignmentKey);
    put_value(header, v);
  }
  for (const auto& [key, value] : metadata) {
    header.put_string(key);
    put_value(header, value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    header.put_string(t.name);
    header.put_scalar<uint32_t>(t.shape.size());
    for (int64_t dim : t.shape) header.put_scalar<uint64_t>(dim);
    header.put_scalar(static_cast<uint32_t>(t.type));
    header.put_scalar(offset);
    offset = align_up(offset + t.n_bytes, alignment);
  }
  const uint64_t size = header.bytes().size();
  header.put_zeros(align_up(size, alignment) - size);
  out.put(header.bytes().data(), header.bytes().size());
}

// Streams every tensor through one reusable buffer the size of the largest tensor.
void put_tensors(Sink& out, const auto& tensors, uint64_t alignment,
                 const std::function<void(uint64_t, uint64_t)>& progress) {
  uint64_t total = 0;
  for (const auto& t : tensors) total += t.n_bytes;
  uint64_t done = 0;
  std::vector<uint8_t> buffer;
  for (const auto& t : tensors) {
    buffer.assign(t.n_bytes, 0);
    t.fill(std::span<uint8_t>(buffer.data(), buffer.size()));
    out.put(buffer.data(), buffer.size());
    out.put_zeros(align_up(t.n_bytes, alignment) - t.n_bytes);
    done += t.n_bytes;
    if (progress) progress(done, total);
  }
}

}  // namespace

void GgufWriter::write(const std::string& path,
                       const std::function<void(uint64_t, uint64_t)>& progress) const {
  // Write beside the target and rename at the end, so a failed or interrupted write
  // never leaves a truncated file under the real name.
  const std::string partial = path + ".partial";
  try {
    FileSink out(partial, path);
    put_header(out, metadata_, alignment_, tensors_);
    put_tensors(out, tensors_, alignment_, progress);
    out.close();
    if (std::rename(partial.c_str(), path.c_str()) != 0) {
      fail("gguf: {}: cannot rename {} into place: {}", path, partial, std::strerror(errno));
    }
  } catch (...) {
    std::remove(partial.c_str());
    throw;
  }
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  VectorSink out;
  put_header(out, metadata_, alignment_, tensors_);
  put_tensors(out, tensors_, alignment_, nullptr);
  return std::move(out.bytes());
}

}  // namespace loom::gguf
