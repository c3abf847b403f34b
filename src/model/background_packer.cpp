#include "model/background_packer.h"

#include "model/tensor_lookup.h"

namespace loom {

BackgroundPacker::BackgroundPacker(std::vector<Linear*> linears)
    : linears_(std::move(linears)), thread_([this] { run(); }) {}

BackgroundPacker::~BackgroundPacker() {
  stop_ = true;
  thread_.join();
}

void BackgroundPacker::run() {
  try {
    for (Linear* linear : linears_) {
      if (stop_) break;
      std::shared_ptr<const kernels::PackedWeights> packed = kernels::pack_weights(linear->w);
      if (packed == nullptr) continue;
      packed_bytes_ += static_cast<int64_t>(packed->data.size());
      {
        const std::lock_guard lock(state_mutex_);
        ready_.emplace_back(linear, std::move(packed));
      }
      has_ready_ = true;
      try_install();
    }
  } catch (...) {
    const std::lock_guard lock(state_mutex_);
    error_ = std::current_exception();
  }
  const std::lock_guard lock(state_mutex_);
  done_ = true;
  done_changed_.notify_all();
}

void BackgroundPacker::install_ready() {
  std::vector<std::pair<Linear*, std::shared_ptr<const kernels::PackedWeights>>> ready;
  {
    const std::lock_guard lock(state_mutex_);
    ready.swap(ready_);
    has_ready_ = false;
  }
  for (auto& [linear, packed] : ready) install_packed(linear->w, std::move(packed));
}

void BackgroundPacker::try_install() {
  const std::unique_lock lock(forward_mutex_, std::try_to_lock);
  if (lock.owns_lock()) install_ready();
}

std::shared_lock<std::shared_mutex> BackgroundPacker::hold() {
  if (has_ready_) try_install();
  return std::shared_lock(forward_mutex_);
}

void BackgroundPacker::finish() {
  std::exception_ptr error;
  {
    std::unique_lock lock(state_mutex_);
    done_changed_.wait(lock, [&] { return done_; });
    error = error_;
  }
  {
    const std::unique_lock lock(forward_mutex_);
    install_ready();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace loom
