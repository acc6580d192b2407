// Trainer throughput: samples/s of surrogates::Trainer pulling batches from a reservoir
// buffer, beside a bare LibTorch loop on the same MLP (Melissa's heat shape, 7 -> 256 -> 256
// -> 64x64) with pre-built, pre-normalised tensors, in the same run, for batch 32 and 256.
// Goal: ratio >= 0.95. Also the share of a step spent assembling the batch (copy into
// tensors + normalisation; issue 4 asks < 5 %) and the thread split of the bare loop.
//   bench_surrogates [--quick]
#include <dlfcn.h>
#include <mpi.h>

#include <cstdio>
#include <cstring>
#include <random>

#include "bench_result.hpp"
#include "surge/core/allocator.hpp"
#include "surge/reservoir/registry.hpp"
#include "surge/surrogates/trainer.hpp"
#include "timed_training.hpp"

#include <torch/torch.h>

using namespace surge;

namespace {

constexpr int kInputs = 7, kGrid = 64, kOutputs = kGrid * kGrid, kPool = 2048;

std::vector<reservoir::Sample> make_pool() {
  std::mt19937_64 rng(1);
  std::normal_distribution<float> normal(300.0f, 50.0f);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<reservoir::Sample> pool(kPool);
  for (auto& s : pool) {
    s.x.resize(kInputs);
    s.y.resize(kOutputs);
    for (float& v : s.x) v = unit(rng);
    for (float& v : s.y) v = normal(rng);
  }
  return pool;
}

surrogates::IoDescription description() {
  surrogates::IoDescription io;
  for (const char* n : {"ic", "b1", "b2", "b3", "b4", "alpha", "t"}) io.inputs.push_back({n, 0, 1});
  io.fields = {"temperature"};
  io.grid = {kGrid, kGrid};
  return io;
}

// Trainer samples/s over `batches` batches after `warm` warm-up batches, and the assembly
// share of the step over the same batches.
std::pair<double, double> trainer_rate(const std::vector<reservoir::Sample>& pool, int batch,
                                       int warm, int batches) {
  core::Pluggable part;
  part.type = "reservoir";
  part.parameters["capacity"] = kPool;
  part.parameters["batch_size"] = batch;
  part.parameters["watermark"] = 0;
  part.parameters["extra_passes"] = 1e6;
  part.parameters["capacity_bytes"] = std::int64_t{1} << 32;
  auto buffer = reservoir::make_buffer<reservoir::Sample>(part);
  for (auto s : pool)
    if (!buffer->put(std::move(s))) return {0.0, 1.0};
  buffer->end_of_reception();
  surrogates::TrainingConfig c;
  c.max_batches = warm + batches;
  c.validate_every = 0;
  core::Pluggable model;
  model.type = "mlp";
  surrogates::Trainer trainer(model, c, description());
  return bench::timed_training(trainer, *buffer, warm, batches, batch);
}

// The same MLP and optimizer in a plain LibTorch loop over pre-built tensors.
double bare_rate(const std::vector<reservoir::Sample>& pool, int batch, int warm, int batches) {
  const core::TrainingArena arena;  // as the trainer allocates
  torch::manual_seed(1234);
  torch::nn::Sequential net(torch::nn::Linear(kInputs, 256), torch::nn::ReLU(),
                            torch::nn::Linear(256, 256), torch::nn::ReLU(),
                            torch::nn::Linear(256, kOutputs));
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(1e-3));
  std::vector<torch::Tensor> xs, ys;
  for (int b = 0; b * batch + batch <= kPool; ++b) {
    torch::Tensor x = torch::empty({batch, kInputs}), y = torch::empty({batch, kOutputs});
    for (int i = 0; i < batch; ++i) {
      const auto& s = pool[static_cast<std::size_t>(b * batch + i)];
      std::memcpy(x.data_ptr<float>() + i * kInputs, s.x.data(), kInputs * sizeof(float));
      std::memcpy(y.data_ptr<float>() + i * kOutputs, s.y.data(), kOutputs * sizeof(float));
    }
    xs.push_back(x * 2 - 1);
    ys.push_back((y - 300) / 50);
  }
  double t0 = 0;
  for (int k = 0; k < warm + batches; ++k) {
    if (k == warm) t0 = bench::now_seconds();
    const std::size_t i = static_cast<std::size_t>(k) % xs.size();
    optimizer.zero_grad();
    torch::Tensor loss = torch::mse_loss(net->forward(xs[i]), ys[i]);
    loss.backward();
    optimizer.step();
  }
  return static_cast<double>(batches) * batch / (bench::now_seconds() - t0);
}

void set_threads(int intra, int blas) {
  torch::set_num_threads(intra);
  using Setter = void (*)(int);
  if (auto f = reinterpret_cast<Setter>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(blas);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  std::printf("allocator: %s\n", SURGE_BENCH_ALLOCATOR);
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const auto pool = make_pool();
  const int cores = surrogates::cores_per_rank(MPI_COMM_WORLD);
  const surrogates::ThreadChoice auto_threads = surrogates::choose_threads({}, cores);
  std::printf("cores %d; trainer threads (auto): %d intra-op x %d OpenBLAS\n", cores,
              auto_threads.intra_op, auto_threads.blas);

  // Which split of the cores serves the MLP best (bare loop, batch 256).
  if (cores > 1) {
    for (auto [intra, blas] : {std::pair{1, cores}, std::pair{cores, 1}, std::pair{cores, cores}}) {
      set_threads(intra, blas);
      std::printf("bare loop, batch 256, %d intra-op x %d OpenBLAS: %.0f samples/s\n", intra, blas,
                  bare_rate(pool, 256, 3, quick ? 6 : 20));
    }
  }
  for (int batch : {32, 256}) {
    const int batches = (quick ? 1 : 4) * (batch == 32 ? 100 : 15);
    const int warm = 5;
    double trainer = 0, bare = 0, share = 1;
    for (int repeat = 0; repeat < 3; ++repeat) {  // alternate, keep the best of each
      const auto [rate, s] = trainer_rate(pool, batch, warm, batches);
      trainer = std::max(trainer, rate);
      share = std::min(share, s);
      set_threads(auto_threads.intra_op, auto_threads.blas);
      bare = std::max(bare, bare_rate(pool, batch, warm, batches));
    }
    std::printf(
        "batch %d: trainer %.0f samples/s, bare LibTorch %.0f samples/s, batch assembly "
        "%.2f %% of a step\n",
        batch, trainer, bare, 100 * share);
    bench::print_result("surrogates_trainer_vs_bare_b" + std::to_string(batch), trainer,
                        "samples/s", bare);
    bench::print_result("surrogates_assembly_share_b" + std::to_string(batch), share, "fraction",
                        0.05);
  }
  MPI_Finalize();
  return 0;
}
