// minidp/nn/checkpoint.h — saving and loading tensors in the safetensors format.
//
// safetensors is what PyTorch users exchange weights in
// (safetensors.torch.load_file / save_file): 8 bytes of little-endian header
// length N, N bytes of JSON
//   {"__metadata__": {"epoch": "3"},
//    "fc1.weight": {"dtype": "F32", "shape": [128, 784], "data_offsets": [0, 401408]}, ...}
// padded with spaces to a multiple of 8, then the raw little-endian data. It
// holds no code (unlike a pickle), so loading one is safe, and minidp writes
// the same bytes as the reference implementation (tensors sorted by dtype
// width, then name; metadata keys sorted).
//
// Saving is atomic: the bytes go to "<path>.tmp.<pid>", are flushed and
// fsync'ed, then renamed over <path>, and the directory is fsync'ed. A crash
// or a full disk in the middle of a save leaves the previous checkpoint whole
// — the one you need to resume a long run — and the error says so.
//
// Checksums: the metadata also records each tensor's zlib crc32, as
// "crc32.<tensor name>": "1a2b3c4d" (8 hex digits), where other readers
// (safetensors.torch.load_file) simply see one more string. load_safetensors
// verifies every checksum present and names the tensor whose bytes changed; a
// file without checksums (written by PyTorch) loads unverified. A checksum key
// naming a tensor the file does not hold is an error: the header was edited.
// The "crc32." keys are minidp's: saving refuses them in the caller's
// metadata, and loading removes them from Checkpoint::metadata.
//
// Loading validates the header as strictly as the reference reader, and more:
// the JSON nests at most 8 levels (a safetensors header needs 3), every shape
// fits both the data section and minidp's strides (its sizes' product, a zero
// counted as one, at most 2^56), and the tensors fill the data section
// exactly — sorted by offset they start at 0, leave no gap, do not overlap
// and end at the end of the file — so a header length that is a few bytes off
// is refused instead of loading every weight shifted.
//
//   nn::save_safetensors("model.safetensors", {{"w", w}, {"b", b}}, {{"epoch", "3"}});
//   nn::Checkpoint ck = nn::load_safetensors("model.safetensors");
//   nn::check_tensors(ck.tensors, nn::specs_of(expected), "model.safetensors");  // lists every mismatch
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "minidp/core/tensor.h"

namespace minidp::nn {

using TensorMap = std::map<std::string, Tensor>;
using StringMap = std::map<std::string, std::string>;

struct Checkpoint {
  TensorMap tensors;  // on the cpu
  StringMap metadata;         // without the "crc32." checksum keys
  std::size_t verified = 0;   // tensors whose stored checksum was verified (0 for a file without checksums)
};

// Write `tensors` (any device; copied to the host) and `metadata` to `path`, atomically.
void save_safetensors(const std::string& path, const TensorMap& tensors, const StringMap& metadata = {});
// The same for an ordered list (a Module's state_dict()); duplicate names are an error.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const StringMap& metadata = {});
// Read a safetensors file, validating the header and the checksums; raises
// minidp::Error naming the file, the tensor and the problem.
Checkpoint load_safetensors(const std::string& path);

// What a tensor is expected to look like.
struct TensorSpec {
  Shape shape;
  DType dtype = kFloat32;
};
std::map<std::string, TensorSpec> specs_of(const TensorMap& tensors);
std::map<std::string, TensorSpec> specs_of(const std::vector<std::pair<std::string, Tensor>>& tensors);
// Every difference between `actual` and `expected`, one line each: missing
// and unexpected names, shape and dtype mismatches. Empty when they agree.
std::vector<std::string> tensor_mismatches(const TensorMap& actual, const std::map<std::string, TensorSpec>& expected);
// Raise one minidp::Error listing all of tensor_mismatches(), prefixed by `what` (e.g. the file name).
void check_tensors(const TensorMap& actual, const std::map<std::string, TensorSpec>& expected,
                   const std::string& what = "checkpoint");

// The safetensors dtype name of a minidp dtype ("F32"), and back (raises on an unsupported name).
const char* safetensors_dtype(DType t);
DType dtype_from_safetensors(const std::string& name, const std::string& path);

namespace detail {
// For tests: called with "write", "fsync", "rename" as a save passes each stage;
// throwing from it simulates a failure (a full disk, a crash) at that point.
extern std::function<void(const std::string& stage)> checkpoint_fault_hook;
}  // namespace detail

}  // namespace minidp::nn
