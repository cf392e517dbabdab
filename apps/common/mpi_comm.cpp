// Comm on MPI (YOCO_WITH_MPI) or as a single rank (see mpi_comm.h).
#include "apps/common/mpi_comm.h"
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include "apps/common/cli.h"
#include "engine/cuda_runtime.h"
#include "kernels/common.h"
#if YOCO_WITH_MPI
#include <mpi.h>
#endif

namespace yoco::app {

namespace {
// The first of `names` set to an integer in the environment, else `fallback`.
int env_int(std::initializer_list<const char*> names, int fallback) {
  for (const char* n : names)
    if (const char* v = std::getenv(n); v && *v) return std::atoi(v);
  return fallback;
}
}  // namespace

int launcher_world_size() { return env_int({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"}, 0); }
int launcher_local_rank() {
  return env_int({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MPI_LOCAL_RANK", "SLURM_LOCALID"}, 0);
}

ClassShard class_shard(int64_t classes, int rank, int ranks) {
  return {classes * rank / ranks, classes * (rank + 1) / ranks};
}

Device select_rank_device(const std::string& flag) {
  if (flag.rfind("cuda:", 0) != 0) {
    const Device d = parse_device(flag);
    if (d == Device::CUDA && launcher_world_size() > 1)
      cudart::set_device(launcher_local_rank() % cudart::device_count());
    return d;
  }
  const std::string k = flag.substr(5);
  YOCO_CHECK(!k.empty() && k.size() < 4 && k.find_first_not_of("0123456789") == std::string::npos,
             "--device: expected cpu, cuda or cuda:K (K a GPU index), got '", flag, "'");
  const int n = cudart::device_count(), index = std::stoi(k);
  YOCO_CHECK(index < n, "--device ", flag, ": this machine has ", n, " CUDA device(s)");
  cudart::set_device(index);
  return parse_device("cuda");
}

void Comm::check_launch(const char* prog) const {
  YOCO_CHECK(launched_ <= 1 || initialised_, prog, " was started as one of ", launched_,
             " ranks (mpirun/srun), but this build has no MPI: configure with -DYOCO_WITH_MPI=ON (needs "
             "libopenmpi-dev) or start one process");
}

#if YOCO_WITH_MPI

namespace {
constexpr int kTagAsk = 7001, kTagTask = 7002;

// Waits for a request, sleeping between polls: a blocking MPI call would spin a core that a busy rank needs.
void wait_politely(MPI_Request* req) {
  for (int polls = 0;; ++polls) {
    int flag = 0;
    MPI_Test(req, &flag, MPI_STATUS_IGNORE);
    if (flag) return;
    if (polls > 100) std::this_thread::sleep_for(std::chrono::microseconds(polls > 2000 ? 2000 : 100));
  }
}

std::vector<std::vector<float>> unpack(const std::vector<float>& all, const std::vector<int>& counts) {
  std::vector<std::vector<float>> out;
  size_t at = 0;
  for (int c : counts) {
    out.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(at), all.begin() + static_cast<std::ptrdiff_t>(at + c));
    at += static_cast<size_t>(c);
  }
  return out;
}

std::vector<int> displacements(const std::vector<int>& counts) {
  std::vector<int> d(counts.size(), 0);
  for (size_t i = 1; i < counts.size(); ++i) d[i] = d[i - 1] + counts[i - 1];
  return d;
}
}  // namespace

Comm::Comm(int* argc, char*** argv) {
  launched_ = launcher_world_size();
  if (launched_ <= 0) return;  // not under a launcher: exactly the single-process program
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
  initialised_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  YOCO_CHECK(provided >= MPI_THREAD_SERIALIZED || size_ == 1,
             "this MPI library gives thread level ", provided, ", the work queue needs MPI_THREAD_SERIALIZED");
}

Comm::~Comm() {
  if (initialised_) MPI_Finalize();
}

void Comm::run_or_abort(const char* prog, const std::function<void()>& body) const {
  if (!distributed()) return body();
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: rank %d/%d: %s\n", prog, rank_, size_, user_message(e.what()).c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
}

bool Comm::any(bool flag) const {
  if (!distributed()) return flag;
  int mine = flag ? 1 : 0, all = 0;
  MPI_Request req;
  MPI_Iallreduce(&mine, &all, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD, &req);
  wait_politely(&req);
  return all != 0;
}

void Comm::barrier() const {
  if (!distributed()) return;
  MPI_Request req;
  MPI_Ibarrier(MPI_COMM_WORLD, &req);
  wait_politely(&req);
}

std::vector<std::vector<float>> Comm::allgather(const std::vector<float>& mine) const {
  if (!distributed()) return {mine};
  int n = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<size_t>(size_));
  MPI_Request req;
  MPI_Iallgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD, &req);
  wait_politely(&req);
  const std::vector<int> displ = displacements(counts);
  std::vector<float> all(static_cast<size_t>(displ.back() + counts.back()));
  MPI_Iallgatherv(mine.data(), n, MPI_FLOAT, all.data(), counts.data(), displ.data(), MPI_FLOAT, MPI_COMM_WORLD, &req);
  wait_politely(&req);
  return unpack(all, counts);
}

std::vector<std::vector<float>> Comm::gather(const std::vector<float>& mine) const {
  if (!distributed()) return {mine};
  int n = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<size_t>(size_));
  MPI_Request req;
  MPI_Igather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
  wait_politely(&req);
  std::vector<int> displ = displacements(counts);
  std::vector<float> all(rank_ == 0 ? static_cast<size_t>(displ.back() + counts.back()) : 0);
  MPI_Igatherv(mine.data(), n, MPI_FLOAT, all.data(), counts.data(), displ.data(), MPI_FLOAT, 0, MPI_COMM_WORLD, &req);
  wait_politely(&req);
  if (rank_ != 0) return {};
  return unpack(all, counts);
}

std::vector<double> Comm::gather(double mine) const {
  if (!distributed()) return {mine};
  std::vector<double> all(rank_ == 0 ? static_cast<size_t>(size_) : 0);
  MPI_Request req;
  MPI_Igather(&mine, 1, MPI_DOUBLE, all.data(), 1, MPI_DOUBLE, 0, MPI_COMM_WORLD, &req);
  wait_politely(&req);
  return all;
}

void Comm::run_queue(int64_t n, const std::function<std::string(int64_t)>& work,
                     const std::function<void(int64_t, const std::string&)>& done) const {
  if (!distributed()) {
    for (int64_t i = 0; i < n; ++i) done(i, work(i));
    return;
  }
  if (rank_ != 0) {
    // A worker: report the last result (task -1 at first) and ask for the next task, until told there is none.
    int64_t task = -1;
    std::string result;
    for (;;) {
      std::string msg(sizeof task, '\0');
      std::memcpy(msg.data(), &task, sizeof task);
      msg += result;
      MPI_Request req;
      MPI_Isend(msg.data(), static_cast<int>(msg.size()), MPI_BYTE, 0, kTagAsk, MPI_COMM_WORLD, &req);
      wait_politely(&req);
      MPI_Irecv(&task, 1, MPI_INT64_T, 0, kTagTask, MPI_COMM_WORLD, &req);
      wait_politely(&req);
      if (task < 0) break;
      result = work(task);
    }
    barrier();
    return;
  }
  // Rank 0: a dispatcher thread answers the workers (the only thread calling MPI meanwhile) while this thread
  // takes tasks from the same counter; done() runs under one lock from either thread.
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex done_lock;
  std::exception_ptr dispatcher_error;
  std::thread dispatcher([&] {
    try {
      for (int active = size_ - 1; active > 0 && !failed.load();) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, kTagAsk, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {
          std::this_thread::sleep_for(std::chrono::microseconds(500));
          continue;
        }
        int bytes = 0;
        MPI_Get_count(&st, MPI_BYTE, &bytes);
        std::string msg(static_cast<size_t>(bytes), '\0');
        MPI_Recv(msg.data(), bytes, MPI_BYTE, st.MPI_SOURCE, kTagAsk, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        int64_t finished = -1;
        std::memcpy(&finished, msg.data(), sizeof finished);
        if (finished >= 0) {
          std::lock_guard<std::mutex> g(done_lock);
          done(finished, msg.substr(sizeof finished));
        }
        int64_t task = next.fetch_add(1);
        if (task >= n) task = -1, --active;
        MPI_Send(&task, 1, MPI_INT64_T, st.MPI_SOURCE, kTagTask, MPI_COMM_WORLD);
      }
    } catch (...) {
      dispatcher_error = std::current_exception();
      failed.store(true);
    }
  });
  try {
    for (int64_t i; !failed.load() && (i = next.fetch_add(1)) < n;) {
      std::string r = work(i);
      std::lock_guard<std::mutex> g(done_lock);
      done(i, r);
    }
  } catch (...) {
    failed.store(true);
    dispatcher.join();
    throw;
  }
  dispatcher.join();
  if (dispatcher_error) std::rethrow_exception(dispatcher_error);
  barrier();
}

#else  // a single rank

Comm::Comm(int*, char***) { launched_ = launcher_world_size(); }
Comm::~Comm() = default;
void Comm::run_or_abort(const char*, const std::function<void()>& body) const { body(); }
bool Comm::any(bool flag) const { return flag; }
void Comm::barrier() const {}
std::vector<std::vector<float>> Comm::allgather(const std::vector<float>& mine) const { return {mine}; }
std::vector<std::vector<float>> Comm::gather(const std::vector<float>& mine) const { return {mine}; }
std::vector<double> Comm::gather(double mine) const { return {mine}; }
void Comm::run_queue(int64_t n, const std::function<std::string(int64_t)>& work,
                     const std::function<void(int64_t, const std::string&)>& done) const {
  for (int64_t i = 0; i < n; ++i) done(i, work(i));
}

#endif

}  // namespace yoco::app
