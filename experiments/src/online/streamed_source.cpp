// The streamed ensemble as a sample source (streamed_source.hpp; experiments/README.md, "What
// happens"): the stream bound on every rank, the members launched by rank 0, the validation
// set gathered, study checkpoints, and what results.h5 records of the ensemble.
#include "online/streamed_source.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "members/member_commands.hpp"
#include "members/study_launcher.hpp"
#include "online/admission.hpp"
#include "online/study_results.hpp"
#include "pipeline/interrupt.hpp"
#include "study/server_mpi.hpp"
#include "study/study_keys.hpp"
#include "surge/core/atomic_file.hpp"
#include "surge/core/log.hpp"
#include "surge/core/mpi.hpp"
#include "surge/streaming/member_environment.hpp"

namespace surge::experiments {

namespace fs = std::filesystem;

namespace {

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

}  // namespace

StreamedSource::StreamedSource(const Study& study, std::optional<ResumePoint> resume,
                               reservoir::Buffer<reservoir::Sample>& buffer,
                               const surrogates::Trainer& trainer, std::vector<int> member_cpus)
    : study_(study),
      resume_(std::move(resume)),
      buffer_(buffer),
      trainer_(trainer),
      rank_(core::comm_rank(MPI_COMM_WORLD)),
      size_(core::comm_size(MPI_COMM_WORLD)),
      member_cpus_(std::move(member_cpus)) {
  bind_stream();
  ReceptionState restored;
  if (resume_) restored = read_rank_state(resume_->checkpoint, rank_, buffer_);
  const std::set<std::uint64_t> ended = ended_on_any_rank(restored.ended);
  make_feeder(std::move(restored));
  // Every rank draws the same (seeded) table, so every rank knows the first members' roles;
  // rank 0's table goes on drawing the redrawn members.
  table_ = resume_ ? std::make_unique<MemberTable>(study_, resume_->record.table,
                                                   resume_->record.members)
                   : std::make_unique<MemberTable>(study_);
  const std::vector<MemberRecord> first = resume_ ? resume_->record.members : table_->initial();
  for (const auto& m : first) control_->set_role(m.simulation_id, m.role);
  if (rank_ == 0) make_launcher(first, ended);
  start_control();
  feeder_->start();
}

StreamedSource::~StreamedSource() { shutdown(); }

// The receiver, the control channel and (rank 0) the front, with the study's admission key
// and CURVE keys; every rank learns every rank's endpoints.
void StreamedSource::bind_stream() {
  const ExperimentConfig& cfg = study_.cfg;
  core::Logger log("run");
  streaming::ReceiverConfig receiver_cfg = cfg.streaming;
  receiver_cfg.experiment = cfg.study.name;
  for (const auto& f : study_.facts.layout) receiver_cfg.fields.push_back(f.name);
  // Only members this study launched, announcing what its solver streams, get in.
  receiver_cfg.require_tickets = true;
  receiver_cfg.expected = member_expectations(study_);
  raise_file_limit(log);
  std::vector<std::int64_t> key_holder;
  if (rank_ == 0) key_holder.push_back(static_cast<std::int64_t>(streaming::make_admission_key()));
  bcast_vector(key_holder);  // every rank has checked its inputs once this returns
  const auto key = static_cast<std::uint64_t>(key_holder.at(0));
  // CURVE keys (study_keys.hpp): rank 0 makes them before any member starts.
  const ServerKeys keys = share_server_keys(study_);
  if (keys.streaming.on()) receiver_cfg.curve = keys.streaming;
  receiver_ =
      std::make_unique<streaming::Receiver>(receiver_cfg, key, static_cast<std::uint32_t>(rank_));
  control_ =
      std::make_unique<ServerControl>(rank_, size_, receiver_cfg.data_endpoint, keys.control);
  const std::string mine = receiver_->endpoint() + "\n" + control_->endpoint();
  for (const auto& bytes : gather_bytes(std::vector<char>(mine.begin(), mine.end()))) {
    const std::string text(bytes.begin(), bytes.end());
    data_endpoints_.push_back(text.substr(0, text.find('\n')));
    control_endpoints_.push_back(text.substr(text.find('\n') + 1));
  }
  if (rank_ != 0) return;
  front_ = std::make_unique<streaming::Front>(receiver_cfg, key, data_endpoints_);
  if (resume_) {
    for (const auto& [sim, r] : resume_->record.assignment)
      front_->assign(sim, static_cast<std::uint32_t>(r));
  }
  SURGE_LOG(log, info,
            "study '" << cfg.study.name << "': server listening on " << front_->endpoint() << " ("
                      << size_ << " server rank" << (size_ > 1 ? "s" : "") << "), output in "
                      << study_.out_dir.string());
}

// The feeder (started once the members' roles are known): fields -> samples.
void StreamedSource::make_feeder(ReceptionState restored) {
  FeederSetup setup;
  setup.layout = study_.facts.layout;
  setup.nodes = static_cast<std::size_t>(study_.facts.grid[0] * study_.facts.grid[1]);
  setup.frames = static_cast<std::int64_t>(study_.facts.times.size());
  setup.next_step = study_.next_step;
  setup.stride = study_.io.stride;
  setup.throw_at = feeder_throw_at(rank_);
  setup.x_size = study_.facts.parameter_names.size() + (study_.next_step ? 0 : 1);
  feeder_ = std::make_unique<Feeder>(setup, *receiver_, *control_, buffer_, interrupt_flag());
  feeder_->restore(std::move(restored));
}

// Rank 0's launcher of the members (not started), with the hooks it calls back: how long a
// member has been silent, a redraw that frees what every rank holds of the failed member,
// the delivery check, each launch's environment and ticket.
void StreamedSource::make_launcher(const std::vector<MemberRecord>& first,
                                   const std::set<std::uint64_t>& ended) {
  std::vector<MemberRecord> members = resume_ ? resumed_members(first, ended) : first;
  const std::string front_endpoint = front_->endpoint();
  write_endpoint_file(study_, front_endpoint);
  // Seconds since any server rank last heard of the member (the others report to rank 0).
  auto silence = [this](std::uint64_t id) {
    double quiet = control_->remote_silence(id);
    const auto now = streaming::Clock::now();
    for (const auto& s : receiver_->members()) {
      if (s.simulation != id) continue;
      const double q = std::chrono::duration<double>(now - s.last_seen).count();
      quiet = quiet < 0 ? q : std::min(quiet, q);
    }
    return quiet;
  };
  auto redraw = [this](const MemberRecord& failed) {
    // The failed member's admission goes, and what every rank holds of it.
    front_->revoke(failed.simulation_id);
    (void)receiver_->forget(failed.simulation_id);
    feeder_->forget(failed.simulation_id);
    control_->announce_forget(failed.simulation_id);
    MemberRecord m = table_->draw(failed.role);
    control_->announce_role(m.simulation_id, m.role);
    return m;
  };
  LocalLauncher::Hooks hooks;
  hooks.delivery = [check = delivery_check(*front_, *feeder_, *control_,
                                           static_cast<std::int64_t>(study_.facts.times.size())),
                    this](std::uint64_t id) {
    LocalLauncher::Delivery d = check(id);
    if (d.missing.empty()) front_->revoke(id);  // done: no more handshakes for it
    return d;
  };
  hooks.environment = [this, front_endpoint](const MemberRecord& m, int) {
    return member_environment(study_, front_endpoint, m,
                              issue_member_ticket(*front_, m.simulation_id));
  };
  hooks.cpus = member_cpus_;
  launcher_ = experiments::make_launcher(study_, std::move(members), front_endpoint, silence,
                                         redraw, std::move(hooks));
  if (study_.cfg.parameters.continuous || table_->adaptive()) {
    // The sampler's next points, announced to every rank as redrawn members are: without end
    // (continuous), or until the study's count is drawn (an adaptive sampler's later
    // generations).
    launcher_->keep_drawing(
        [this](bool) -> std::optional<MemberRecord> {
          std::optional<MemberRecord> m = table_->draw_planned();
          if (m) control_->announce_role(m->simulation_id, m->role);
          return m;
        },
        [this] { return table_->planned_exhausted(); });
  }
}

// The control channel between the ranks: liveness and deliveries reported to rank 0, which
// tells each rank, once the launcher has finished, which members that ended cleanly it had
// (their END must be seen before reception is over), and which ones to forget.
void StreamedSource::start_control() {
  ServerControl::Hooks hooks;
  if (rank_ == 0) {
    hooks.final_lists = [this]() -> std::optional<std::vector<std::vector<std::uint64_t>>> {
      if (!launcher_->finished()) return std::nullopt;
      std::vector<std::vector<std::uint64_t>> lists(static_cast<std::size_t>(size_));
      for (const auto& m : launcher_->members()) {
        if (m.status != MemberStatus::done) continue;
        const int r = front_->assigned_rank(m.simulation_id);
        if (r >= 0 && r < size_) lists[static_cast<std::size_t>(r)].push_back(m.simulation_id);
      }
      return lists;
    };
  }
  hooks.liveness = [this] { return receiver_->members(); };
  hooks.deliveries = [this] { return feeder_->delivered(); };
  hooks.forget = [this](std::uint64_t id) {
    (void)receiver_->forget(id);
    feeder_->forget(id);
  };
  control_->start(control_endpoints_, std::move(hooks));
}

void StreamedSource::start() {
  if (launcher_) launcher_->start();
}

// Rank 0 says which validation members ended cleanly and on which rank; each rank waits for
// the ends of its own, then every rank gets the whole set.
std::vector<reservoir::Sample> StreamedSource::validation() {
  core::Logger log("run");
  std::vector<reservoir::Sample> samples;
  if (resume_) {
    samples = resume_->record.validation;
  } else {
    wait_for_validation_members();
    samples = allgather_samples(feeder_->validation());
  }
  SURGE_LOG(log, info,
            "validation set: " << samples.size() << " samples from "
                               << study_.cfg.parameters.validation_members << " members; training "
                               << (resume_ ? "continues from batch " : "starts at batch ")
                               << trainer_.batches());
  return samples;
}

void StreamedSource::wait_for_validation_members() {
  std::vector<std::int64_t> plan;  // gave up (0/1), then (simulation, rank) pairs
  if (rank_ == 0) {
    while (!launcher_->role_finished(MemberRole::validation) && !interrupted() &&
           launcher_->gave_up().empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    plan.push_back(launcher_->gave_up().empty() ? 0 : 1);
    for (const auto& m : launcher_->members()) {
      if (m.role != MemberRole::validation || m.status != MemberStatus::done) continue;
      plan.push_back(static_cast<std::int64_t>(m.simulation_id));
      plan.push_back(front_->assigned_rank(m.simulation_id));
    }
  }
  bcast_vector(plan);
  if (plan.at(0) != 0) {
    SURGE_THROW(IoError, "surge run: " << (launcher_ ? launcher_->gave_up()
                                                     : "the launcher on server rank 0 gave up"));
  }
  while (!interrupted() && !feeder_->over()) {
    bool all = true;
    for (std::size_t i = 1; i + 1 < plan.size(); i += 2) {
      if (plan[i + 1] == rank_ && !feeder_->has_ended(static_cast<std::uint64_t>(plan[i])))
        all = false;
    }
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string StreamedSource::error() const {
  std::string e = feeder_->error();
  return e.empty() ? control_->error() : e;
}

void StreamedSource::stop() {
  std::lock_guard<std::mutex> lock(stop_mutex_);
  if (launcher_) launcher_->stop();
}

// Unless study.wait_for_members, data nobody will train on is not worth waiting for: the
// members still running are ended (status stopped) and pending ones never start. Reception is
// then over once the ends of the members done have been seen; what the stopped ones delivered
// until then is counted, by member and in total alike.
bool StreamedSource::training_ended(const char* why) {
  const bool stop_members = !study_.cfg.study.wait_for_members;
  core::Logger log("run");
  SURGE_LOG(
      log, info,
      "training stopped (" << why << ") before reception ended; "
                           << (stop_members ? "stopping the members"
                                            : "waiting for members (study.wait_for_members)"));
  if (stop_members) stop();
  return stop_members;
}

// The control thread reads the feeder's deliveries: it stops before the feeder goes.
void StreamedSource::shutdown() {
  stop();
  if (control_) control_->stop();
  if (feeder_) feeder_->stop();
}

void StreamedSource::after_batch(const surrogates::TrainingRecord& record) {
  // A gather of one entry per member: cheap, but not worth doing every batch.
  constexpr std::int64_t kLossRefreshBatches = 10;
  if (!table_->adaptive() || record.batch % kLossRefreshBatches != 0) return;
  const surrogates::MemberLosses losses = reduce_member_losses(trainer_.member_losses());
  if (rank_ == 0) table_->observe(losses);
}

std::string StreamedSource::progress(const surrogates::TrainingRecord& r) const {
  if (!launcher_) return {};
  const auto c = launcher_->counts();
  // Refused handshakes, dropped messages and fields on rank 0: shown once any.
  std::uint64_t rejected = receiver_->stats().rejected_total();
  for (const auto n : front_->stats().refused) rejected += n;
  rejected += static_cast<std::uint64_t>(feeder_->rejected());
  const std::string rejected_text =
      rejected > 0 ? ", " + std::to_string(rejected) + " rejected" : std::string();
  char detail[320];
  std::snprintf(detail, sizeof detail,
                "loss %.3e, members %d done %d running %d failed, %lld samples in%s, %.0f "
                "samples/s%s",
                r.loss, c.done, c.running, c.failed, static_cast<long long>(feeder_->received()),
                size_ > 1 ? " on rank 0" : "", r.samples_per_second, rejected_text.c_str());
  return detail;
}

LiveMembers StreamedSource::describe_live() const {
  if (!launcher_) return {};
  LiveMembers m = live_members(launcher_->members(), feeder_->samples(), study_.range_names);
  // The feeder counts this rank's samples; the others' reach rank 0 only at the end.
  if (size_ > 1) m.samples_scope = "server rank 0 of " + std::to_string(size_);
  return m;
}

void StreamedSource::write_checkpoint(double elapsed_s,
                                      const surrogates::ValidationSet& validation) {
  StudyRecord r;
  r.batch = trainer_.batches();
  r.server_ranks = size_;
  r.elapsed_seconds = elapsed_s;
  r.source_file = fs::absolute(study_.source.file).string();
  r.experiment = core::to_yaml_text(study_.input);
  r.parameter_names = study_.range_names;
  r.fields = study_.io.fields;
  if (launcher_) {
    r.members = launcher_->members();
    r.table = table_->position();
    for (const auto& m : r.members) {
      const int k = front_->assigned_rank(m.simulation_id);
      if (k >= 0) r.assignment[m.simulation_id] = k;
    }
  }
  r.validation = validation.samples;
  r.member_losses = reduce_member_losses(trainer_.member_losses());
  try {
    (void)write_study_checkpoint(study_.out_dir / "checkpoints", r, trainer_, *feeder_, buffer_,
                                 study_.cfg.study.checkpoints_kept);
  } catch (const std::exception& e) {
    core::Logger log("run");
    SURGE_LOG(log, warn, "study checkpoint failed: " << e.what());
  }
}

std::string StreamedSource::describe_errors(const std::vector<std::string>& by_rank) const {
  std::string all;
  for (std::size_t k = 0; k < by_rank.size(); ++k) {
    if (by_rank[k].empty()) continue;
    if (!all.empty()) all += "; ";
    all += "server rank " + std::to_string(k) + ": " + by_rank[k];
  }
  return all;
}

RunSummary StreamedSource::summarise(double seconds, const std::string& stop_reason) {
  const ServerTotals totals =
      reduce_to_rank0(feeder_->samples(), feeder_->received(), buffer_.statistics());
  auto counters = streaming_counters(front_.get(), *receiver_, *feeder_, *control_);
  RunSummary summary;
  if (rank_ != 0) return summary;
  SURGE_REQUIRE(launcher_->gave_up().empty(), IoError, "surge run: " << launcher_->gave_up());
  summary.study = study_.cfg.study.name;
  summary.resolved_config = study_.resolved_text;
  summary.mesh = study_.facts.mesh;
  summary.parameter_names = study_.range_names;
  summary.members = launcher_->members();
  summary.samples = totals.samples;
  summary.server_ranks = totals.ranks;
  summary.reservoir_policy = study_.cfg.reservoir.type;
  summary.reservoir = totals.statistics;
  summary.seconds = seconds;
  summary.stop_reason = stop_reason;
  summary.rejected_fields = feeder_->rejected();
  for (const auto n : front_->stats().refused) summary.refused_handshakes += n;
  summary.streaming = std::move(counters);
  return summary;
}

void StreamedSource::report(const RunSummary& summary, const StudyOutputs& outputs,
                            std::int64_t batches, int code) const {
  print_study_summary(study_, summary, batches, outputs);
  if (code == 1) {
    core::Logger log("run");
    SURGE_LOG(log, error, "study stopped: " << summary.stop_reason);
  }
}

}  // namespace surge::experiments
