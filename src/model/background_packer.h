// Repacks weight matrices for the SIMD kernels on a thread of its own, after the model is
// ready, so that start-up does not wait for the copy. Until a matrix's packed copy is in
// place the kernels read the file's rows, which give the same bits (only slower), so a
// forward pass may run before, during or after packing with the same result.
//
// The copies are handed over only when no forward pass is reading the weights: a pass
// holds a shared lock (hold()) over each layer, and a finished copy is installed under
// the exclusive lock, by the packer thread when no pass is running or by the pass itself
// between two layers. Installing releases the file's pages under the matrix, so memory stays
// one copy of each matrix as with packing at load.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>
#include <vector>

#include "kernels/packed_weights.h"
#include "model/decoder_weights.h"

namespace loom {

class BackgroundPacker {
 public:
  // Starts packing `linears` (which must outlive the packer, and whose `w.packed` only the
  // packer sets from now on) in that order.
  explicit BackgroundPacker(std::vector<Linear*> linears);
  ~BackgroundPacker();  // stops after the matrix in hand and joins
  BackgroundPacker(const BackgroundPacker&) = delete;
  BackgroundPacker& operator=(const BackgroundPacker&) = delete;

  // Held by a forward pass while it reads weights (a layer at a time); installs finished
  // copies first when no other pass holds them.
  std::shared_lock<std::shared_mutex> hold();
  // Waits until every matrix is packed and installed; rethrows a packing failure.
  void finish();
  // Bytes of packed copies made so far.
  int64_t packed_bytes() const { return packed_bytes_.load(std::memory_order_relaxed); }

 private:
  void run();
  // Installs every finished copy; the caller holds forward_mutex_ exclusively.
  void install_ready();
  void try_install();

  std::vector<Linear*> linears_;
  std::shared_mutex forward_mutex_;
  std::mutex state_mutex_;  // guards ready_, done_, error_
  std::condition_variable done_changed_;
  std::vector<std::pair<Linear*, std::shared_ptr<const kernels::PackedWeights>>> ready_;
  bool done_ = false;
  std::exception_ptr error_;
  std::atomic<bool> has_ready_{false};
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> packed_bytes_{0};
  std::thread thread_;
};

}  // namespace loom
