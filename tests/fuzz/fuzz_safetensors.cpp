// tests/fuzz/fuzz_safetensors.cpp — any bytes as a safetensors checkpoint:
// the header length, the JSON header and its tensor table, the data section,
// the checksums, and a training checkpoint's metadata resumed into a model and
// its optimizer (numbers, the optimizer kind and its scalars).
#include "fuzz_input.h"

using namespace minidp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::InputFile file;
  const std::string& path = file.write(data, size);
  fuzz::expect_clean([&] { nn::load_safetensors(path); });
  fuzz::expect_clean([&] {
    // The seeds' model and optimizer (fuzz_seeds.cpp): resuming applies every part of the checkpoint.
    const nn::TrainingState st = nn::load_training_state(path);
    nn::ModulePtr model = fuzz::tiny_model();
    st.load_model(*model);
    nn::SGD sgd(model->parameters(), {.lr = 0.1, .momentum = 0.9});
    st.load_optimizer(sgd);
    st.restore_rng(*model);
  });
  return 0;
}
