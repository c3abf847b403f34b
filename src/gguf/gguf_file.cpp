#include "gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "gguf/byte_cursor.h"
#include "gguf/gguf_limits.h"
#include "gguf/name_quote.h"
#include "gguf/value_reader.h"

namespace loom::gguf {
namespace {

// Smallest encodings, used to bound counts read from the file by the bytes that remain:
// a key-value pair is key length + type + a one-byte scalar; a tensor info is name
// length + n_dims + one dim + type + offset.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

// "u32" or "array of string": the type of a value as an error message shows it.
std::string describe_type(const Value& v) {
  if (v.type != ValueType::ARRAY) return std::string(value_type_name(v.type));
  return fmt::format("array of {}", value_type_name(v.array_type));
}

uint64_t align_up(uint64_t offset, uint64_t alignment) {
  return (offset + alignment - 1) / alignment * alignment;
}

// Closes a file descriptor on every path out of open().
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

}  // namespace

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("gguf: {}: cannot open: {}", path, std::strerror(errno));
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail("gguf: {}: cannot stat: {}", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail("gguf: {}: not a regular file", path);

  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  file->size_ = static_cast<uint64_t>(st.st_size);
  if (file->size_ > 0) {  // mmap of 0 bytes fails; an empty file is reported by parse()
    void* m = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) fail("gguf: {}: cannot mmap: {}", path, std::strerror(errno));
    file->mapping_ = m;
    file->bytes_ = static_cast<const uint8_t*>(m);
  }
  file->parse();
  return file;
}

std::unique_ptr<GgufFile> GgufFile::from_memory(const uint8_t* data, size_t size,
                                                std::string name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = std::move(name);
  file->bytes_ = data;
  file->size_ = size;
  file->parse();
  return file;
}

GgufFile::~GgufFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, size_);
}

void GgufFile::parse() {
  ByteCursor cur(bytes_, size_, path_);

  // Header: magic, version, tensor_count, kv_count.
  cur.need(4, "magic");
  if (std::memcmp(bytes_, "GGUF", 4) != 0) {
    cur.fail_at(0, fmt::format("not a GGUF file: magic is {:02x} {:02x} {:02x} {:02x}, expected "
                               "'GGUF'",
                               bytes_[0], bytes_[1], bytes_[2], bytes_[3]));
  }
  cur.read<uint32_t>("magic");
  version_ = cur.read<uint32_t>("version");
  if (version_ == 1) {
    cur.fail_at(4,
                "GGUF version 1 is not supported (only versions 2 and 3); convert the model "
                "again with a current tool");
  }
  if (version_ != 2 && version_ != 3) {
    const bool byte_swapped = version_ == 0x02000000u || version_ == 0x03000000u;
    cur.fail_at(4, byte_swapped
                       ? "big-endian GGUF files are not supported"
                       : fmt::format("unsupported GGUF version {} (supported: 2 and 3)", version_));
  }
  const uint64_t tensor_count = cur.read<uint64_t>("tensor count");
  const uint64_t kv_count = cur.read<uint64_t>("kv count");
  if (kv_count > cur.remaining() / kMinKvBytes) {
    cur.fail_at(16, fmt::format("kv count {} is impossible: the {} bytes after the header hold at "
                                "most {} key-value pairs",
                                kv_count, cur.remaining(), cur.remaining() / kMinKvBytes));
  }

  // Metadata.
  ValueReader values(cur);
  keys_.reserve(kv_count);
  for (uint64_t k = 0; k < kv_count; ++k) {
    const uint64_t kv_at = cur.offset();
    cur.set_context(fmt::format("key #{}", k));
    std::string key = cur.read_string("key");
    cur.set_context(fmt::format("key {}", quote_name(key)));
    if (values_.contains(key)) cur.fail_at(kv_at, "duplicate key");
    const uint64_t value_at = cur.offset();
    const ValueType type = read_value_type(cur, "value type");
    Value value = values.read(type);
    if (key == "general.alignment") {
      if (value.type != ValueType::U32) {
        cur.fail_at(value_at, fmt::format("has type {}, expected u32", describe_type(value)));
      }
      if (value.u == 0 || (value.u & (value.u - 1)) != 0) {
        cur.fail_at(value_at, fmt::format("alignment {} is not a non-zero power of two", value.u));
      }
      alignment_ = value.u;
    }
    keys_.push_back(key);
    values_.emplace(std::move(key), std::move(value));
  }

  // Tensor directory. The count is checked here, where the bytes left for the infos are
  // known, so a file cut inside the metadata is reported as such.
  if (tensor_count > cur.remaining() / kMinTensorInfoBytes) {
    cur.set_context("");
    cur.fail_at(8,
                fmt::format("tensor count {} is impossible: the {} bytes after the metadata "
                            "hold at most {} tensor infos",
                            tensor_count, cur.remaining(), cur.remaining() / kMinTensorInfoBytes));
  }
  tensors_.reserve(tensor_count);
  for (uint64_t t = 0; t < tensor_count; ++t) {
    const uint64_t info_at = cur.offset();
    cur.set_context(fmt::format("tensor #{}", t));
    TensorInfo info;
    info.name = cur.read_string("tensor name");
    cur.set_context(fmt::format("tensor {}", quote_name(info.name)));
    if (tensor_index_.contains(info.name)) cur.fail_at(info_at, "duplicate tensor name");

    const uint64_t dims_at = cur.offset();
    const uint32_t n_dims = cur.read<uint32_t>("n_dims");
    if (n_dims == 0 || n_dims > kMaxDims) {
      cur.fail_at(dims_at, fmt::format("n_dims {} is outside 1..{}", n_dims, kMaxDims));
    }
    info.n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim_at = cur.offset();
      const uint64_t raw = cur.read<uint64_t>("dimension");
      if (raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        cur.fail_at(dim_at, fmt::format("dimension {} is {} (negative as int64)", d, raw));
      }
      const auto dim = static_cast<int64_t>(raw);
      if (__builtin_mul_overflow(info.n_elements, dim, &info.n_elements)) {
        cur.fail_at(dim_at,
                    fmt::format("element count overflows int64 at dimension {} ({})", d, dim));
      }
      info.shape.push_back(dim);
    }

    const uint64_t type_at = cur.offset();
    const uint32_t type_id = cur.read<uint32_t>("tensor type");
    const std::optional<DTypeTraits> traits = dtype_traits(type_id);
    if (!traits) cur.fail_at(type_at, fmt::format("unknown tensor type {}", type_id));
    info.type = static_cast<DType>(type_id);
    if (info.shape[0] % traits->block_size != 0) {
      cur.fail_at(dims_at, fmt::format("shape[0] = {} is not a multiple of the {} block size {}",
                                       info.shape[0], traits->name, traits->block_size));
    }
    const auto n_blocks = static_cast<uint64_t>(info.n_elements / traits->block_size);
    if (__builtin_mul_overflow(n_blocks, static_cast<uint64_t>(traits->block_bytes),
                               &info.n_bytes)) {
      cur.fail_at(dims_at,
                  fmt::format("byte size of {} {} blocks overflows", n_blocks, traits->name));
    }

    const uint64_t offset_at = cur.offset();
    info.offset = cur.read<uint64_t>("tensor data offset");
    if (info.offset % alignment_ != 0) {
      cur.fail_at(offset_at, fmt::format("data offset {} is not a multiple of the alignment {}",
                                         info.offset, alignment_));
    }
    tensor_index_.emplace(info.name, tensors_.size());
    tensors_.push_back(std::move(info));
  }
  cur.set_context("");

  // Data section. Vocab-only files (no tensors) often end right after the directory
  // without padding; that is fine as long as no tensor needs the data section.
  data_offset_ = align_up(cur.offset(), alignment_);
  if (data_offset_ > size_) {
    if (!tensors_.empty()) {
      cur.fail_at(cur.offset(), fmt::format("data section starts at offset {}, past the end of "
                                            "the file ({} bytes)",
                                            data_offset_, size_));
    }
    data_offset_ = size_;
  }
  const uint64_t data_bytes = size_ - data_offset_;
  for (TensorInfo& info : tensors_) {
    if (info.offset > data_bytes || info.n_bytes > data_bytes - info.offset) {
      uint64_t begin = 0;
      uint64_t end = 0;
      if (__builtin_add_overflow(data_offset_, info.offset, &begin) ||
          __builtin_add_overflow(begin, info.n_bytes, &end)) {
        fail(
            "gguf: {}: tensor {}: data at offset {} + {} of {} bytes runs past the end of the "
            "file ({} bytes)",
            path_, quote_name(info.name), data_offset_, info.offset, info.n_bytes, size_);
      }
      fail("gguf: {}: tensor {}: data [{}, {}) runs past the end of the file ({} bytes)", path_,
           quote_name(info.name), begin, end, size_);
    }
    info.data = bytes_ + data_offset_ + info.offset;
  }
}

const Value* GgufFile::find(std::string_view key) const {
  const auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_integer()) {
    fail("gguf: {}: key {} has type {}, expected an integer", path_, quote_name(key),
         describe_type(*v));
  }
  switch (v->type) {
    case ValueType::I8:
    case ValueType::I16:
    case ValueType::I32:
    case ValueType::I64:
      return v->i;
    default:
      if (v->u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail("gguf: {}: key {}: value {} does not fit in int64", path_, quote_name(key), v->u);
      }
      return static_cast<int64_t>(v->u);
  }
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_float()) return v->f;
  if (v->is_integer()) {
    switch (v->type) {
      case ValueType::I8:
      case ValueType::I16:
      case ValueType::I32:
      case ValueType::I64:
        return static_cast<double>(v->i);
      default:
        return static_cast<double>(v->u);
    }
  }
  fail("gguf: {}: key {} has type {}, expected a number", path_, quote_name(key),
       describe_type(*v));
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type != ValueType::BOOL) {
    fail("gguf: {}: key {} has type {}, expected bool", path_, quote_name(key), describe_type(*v));
  }
  return v->u != 0;
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type != ValueType::STRING) {
    fail("gguf: {}: key {} has type {}, expected string", path_, quote_name(key),
         describe_type(*v));
  }
  return v->str;
}

const std::vector<std::string>* GgufFile::get_string_array(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return nullptr;
  if (v->type != ValueType::ARRAY || v->array_type != ValueType::STRING) {
    fail("gguf: {}: key {} has type {}, expected array of string", path_, quote_name(key),
         describe_type(*v));
  }
  return &v->array_str;
}

const Value* GgufFile::get_array(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return nullptr;
  if (v->type != ValueType::ARRAY) {
    fail("gguf: {}: key {} has type {}, expected an array", path_, quote_name(key),
         describe_type(*v));
  }
  return v;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace loom::gguf
