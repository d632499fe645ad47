// Tests of nn/training_state and the optimizers' load_state_*: what a resumed
// run refuses — numbers that are not whole numbers, non-finite or negative
// scalars, another optimizer's state — and that a refusal changes nothing.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "minidp/minidp.h"
#include "temp_dir.h"

using namespace minidp;
using namespace minidp::nn;

namespace {

using minidp::test::TempDir;

ModulePtr tiny_model() {
  Generator gen(7);
  return std::make_shared<Sequential>(std::vector<ModulePtr>{std::make_shared<Linear>(3, 4, true, &gen),
                                                             std::make_shared<ReLU>(),
                                                             std::make_shared<Linear>(4, 2, true, &gen)});
}

// One optimizer step, so that the optimizer has state to save.
void one_step(Module& model, Optimizer& opt) {
  Tensor loss = sum(model(from_vector<float>({1, -2, 3, 0.5f, 0, -1}, {2, 3})));
  loss.backward();
  opt.step();
  opt.zero_grad();
}

// Rewrite the checkpoint at `path` with one metadata entry changed (the
// checksums are written anew: this is a well-formed file with a bad value).
void set_metadata(const std::string& path, const std::string& key, const std::string& value) {
  Checkpoint ck = load_safetensors(path);
  ck.metadata[key] = value;
  save_safetensors(path, ck.tensors, ck.metadata);
}

}  // namespace

TEST_CASE("training state: progress numbers must be whole numbers") {
  TempDir dir("tsnum");
  const std::string path = dir / "run.safetensors";
  ModulePtr model = tiny_model();
  SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
  one_step(*model, opt);
  save_training_state(path, *model, opt, {.epoch = 1, .step_in_epoch = 2, .global_step = 3, .seed = 4});
  const TrainingState st = load_training_state(path);
  CHECK(st.progress.epoch == 1);
  CHECK(st.progress.global_step == 3);
  CHECK(st.progress.seed == 4);
  for (const std::string bad : {"1x", "", " 1", "+1", "1.0", "0x10", "99999999999999999999"}) {
    INFO(bad);
    set_metadata(path, "epoch", bad);
    CHECK_THROWS_WITH_AS(load_training_state(path),
                         (path + ": checkpoint metadata 'epoch' is '" + bad + "'; expected a whole number").c_str(),
                         Error);
  }
  set_metadata(path, "epoch", "-1");
  CHECK_THROWS_WITH_AS(load_training_state(path), doctest::Contains("checkpoint progress must not be negative"), Error);
}

TEST_CASE("training state: the optimizer's lr and step count are checked before they are used") {
  TempDir dir("tsscalar");
  const std::string path = dir / "run.safetensors";
  ModulePtr model = tiny_model();
  SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
  one_step(*model, opt);
  save_training_state(path, *model, opt, {.global_step = 1});
  {
    SGD fresh(model->parameters(), {.lr = 0.5, .momentum = 0.9});
    load_training_state(path).load_optimizer(fresh);
    CHECK(fresh.lr() == 0.1);
    CHECK(fresh.steps_taken() == 1);
  }
  struct Case {
    const char* key;
    const char* value;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"optimizer.lr", "nan", "checkpoint metadata 'optimizer.lr' is nan; a learning rate must be finite and >= 0"},
      {"optimizer.lr", "inf", "checkpoint metadata 'optimizer.lr' is inf; a learning rate must be finite and >= 0"},
      {"optimizer.lr", "-inf", "checkpoint metadata 'optimizer.lr' is -inf; a learning rate must be finite and >= 0"},
      {"optimizer.lr", "-0.5", "checkpoint metadata 'optimizer.lr' is -0.5; a learning rate must be finite and >= 0"},
      {"optimizer.lr", "0.1x", "checkpoint metadata 'optimizer.lr' is '0.1x'; expected a number"},
      {"optimizer.lr", "", "checkpoint metadata 'optimizer.lr' is ''; expected a number"},
      {"optimizer.lr", "1e999", "checkpoint metadata 'optimizer.lr' is '1e999'; expected a number"},
      {"optimizer.step", "1x", "checkpoint metadata 'optimizer.step' is '1x'; expected a whole number"},
      {"optimizer.step", "2.0", "checkpoint metadata 'optimizer.step' is '2.0'; expected a whole number"},
      {"optimizer.step", "99999999999999999999",
       "checkpoint metadata 'optimizer.step' is '99999999999999999999'; expected a whole number"},
      {"optimizer.step", "-3", "checkpoint metadata 'optimizer.step' is -3; a step count must be >= 0"},
  };
  for (const Case& c : cases) {
    INFO(c.key, " = ", c.value);
    save_training_state(path, *model, opt, {.global_step = 1});
    set_metadata(path, c.key, c.value);
    const TrainingState st = load_training_state(path);
    SGD fresh(model->parameters(), {.lr = 0.5, .momentum = 0.9});
    CHECK_THROWS_WITH_AS(st.load_optimizer(fresh), (path + ": optimizer: " + c.message).c_str(), Error);
    CHECK(fresh.lr() == 0.5);  // a refused checkpoint changes nothing
    CHECK(fresh.steps_taken() == 0);
    CHECK(fresh.state_tensors().empty());
  }
  save_training_state(path, *model, opt, {.global_step = 1});
  Checkpoint ck = load_safetensors(path);
  ck.metadata.erase("optimizer.lr");
  save_safetensors(path, ck.tensors, ck.metadata);
  SGD fresh(model->parameters(), {.lr = 0.5});
  CHECK_THROWS_WITH_AS(load_training_state(path).load_optimizer(fresh),
                       doctest::Contains("checkpoint metadata lacks 'optimizer.lr'"), Error);
}

TEST_CASE("training state: a checkpoint of one optimizer kind never resumes another") {
  TempDir dir("tskind");
  ModulePtr model = tiny_model();
  SGD sgd(model->parameters(), {.lr = 0.1, .momentum = 0.9});
  Adam adam(model->parameters(), {.lr = 0.01});
  AdamW adamw(model->parameters(), {.lr = 0.01, .weight_decay = 0.01});
  one_step(*model, sgd);
  one_step(*model, adam);
  one_step(*model, adamw);
  const std::vector<std::pair<std::string, Optimizer*>> all = {{"sgd", &sgd}, {"adam", &adam}, {"adamw", &adamw}};
  for (const auto& [written_binding, writer] : all) {
    const std::string& written = written_binding;  // (INFO's lambda cannot take a structured binding on clang < 16)
    const std::string path = dir / (written + ".safetensors");
    save_training_state(path, *model, *writer, {.global_step = 1});
    const TrainingState st = load_training_state(path);
    for (const auto& entry : all) {
      const std::string& resumed = entry.first;
      INFO(written, " -> ", resumed);
      std::unique_ptr<Optimizer> fresh;
      if (resumed == "sgd") fresh = std::make_unique<SGD>(model->parameters(), SGDOptions{.lr = 0.5, .momentum = 0.9});
      else if (resumed == "adam") fresh = std::make_unique<Adam>(model->parameters(), AdamOptions{.lr = 0.5});
      else fresh = std::make_unique<AdamW>(model->parameters(), AdamOptions{.lr = 0.5});
      if (written == resumed) {
        st.load_optimizer(*fresh);
        CHECK(fresh->lr() == writer->lr());
        CHECK(fresh->state_tensors().size() == writer->state_tensors().size());
      } else {
        CHECK_THROWS_WITH_AS(st.load_optimizer(*fresh),
                             (path + ": the checkpoint was written by a '" + written + "' optimizer; it cannot resume a '" +
                              resumed + "' one (its state and update rule differ)")
                                 .c_str(),
                             Error);
        CHECK(fresh->lr() == 0.5);
        CHECK(fresh->state_tensors().empty());
      }
    }
  }
  // A checkpoint that does not say its kind is refused too.
  const std::string path = dir / "sgd.safetensors";
  Checkpoint ck = load_safetensors(path);
  ck.metadata.erase("optimizer");
  save_safetensors(path, ck.tensors, ck.metadata);
  CHECK_THROWS_WITH_AS(load_training_state(path).load_optimizer(sgd),
                       doctest::Contains("the checkpoint does not say which optimizer wrote it"), Error);
}

TEST_CASE("training state: optimizer state of another kind or of half a parameter is refused, not dropped") {
  TempDir dir("tsstate");
  const std::string path = dir / "run.safetensors";
  ModulePtr model = tiny_model();
  Adam adam(model->parameters(), {.lr = 0.01});
  one_step(*model, adam);
  save_training_state(path, *model, adam, {.global_step = 1});
  // Adam's moments relabelled as an SGD checkpoint: SGD does not take them silently.
  set_metadata(path, "optimizer", "sgd");
  SGD sgd(model->parameters(), {.lr = 0.5, .momentum = 0.9});
  CHECK_THROWS_WITH_AS(load_training_state(path).load_optimizer(sgd),
                       doctest::Contains(": sgd: the checkpoint's optimizer state holds 'state.0.exp_avg', which a 'sgd' "
                                         "optimizer of 4 parameters does not have (expected state.<0..3>.{momentum_buffer})"),
                       Error);
  CHECK(sgd.lr() == 0.5);  // the scalars are put back when the tensors are refused
  CHECK(sgd.steps_taken() == 0);
  // A first moment without its second.
  save_training_state(path, *model, adam, {.global_step = 1});
  Checkpoint ck = load_safetensors(path);
  ck.tensors.erase("optimizer.state.2.exp_avg_sq");
  save_safetensors(path, ck.tensors, ck.metadata);
  Adam fresh(model->parameters(), {.lr = 0.5});
  CHECK_THROWS_WITH_AS(load_training_state(path).load_optimizer(fresh),
                       doctest::Contains("adam: the checkpoint holds state.2.exp_avg without state.2.exp_avg_sq"), Error);
  CHECK(fresh.state_tensors().empty());
  CHECK(fresh.lr() == 0.5);
  // State for a parameter the model does not have.
  ck.tensors["optimizer.state.2.exp_avg_sq"] = ck.tensors.at("optimizer.state.2.exp_avg");
  ck.tensors["optimizer.state.9.exp_avg"] = zeros({2});
  save_safetensors(path, ck.tensors, ck.metadata);
  CHECK_THROWS_WITH_AS(load_training_state(path).load_optimizer(fresh),
                       doctest::Contains("holds 'state.9.exp_avg', which a 'adam' optimizer of 4 parameters does not have"),
                       Error);
}
