// The run loop of a study (experiments/README.md, "What happens"): every server rank binds a
// receiver and owns a buffer and a trainer replica; rank 0 also runs the front and the
// launcher. Members stream, the feeders turn fields into samples, the trainers learn, study
// checkpoints are written on the way, and rank 0 writes the output directory.
#include "study_run.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>

#include "feeder.hpp"
#include "member_table.hpp"
#include "server_control.hpp"
#include "server_mpi.hpp"
#include "study_keys.hpp"
#include "study_results.hpp"
#include "surge/core/atomic_file.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/core/progress.hpp"
#include "surge/streaming/front.hpp"
#include "surge/streaming/member_environment.hpp"
#include "surge/streaming/receiver.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

std::atomic<int> g_interrupted{0};
std::atomic<int> g_suspended{0};
extern "C" void on_interrupt(int) { g_interrupted = 1; }
// Under mpirun, Ctrl-C reaches the ranks as SIGCONT, SIGTERM 1 s later and SIGKILL 1 s after
// that (Open MPI's odls_base_sigkill_timeout): SIGCONT is the first word of it, unless it
// resumes a rank that Ctrl-Z (SIGTSTP, which mpirun forwards) had suspended.
extern "C" void on_suspend(int) {
  g_suspended = 1;
  raise(SIGSTOP);
}
extern "C" void on_continue(int) {
  if (g_suspended.exchange(0) == 0) g_interrupted = 1;
}

// Testing aid: SURGE_TEST_FEEDER_THROW_AT=<samples> (with SURGE_TEST_FEEDER_RANK=<rank>,
// default 0) makes that rank's feeder throw once it has made that many samples.
std::int64_t feeder_throw_at(int rank) {
  const char* at = std::getenv("SURGE_TEST_FEEDER_THROW_AT");
  const char* on = std::getenv("SURGE_TEST_FEEDER_RANK");
  if (!at || (on ? std::atoi(on) : 0) != rank) return -1;
  return std::atoll(at);
}

// The members of a resumed study: those whose END some rank has seen are done, failed and
// redrawn ones stay so, every other one is relaunched under its id (what it sent before the
// checkpoint is dropped as duplicates).
std::vector<MemberRecord> resumed_members(std::vector<MemberRecord> members,
                                          const std::set<std::uint64_t>& ended) {
  for (auto& m : members) {
    if (ended.count(m.simulation_id)) {
      m.status = MemberStatus::done;
    } else if (m.status != MemberStatus::failed && m.status != MemberStatus::redrawn) {
      m.status = MemberStatus::pending;
    }
  }
  return members;
}

// Every rank's simulations whose END it saw, on rank 0.
std::set<std::uint64_t> ended_on_any_rank(const std::set<std::uint64_t>& mine) {
  Packer p;
  p.put_vector(std::vector<std::uint64_t>(mine.begin(), mine.end()));
  std::set<std::uint64_t> all;
  for (const auto& bytes : gather_bytes(p.bytes, 0)) {
    Unpacker u{bytes};
    for (auto sim : u.get_vector<std::uint64_t>()) all.insert(sim);
  }
  return all;
}

// The server's handshake endpoint in <output_dir>/server_endpoint, where member jobs read it;
// written whole (a temporary file renamed) so that a reader never sees half of it.
void write_endpoint_file(const Study& study, const std::string& endpoint) {
  core::AtomicFile out((study.out_dir / kEndpointFile).string());
  out.write(endpoint + "\n");
  out.commit();
}

// Every rank's error text, on rank 0, as "server rank k: ..." lines joined by "; ".
std::string errors_on_rank0(const std::string& mine) {
  std::string all;
  int k = 0;
  for (const auto& bytes : gather_bytes(std::vector<char>(mine.begin(), mine.end()), 0)) {
    if (!bytes.empty()) {
      if (!all.empty()) all += "; ";
      all += "server rank " + std::to_string(k) + ": " + std::string(bytes.begin(), bytes.end());
    }
    ++k;
  }
  return all;
}

// A member that exits 0 is done once its END reached the server rank it streams to (rank 0's
// feeder, or another rank's report) after every one of its `frames` steps was made into a
// sample: external programs can exit 0 having sent less.
LocalLauncher::DeliveryOf delivery_check(const streaming::Front& front, const Feeder& feeder,
                                         const ServerControl& control, std::int64_t frames) {
  return [&front, &feeder, &control, frames](std::uint64_t id) {
    const int r = front.assigned_rank(id);
    if (r < 0) return LocalLauncher::Delivery{"never connected to the server", true};
    const std::optional<std::int64_t> steps =
        r == 0 ? feeder.delivered(id) : control.remote_delivered(id);
    if (!steps) {
      return LocalLauncher::Delivery{
          "its end of stream never reached the server (does it finalize its client?)"};
    }
    if (*steps != frames) {
      return LocalLauncher::Delivery{"ended its stream after " + std::to_string(*steps) +
                                     " of its " + std::to_string(frames) + " steps"};
    }
    return LocalLauncher::Delivery{};
  };
}

// Admission: a fresh secret for one launch of `simulation`, registered with the
// front (replacing the one of an earlier attempt) and handed to the member in
// SURGE_MEMBER_TICKET. The one place where tickets are made.
std::string issue_member_ticket(streaming::Front& front, std::uint64_t simulation) {
  std::string ticket = streaming::make_member_ticket();
  front.expect(simulation, ticket);
  return ticket;
}

// Each idle TCP connection costs the server a descriptor: the soft limit goes up to the hard
// one, so that a crowd of connections does not starve the study of files.
void raise_file_limit(const core::Logger& log) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    SURGE_LOG(log, debug, "open files limit raised from " << before << " to " << limit.rlim_cur);
  }
}

// The streaming layer's counters (results.h5 streaming/), summed over the server ranks on
// rank 0; collective.
std::vector<std::pair<std::string, std::int64_t>> streaming_counters(
    const streaming::Front* front, const streaming::Receiver& receiver, const Feeder& feeder,
    const ServerControl& control) {
  std::vector<std::pair<std::string, std::int64_t>> c;
  const streaming::FrontStats fs = front ? front->stats() : streaming::FrontStats{};
  for (std::uint32_t r = 1; r < streaming::kRefusalReasons; ++r) {
    c.emplace_back(std::string("refused_") + key_of(static_cast<streaming::RefusalReason>(r)),
                   static_cast<std::int64_t>(fs.refused[r]));
  }
  c.emplace_back("front_handshake_failures", static_cast<std::int64_t>(fs.handshake_failures));
  c.emplace_back("handshake_failures", static_cast<std::int64_t>(receiver.handshake_failures()));
  // CURVE clients without the study's key (the ZAP handlers of the front and the receivers),
  // and whatever reached the server ranks' control channel and was not obeyed.
  c.emplace_back("curve_refused",
                 static_cast<std::int64_t>(fs.curve_refused + receiver.curve_refused()));
  c.emplace_back("control_refused", static_cast<std::int64_t>(control.refusals().total()));
  const streaming::IngestStats is = receiver.stats();
  for (std::size_t k = 0; k < streaming::kRejectionKinds; ++k) {
    c.emplace_back(std::string("rejected_") + to_string(static_cast<streaming::Rejection>(k)),
                   static_cast<std::int64_t>(is.rejected[k]));
  }
  c.emplace_back("messages", static_cast<std::int64_t>(is.messages));
  c.emplace_back("incomplete_fields", static_cast<std::int64_t>(is.incomplete_fields));
  const FeederDrops d = feeder.drops();
  c.emplace_back("feeder_duplicates", [&] {
    std::int64_t n = 0;
    feeder.paused([&](const ReceptionState& s) { n = s.duplicates; });
    return n;
  }());
  c.emplace_back("feeder_unknown_role", d.unknown_role);
  c.emplace_back("feeder_bad_step", d.bad_step);
  c.emplace_back("feeder_unusable", d.unusable);
  // Simulations given up (redrawn) whose state a rank freed: redrawn members x ranks.
  c.emplace_back("forgotten", static_cast<std::int64_t>(feeder.forgotten()));
  std::vector<std::int64_t> values;
  for (const auto& [name, n] : c) values.push_back(n);
  if (core::comm_size(MPI_COMM_WORLD) > 1) {
    const bool root = core::comm_rank(MPI_COMM_WORLD) == 0;
    SURGE_MPI_CHECK(MPI_Reduce(root ? MPI_IN_PLACE : values.data(), values.data(),
                               static_cast<int>(values.size()), MPI_INT64_T, MPI_SUM, 0,
                               MPI_COMM_WORLD));
  }
  for (std::size_t k = 0; k < c.size(); ++k) c[k].second = values[k];
  return c;
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  if (std::getenv("OMPI_COMM_WORLD_SIZE")) {
    // A rank whose mpirun was killed (SIGKILL: no SIGCONT/SIGTERM first) must not go on
    // training for nobody, holding its ports and its members.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct sigaction suspend {};
    suspend.sa_handler = on_suspend;
    sigaction(SIGTSTP, &suspend, nullptr);
    struct sigaction resume {};
    resume.sa_handler = on_continue;
    sigaction(SIGCONT, &resume, nullptr);
  }
}

bool interrupted() noexcept { return g_interrupted != 0; }

int run_study(const Study& study, const std::optional<ResumePoint>& resume, bool plots) {
  const ExperimentConfig& cfg = study.cfg;
  const int rank = core::comm_rank(MPI_COMM_WORLD), size = core::comm_size(MPI_COMM_WORLD);
  core::Logger log("run");

  // --- 1. the server: stream, buffer, trainer ------------------------------------------------
  streaming::ReceiverConfig receiver_cfg = cfg.streaming;
  receiver_cfg.experiment = cfg.study.name;
  for (const auto& f : study.facts.layout) receiver_cfg.fields.push_back(f.name);
  // Only members this study launched, announcing what its solver streams, get in.
  receiver_cfg.require_tickets = true;
  receiver_cfg.expected = member_expectations(study);
  raise_file_limit(log);
  std::vector<std::int64_t> key_holder;
  if (rank == 0) key_holder.push_back(static_cast<std::int64_t>(streaming::make_admission_key()));
  bcast_vector(key_holder);  // every rank has checked its inputs once this returns
  const auto key = static_cast<std::uint64_t>(key_holder.at(0));
  // CURVE keys (study_keys.hpp): rank 0 makes them before any member starts.
  const ServerKeys keys = share_server_keys(study);
  if (keys.streaming.on()) receiver_cfg.curve = keys.streaming;
  streaming::Receiver receiver(receiver_cfg, key, static_cast<std::uint32_t>(rank));
  ServerControl control(rank, size, receiver_cfg.data_endpoint, keys.control);
  std::vector<std::string> data_endpoints, control_endpoints;
  {
    const std::string mine = receiver.endpoint() + "\n" + control.endpoint();
    for (const auto& bytes : gather_bytes(std::vector<char>(mine.begin(), mine.end()))) {
      const std::string text(bytes.begin(), bytes.end());
      data_endpoints.push_back(text.substr(0, text.find('\n')));
      control_endpoints.push_back(text.substr(text.find('\n') + 1));
    }
  }
  std::unique_ptr<streaming::Front> front;
  if (rank == 0) {
    front = std::make_unique<streaming::Front>(receiver_cfg, key, data_endpoints);
    if (resume) {
      for (const auto& [sim, r] : resume->record.assignment)
        front->assign(sim, static_cast<std::uint32_t>(r));
    }
    SURGE_LOG(log, info,
              "study '" << cfg.study.name << "': server listening on " << front->endpoint() << " ("
                        << size << " server rank" << (size > 1 ? "s" : "") << "), output in "
                        << study.out_dir.string());
  }
  auto buffer = make_buffer(study);
  surrogates::Trainer trainer(cfg.model, study.training, study.io, MPI_COMM_WORLD, study.source);
  ReceptionState restored;
  if (resume) {
    trainer.load_checkpoint((resume->checkpoint / "trainer.pt").string());
    restored = read_rank_state(resume->checkpoint, rank, *buffer);
  }

  // The feeder (started below, once the members' roles are known): fields -> samples.
  FeederSetup setup;
  setup.layout = study.facts.layout;
  setup.nodes = static_cast<std::size_t>(study.facts.grid[0] * study.facts.grid[1]);
  setup.frames = static_cast<std::int64_t>(study.facts.times.size());
  setup.next_step = study.next_step;
  setup.stride = study.io.stride;
  setup.throw_at = feeder_throw_at(rank);
  setup.x_size = study.facts.parameter_names.size() + (study.next_step ? 0 : 1);
  Feeder feeder(setup, receiver, control, *buffer, g_interrupted);
  // The control thread reads the feeder's deliveries: it must stop before the feeder goes,
  // on every way out.
  struct StopControl {
    ServerControl& control;
    ~StopControl() { control.stop(); }
  } stop_control{control};

  // --- 2. the members (rank 0 launches; every rank knows their roles) ------------------------
  // Every rank draws the same (seeded) table, so every rank knows the first members' roles;
  // rank 0's table goes on drawing the redrawn members.
  auto table = resume ? std::make_unique<MemberTable>(study, resume->record.sampler_draws,
                                                      resume->record.next_simulation_id)
                      : std::make_unique<MemberTable>(study);
  const std::vector<MemberRecord> first = resume ? resume->record.members : table->initial();
  for (const auto& m : first) control.set_role(m.simulation_id, m.role);
  const std::set<std::uint64_t> ended = ended_on_any_rank(restored.ended);
  std::unique_ptr<Launcher> launcher;
  if (rank == 0) {
    std::vector<MemberRecord> members = resume ? resumed_members(first, ended) : first;
    const std::string front_endpoint = front->endpoint();
    write_endpoint_file(study, front_endpoint);
    // Seconds since any server rank last heard of the member (the others report to rank 0).
    auto silence = [&receiver, &control](std::uint64_t id) {
      double quiet = control.remote_silence(id);
      const auto now = streaming::Clock::now();
      for (const auto& s : receiver.members()) {
        if (s.simulation != id) continue;
        const double q = std::chrono::duration<double>(now - s.last_seen).count();
        quiet = quiet < 0 ? q : std::min(quiet, q);
      }
      return quiet;
    };
    auto redraw = [&table, &control, &front, &receiver, &feeder](const MemberRecord& failed) {
      // The failed member's admission goes, and what every rank holds of it.
      front->revoke(failed.simulation_id);
      (void)receiver.forget(failed.simulation_id);
      feeder.forget(failed.simulation_id);
      control.announce_forget(failed.simulation_id);
      MemberRecord m = table->draw(failed.role);
      control.announce_role(m.simulation_id, m.role);
      return m;
    };
    LocalLauncher::Hooks hooks;
    hooks.delivery = [check = delivery_check(*front, feeder, control,
                                             static_cast<std::int64_t>(study.facts.times.size())),
                      &front](std::uint64_t id) {
      LocalLauncher::Delivery d = check(id);
      if (d.missing.empty()) front->revoke(id);  // done: no more handshakes for it
      return d;
    };
    hooks.environment = [&study, &front, front_endpoint](const MemberRecord& m, int) {
      return member_environment(study, front_endpoint, m,
                                issue_member_ticket(*front, m.simulation_id));
    };
    launcher =
        make_launcher(study, std::move(members), front_endpoint, silence, redraw, std::move(hooks));
  }
  // Rank 0 tells each rank, once the launcher has finished, which members that ended
  // cleanly it had (their END must be seen before reception is over).
  ServerControl::FinalLists final_lists;
  if (rank == 0) {
    final_lists = [&]() -> std::optional<std::vector<std::vector<std::uint64_t>>> {
      if (!launcher->finished()) return std::nullopt;
      std::vector<std::vector<std::uint64_t>> lists(static_cast<std::size_t>(size));
      for (const auto& m : launcher->members()) {
        if (m.status != MemberStatus::done) continue;
        const int r = front->assigned_rank(m.simulation_id);
        if (r >= 0 && r < size) lists[static_cast<std::size_t>(r)].push_back(m.simulation_id);
      }
      return lists;
    };
  }
  ServerControl::Hooks control_hooks;
  control_hooks.liveness = [&receiver] { return receiver.members(); };
  control_hooks.final_lists = final_lists;
  control_hooks.deliveries = [&feeder] { return feeder.delivered(); };
  control_hooks.forget = [&receiver, &feeder](std::uint64_t id) {
    (void)receiver.forget(id);
    feeder.forget(id);
  };
  control.start(control_endpoints, std::move(control_hooks));

  // --- 3. the feeder: fields -> samples -> buffer (or the validation set) --------------------
  feeder.restore(std::move(restored));
  feeder.start();

  // Launcher::stop() joins its thread: the watcher and the main thread may both call it.
  std::mutex stop_mutex;
  auto stop_launcher = [&] {
    std::lock_guard<std::mutex> lock(stop_mutex);
    if (launcher) launcher->stop();
  };
  // A server thread's failure on this rank, or "".
  auto thread_error = [&] {
    std::string e = feeder.error();
    return e.empty() ? control.error() : e;
  };
  std::atomic<bool> done{false};
  std::thread watcher;
  // On every way out (errors included): members stopped, buffer closed, threads joined.
  struct Cleanup {
    std::function<void()> run;
    ~Cleanup() { run(); }
  } cleanup{[&] {
    done = true;
    stop_launcher();
    buffer->close();
    feeder.stop();
    if (watcher.joinable()) watcher.join();
    control.stop();
  }};

  const auto start = std::chrono::steady_clock::now();
  const double earlier_seconds = resume ? resume->record.elapsed_seconds : 0.0;
  if (launcher) launcher->start();

  // --- 4. the validation set: complete on every rank before training starts -----------------
  surrogates::ValidationSet validation;
  if (resume) {
    validation.samples = resume->record.validation;
  } else {
    // Rank 0 says which validation members ended cleanly and on which rank.
    std::vector<std::int64_t> plan;  // gave up (0/1), then (simulation, rank) pairs
    if (rank == 0) {
      while (!launcher->role_finished(MemberRole::validation) && !g_interrupted &&
             launcher->gave_up().empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      plan.push_back(launcher->gave_up().empty() ? 0 : 1);
      for (const auto& m : launcher->members()) {
        if (m.role != MemberRole::validation || m.status != MemberStatus::done) continue;
        plan.push_back(static_cast<std::int64_t>(m.simulation_id));
        plan.push_back(front->assigned_rank(m.simulation_id));
      }
    }
    bcast_vector(plan);
    if (plan.at(0) != 0) {
      SURGE_THROW(IoError, "surge run: " << (launcher ? launcher->gave_up()
                                                      : "the launcher on server rank 0 gave up"));
    }
    while (!g_interrupted && !feeder.over()) {
      bool all = true;
      for (std::size_t i = 1; i + 1 < plan.size(); i += 2) {
        if (plan[i + 1] == rank && !feeder.has_ended(static_cast<std::uint64_t>(plan[i])))
          all = false;
      }
      if (all) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    validation.samples = allgather_samples(feeder.validation());
  }
  SURGE_LOG(log, info,
            "validation set: " << validation.samples.size() << " samples from "
                               << cfg.parameters.validation_members << " members; training "
                               << (resume ? "continues from batch " : "starts at batch ")
                               << trainer.batches());

  // A watcher turns Ctrl-C or a server thread's failure into a local stop: members killed
  // (rank 0), this rank's buffer closed. The ranks then agree to stop at the next batch.
  watcher = std::thread([&] {
    while (!done) {
      if (g_interrupted || !thread_error().empty()) {
        if (g_interrupted)
          SURGE_LOG(log, warn, "interrupted: stopping members, keeping what is trained");
        buffer->close();  // first: training stops while the members are being stopped
        stop_launcher();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  // --- 5. training, with study checkpoints -----------------------------------------------------
  const double checkpoint_every = cfg.study.checkpoint_every_s;
  auto last_checkpoint = std::chrono::steady_clock::now();
  auto record_for_checkpoint = [&] {
    StudyRecord r;
    r.batch = trainer.batches();
    r.server_ranks = size;
    r.elapsed_seconds =
        earlier_seconds +
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.source_file = fs::absolute(study.source.file).string();
    r.experiment = core::to_yaml_text(study.input);
    if (launcher) {
      r.members = launcher->members();
      r.sampler_draws = table->draws();
      r.next_simulation_id = table->next_id();
      for (const auto& m : r.members) {
        const int k = front->assigned_rank(m.simulation_id);
        if (k >= 0) r.assignment[m.simulation_id] = k;
      }
    }
    r.validation = validation.samples;
    return r;
  };
  // Every rank calls agree() at the same points (after each batch, then every 50 ms while
  // the last members finish): the ranks agree on stopping (Ctrl-C or a failed server thread
  // anywhere), on writing a study checkpoint (rank 0's clock), and on whether reception is
  // over everywhere, which agree() returns.
  bool stop_agreed = false;
  auto agree = [&] {
    int flags[3] = {g_interrupted || !thread_error().empty() ? 1 : 0, 0, feeder.over() ? 0 : 1};
    if (rank == 0 && checkpoint_every > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - last_checkpoint).count() >=
            checkpoint_every) {
      flags[1] = 1;
    }
    if (size > 1)
      SURGE_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, flags, 3, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    if (flags[0] && !stop_agreed) {
      stop_agreed = true;
      buffer->close();  // every rank: train() sees empty batches everywhere and returns
      stop_launcher();
      feeder.stop();
    }
    if (flags[1] && !stop_agreed) {
      try {
        (void)write_study_checkpoint(study.out_dir / "checkpoints", record_for_checkpoint(),
                                     trainer, feeder, *buffer, cfg.study.checkpoints_kept);
      } catch (const std::exception& e) {
        SURGE_LOG(log, warn, "study checkpoint failed: " << e.what());
      }
      last_checkpoint = std::chrono::steady_clock::now();
    }
    return flags[2] == 0;
  };
  core::Progress progress(log, "batches", study.training.max_batches);
  const auto reason = trainer.train(*buffer, validation, [&](const surrogates::TrainingRecord& r) {
    (void)agree();
    if (!launcher) return;
    const auto c = launcher->counts();
    // Refused handshakes, dropped messages and fields on rank 0: shown once any.
    std::uint64_t rejected = receiver.stats().rejected_total();
    for (const auto n : front->stats().refused) rejected += n;
    rejected += static_cast<std::uint64_t>(feeder.rejected());
    const std::string rejected_text =
        rejected > 0 ? ", " + std::to_string(rejected) + " rejected" : std::string();
    char detail[320];
    std::snprintf(detail, sizeof detail,
                  "loss %.3e, members %d done %d running %d failed, %lld samples in%s, %.0f "
                  "samples/s%s",
                  r.loss, c.done, c.running, c.failed, static_cast<long long>(feeder.received()),
                  size > 1 ? " on rank 0" : "", r.samples_per_second, rejected_text.c_str());
    progress.update(r.batch, detail);
  });
  progress.finish(surrogates::to_string(reason));

  // --- 6. the end of reception: members still running are stopped (or finish) -----------------
  // Unless study.wait_for_members, data nobody will train on is not worth waiting for: the
  // members still running are ended (status stopped) and pending ones never start. Reception
  // is then over once the ends of the members done have been seen; what the stopped ones
  // delivered until then is counted, by member and in total alike.
  bool over = agree();
  const auto training_end = std::chrono::steady_clock::now();
  const bool stop_members = !over && !stop_agreed && !cfg.study.wait_for_members;
  if (!over && !stop_agreed) {
    SURGE_LOG(log, info,
              "training stopped ("
                  << surrogates::to_string(reason) << ") before reception ended; "
                  << (stop_members ? "stopping the members"
                                   : "waiting for members (study.wait_for_members)"));
  }
  buffer->close();
  if (stop_members) stop_launcher();
  while (!over) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    over = agree();
  }
  if (stop_members) {
    SURGE_LOG(log, info,
              "members stopped, reception over "
                  << std::chrono::duration<double>(std::chrono::steady_clock::now() - training_end)
                         .count()
                  << " s after training");
  }
  if (g_interrupted)
    SURGE_LOG(log, warn, "interrupted: members stopped; writing what was trained so far");
  cleanup.run();

  // --- 7. results (rank 0) ------------------------------------------------------------------
  const std::string errors = errors_on_rank0(thread_error());
  StudyOutcome outcome;
  outcome.seconds = earlier_seconds +
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  outcome.totals = reduce_to_rank0(feeder.samples(), feeder.received(), buffer->statistics());
  outcome.rejected_fields = feeder.rejected();
  if (front) {
    for (const auto n : front->stats().refused) outcome.refused_handshakes += n;
  }
  outcome.streaming = streaming_counters(front.get(), receiver, feeder, control);
  outcome.stop_reason = errors.empty() ? surrogates::to_string(reason) : errors;
  // Exit codes agree over the ranks: 1 if a server thread failed anywhere, else 130 if any
  // rank was interrupted.
  int ends[2] = {thread_error().empty() ? 0 : 1, g_interrupted ? 1 : 0};
  if (size > 1) MPI_Allreduce(MPI_IN_PLACE, ends, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  const int code = ends[0] ? 1 : (ends[1] ? 130 : 0);
  if (ends[1] && !ends[0]) outcome.stop_reason = "interrupted";
  if (rank != 0) return code;
  SURGE_REQUIRE(launcher->gave_up().empty(), IoError, "surge run: " << launcher->gave_up());
  outcome.members = launcher->members();
  write_study_results(study, outcome, trainer, validation);
  if (code == 1) {
    SURGE_LOG(log, error, "study stopped: " << errors);
    return code;
  }
  if (plots) make_plots(study.out_dir.string(), log);
  return code;
}

}  // namespace surge::experiments
