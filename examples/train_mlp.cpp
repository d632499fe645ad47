// examples/train_mlp.cpp — train a model on Fashion-MNIST with DataParallel: the
// whole training loop on one screen.
//
// Follow one batch through run():
//   DataLoader         a global batch on the host, shuffled by (seed, epoch)
//   dp.train_step      shards to the replicas; forward and backward with a
//                      SUMMED loss; gradients summed across replicas and
//                      divided by the global batch; the same optimizer step on
//                      every replica. It returns before the devices are done.
//   rec.record         the step's phase times and loss, folded into the meters
//                      once the step is done: the loop never waits for a GPU
//   metrics::evaluate  after each epoch: each replica scores its shard of the
//                      test set, the confusion matrices and loss sums are added
//   reports            classification report, speed report, warnings, JSON
//
//   ./train_mlp --epochs 5 --devices cpu,cpu --metrics-json mlp.json
//   mpirun -np 4 ./train_mlp --ddp --devices auto   (one process per GPU, or 4 CPU processes)
//   ./train_cnn --epochs 3          (this same file, built with --model cnn as the default)
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>

#include "explain.h"       // --explain: one step opened, with its numbers
#include "progress.h"      // the progress bar
#include "stop_signal.h"   // SIGINT/SIGTERM: stop after the step, save, exit 130/143
#include "train_config.h"  // flags, data sets, model, optimizer, loader options

#ifndef MINIDP_TRAIN_MODEL  // examples/CMakeLists.txt builds train_cnn with "cnn"
#define MINIDP_TRAIN_MODEL "mlp"
#endif

using namespace minidp;
using Clock = std::chrono::steady_clock;

namespace {
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int run(examples::TrainConfig c) {
  // ---- data, model, replicas; a checkpoint says where a resumed run stands
  for (const auto& [path, flag] : {std::pair{c.save, "--save"}, {c.metrics_json, "--metrics-json"},
                                   {c.log_jsonl, "--log-jsonl"}, {c.trace, "--trace"}})
    examples::check_output_path(path, flag);
  auto [train, test] = examples::load_data(c);
  const auto leakage = metrics::check_data_leakage(metrics::find_overlap(train.inputs, test.inputs));
  set_allow_tf32(c.tf32);
  if (c.threads > 0) set_num_threads(c.threads);
  manual_seed(c.seed);
  nn::ModulePtr model = examples::make_model(c.model);
  if (!c.init.empty()) model->load_state_dict(nn::load_safetensors(c.init).tensors);
  std::optional<nn::TrainingState> resume;
  if (!c.resume.empty()) {
    resume = nn::load_training_state(c.resume);
    resume->load_model(*model);
    resume->restore_rng(*model);
    if (resume->progress.seed != c.seed && !c.quiet)
      std::printf("resume: continuing with the checkpoint's seed %llu: the shuffle order must go on\n",
                  static_cast<unsigned long long>(resume->progress.seed));
    c.seed = resume->progress.seed;
  }
  // DataParallel over --devices; with --ddp, this process's rank of a job launched by mpirun.
  std::unique_ptr<parallel::DataParallel> dp_owner = examples::make_data_parallel(c, model);
  parallel::DataParallel& dp = *dp_owner;
  const bool lead = dp.process_group() == nullptr || dp.process_group()->rank() == 0;  // prints, saves
  c.quiet = c.quiet || !lead;
  if (resume)
    for (int rank = 0; rank < dp.size(); ++rank) resume->load_optimizer(dp.optimizer(rank));
  nn::TrainingProgress at = resume ? resume->progress : nn::TrainingProgress{.seed = c.seed};
  nn::data::DataLoader loader(train, examples::train_loader_options(c, dp));
  nn::data::DataLoader test_loader(test, examples::test_loader_options(dp));
  examples::check_run_agrees(c, dp, train.inputs.size(0), test.inputs.size(0), at);
  if (c.explain) {  // one step, opened, with this run's numbers (docs/walkthrough.md), then stop
    MINIDP_CHECK(c.optimizer == "sgd", "--explain follows an SGD step; use --optimizer sgd");
    MINIDP_CHECK(c.zero == 0, "--explain follows a step of whole gradients and optimizer state; leave out --zero");
    for (const nn::data::Batch& b : loader) {
      examples::explain_step(dp, b, examples::lr_at_step(c, at.global_step), c.momentum);
      break;
    }
    return 0;
  }
  const std::string title = c.model == "cnn" ? "CNN conv32-pool-conv64-pool-fc128-fc10" : "MLP 784-1024-1024-10";
  if (!c.quiet) {
    if (dp.process_group() != nullptr)
      std::printf("%s: %lld parameters, %d processes of one replica each [%s on rank 0], %s communicator\n",
                  title.c_str(), static_cast<long long>(model->num_parameters()), dp.process_group()->size(),
                  dp.replica(0).device.str().c_str(), dp.communicator().name().c_str());
    else
      std::printf("%s: %lld parameters, %d replica(s) [%s], %s communicator\n", title.c_str(),
                  static_cast<long long>(model->num_parameters()), dp.size(), c.devices.c_str(),
                  dp.communicator().name().c_str());
    if (c.devices.find("cpu") != std::string::npos || dp.replica(0).device.is_cpu()) {
      std::printf("CPU threads: %d (%d per replica), float32 matrix products by %s %s\n", num_threads(),
                  dp.cpu_threads_per_replica(), cpu_gemm_library(), cpu_gemm_kernels());
      if (!cpu_gemm_warning().empty()) std::fprintf(stderr, "WARNING: %s\n", cpu_gemm_warning().c_str());
      if (c.model == "cnn") std::printf("CPU convolutions: %s\n", cpu_conv_kernels().c_str());
    }
    std::printf("data: %lld training / %lld test samples, batch %lld, %lld steps per epoch\n",
                static_cast<long long>(train.size()), static_cast<long long>(test.size()),
                static_cast<long long>(c.batch), static_cast<long long>(loader.num_batches()));
    if (leakage) std::printf("WARNING: %s\n", leakage->message.c_str());
    if (auto w = examples::lr_batch_warning(c)) std::printf("WARNING: %s\n", w->c_str());
    if (c.lr_scaling != "none" || c.warmup_steps > 0)
      std::printf("learning rate: %s at batch %lld, %s-scaled to %s for batch %lld, reached over %lld warm-up steps\n",
                  nn::exact_number(c.lr).c_str(), static_cast<long long>(c.lr_batch), c.lr_scaling.c_str(),
                  nn::exact_number(examples::lr_at_step(c, 1 << 30)).c_str(), static_cast<long long>(c.batch),
                  static_cast<long long>(c.warmup_steps));
    std::printf("%5s %11s %10s %9s %9s %12s %8s\n", "epoch", "train_loss", "test_loss", "test_acc", "macro_f1",
                "samples/s", "time_s");
  }
  std::unique_ptr<metrics::JsonlWriter> jsonl;
  if (!c.log_jsonl.empty() && lead) jsonl = std::make_unique<metrics::JsonlWriter>(c.log_jsonl);

  // ---- the training loop
  MINIDP_CHECK(at.epoch < c.epochs, c.resume, ": the checkpoint is at epoch ", at.epoch, ", and --epochs ", c.epochs,
               " ends there: nothing to train (raise --epochs to go on)");
  metrics::TrainingRecorder rec(dp);
  if (!c.trace.empty()) rec.enable_trace();
  metrics::Evaluation eval{metrics::ConfusionMatrix(10), {}};
  std::vector<double> train_curve, test_curve;
  // SIGINT/SIGTERM: finish the step, save, say how to resume. Not under
  // mpirun (--ddp): there the launcher owns the job's signals — it answers a
  // dead rank by sending SIGTERM to the others and expects them to go — so
  // ranks keep the default action.
  const bool distributed = dp.process_group() != nullptr && dp.process_group()->distributed();
  std::optional<examples::StopSignal> stop_signal;
  if (!distributed) stop_signal.emplace();
  const auto signalled = [&] { return stop_signal && stop_signal->requested(); };
  const std::int64_t first_global_step = at.global_step;
  const bool scheduled = examples::lr_scheduled(c);
  std::int64_t epoch_first_step = at.step_in_epoch;  // a resumed run starts mid-epoch
  // Every 50 steps and at each epoch's end: read the losses recorded since
  // the last look for a NaN or inf (one read, not one per step).
  bool warned = false;
  auto look = [&]() -> bool {
    if (auto bad = rec.check_finite()) {
      const std::string m = examples::nonfinite_message(c, *bad, at.epoch + 1, epoch_first_step + bad->epoch_step + 1,
                                                        first_global_step + bad->step + 1);
      MINIDP_CHECK(c.on_nonfinite != "stop", "training stopped: ", m);
      if (lead && !warned)
        std::fprintf(stderr, "\nWARNING: %s; training goes on (--on-nonfinite %s)\n", m.c_str(), c.on_nonfinite.c_str());
      warned = true;
    }
    return signalled();
  };
  loader.set_epoch(at.epoch, at.step_in_epoch);  // a resumed run starts mid-epoch, skipping nothing twice
  bool stop = false, stopped_by_signal = false;
  for (; at.epoch < c.epochs && !stop; ++at.epoch, at.step_in_epoch = 0, epoch_first_step = 0) {
    rec.start_epoch();
    examples::Progress bar(loader.num_batches(), !c.quiet);
    const auto t_epoch = Clock::now();
    std::int64_t samples = 0;
    auto t_data = Clock::now();
    for (nn::data::Batch& b : loader) {
      const double data_wait = seconds_since(t_data);
      if (scheduled)  // a warm-up: this step's rate on every replica (the same everywhere)
        for (int r = 0; r < dp.size(); ++r) dp.optimizer(r).set_lr(examples::lr_at_step(c, at.global_step));
      rec.record(dp.train_step(b.inputs, b.labels), data_wait);  // queued; the host goes on at once
      samples += b.global_size;  // the job's samples: with --ddp this process loaded only its part
      ++at.step_in_epoch, ++at.global_step;
      bar.update(at.step_in_epoch, samples);
      stopped_by_signal = at.global_step % 50 == 0 ? look() : signalled();  // a flag: no cost per step
      if (stopped_by_signal || (c.max_steps > 0 && at.global_step >= c.max_steps)) {
        stop = true;
        break;
      }
      t_data = Clock::now();
    }
    stopped_by_signal = look() || stopped_by_signal;
    if (stopped_by_signal) {
      // The step in progress has finished; `at` is where the next one starts.
      if (!c.save.empty()) parallel::save_training_state(c.save, dp, at);  // every rank: rank 0 writes
      if (lead) {
        std::fprintf(stderr, "\nstopped by %s at epoch %lld, step %lld (global step %lld). ",
                     examples::StopSignal::name(stop_signal->signal()), static_cast<long long>(at.epoch + 1),
                     static_cast<long long>(at.step_in_epoch), static_cast<long long>(at.global_step));
        if (c.save.empty())
          std::fprintf(stderr, "No --save was given, so nothing was written; next time pass --save FILE.\n");
        else
          std::fprintf(stderr, "Checkpoint written to %s; to continue exactly where this run stopped, run the same "
                               "command with --resume %s\n", c.save.c_str(), c.save.c_str());
      }
      return 128 + stop_signal->signal();
    }
    if (stop && !c.save.empty()) parallel::save_training_state(c.save, dp, at);
    if (rec.skipped_steps() > 0 && !c.quiet)
      std::printf("(%lld optimizer step(s) skipped so far: their gradients were not finite)\n",
                  static_cast<long long>(rec.skipped_steps()));
    if (rec.nonfinite_steps() > 0 && !c.quiet)
      std::printf("(%lld step(s) so far had a non-finite loss)\n", static_cast<long long>(rec.nonfinite_steps()));
    train_curve.push_back(rec.mean_loss());  // the one read of the epoch's loss
    double seconds = seconds_since(t_epoch);
    if (distributed) {  // the job's epoch ends with its slowest rank: the figure is the job's, not this rank's
      std::vector<double> slowest = {seconds};
      dp.process_group()->allreduce_max(slowest);
      seconds = slowest[0];
    }
    const double samples_per_s = samples / std::max(seconds, 1e-9);
    rec.record_memory();
    eval = metrics::evaluate(dp, test_loader, 10);
    test_curve.push_back(eval.loss.mean());
    const double accuracy = metrics::accuracy(eval.cm), macro_f1 = metrics::f1(eval.cm).macro;
    if (!c.quiet)
      std::printf("%5lld %11.4f %10.4f %8.2f%% %9.4f %12.0f %8.1f\n", static_cast<long long>(at.epoch + 1),
                  train_curve.back(), test_curve.back(), 100.0 * accuracy, macro_f1, samples_per_s, seconds);
    std::fflush(stdout);
    if (jsonl)
      jsonl->write({{"epoch", at.epoch + 1},
                    {"train", {{"loss", metrics::json_number(train_curve.back())}, {"samples_per_s", samples_per_s},
                               {"seconds", seconds}}},
                    {"test", {{"loss", metrics::json_number(test_curve.back())}, {"accuracy", accuracy},
                              {"f1_macro", metrics::json_number(macro_f1)}}}});
  }
  if (!c.save.empty() && !stop) parallel::save_training_state(c.save, dp, at);

  // ---- reports
  metrics::ReportOptions ro;
  ro.class_names = nn::data::fashion_mnist_classes();
  rec.gather_ranks();  // every rank's speed to rank 0 (a collective: every rank calls it)
  if (!c.trace.empty()) rec.write_trace(c.trace);
  metrics::RunCheckOptions checks;
  checks.classes.class_names = ro.class_names;  // "class Shirt", not "class 6"
  const auto warnings = metrics::check_training_run(eval.cm, train_curve, test_curve, rec.balance(), leakage, checks);
  if (!c.quiet) {
    if (eval.cm.total() > 0)
      std::printf("\nTest set (%lld samples):\n%s", static_cast<long long>(eval.cm.total()),
                  metrics::classification_report(eval.cm, ro).c_str());
    std::printf("\n%s", metrics::speed_report(rec).c_str());
    std::vector<metrics::Warning> others;  // the classification report already shows the class warnings
    for (auto& w : warnings)
      if (w.kind != "accuracy_paradox" && w.kind != "low_recall_class") others.push_back(w);
    if (!others.empty()) std::printf("\n%s", metrics::warnings_text(others).c_str());
  }
  if (!c.metrics_json.empty()) {
    nlohmann::json j = metrics::training_run_json(rec, train_curve.empty() ? std::nan("") : train_curve.back(),
                                                  eval, ro, warnings);
    j["model"] = title;
    j["devices"] = c.devices;
    j["replicas"] = dp.size();
    if (dp.process_group() != nullptr) j["rank"] = dp.process_group()->rank(), j["processes"] = dp.process_group()->size();
    const std::string path = examples::per_rank_path(c.metrics_json, dp);
    std::ofstream out(path);
    out << j.dump(2) << "\n";
    MINIDP_CHECK(out.good(), "--metrics-json: could not write ", path);
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  examples::TrainConfig c;
  c.model = MINIDP_TRAIN_MODEL;
  if (c.model == "cnn") c.epochs = 3;
  examples::Flags flags{"Train a model on Fashion-MNIST with minidp's DataParallel"};
  examples::add_flags(flags, c);
  if (const int rc = flags.parse(argc, argv); rc >= 0) return rc;
  try {
    return run(c);
  } catch (const std::exception& e) {
    // In a job of several processes the others would wait for this one in
    // their next collective: end the whole job, naming this rank.
    if (c.ddp && parallel::ProcessGroup::world().distributed()) parallel::ProcessGroup::world().abort(e.what());
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
