// The process group of a scale-out run: MPI_COMM_WORLD when built with MPI and started by mpirun/srun, else one rank.
#pragma once
#include <functional>
#include <string>
#include <vector>
#include "engine/tensor.h"

namespace yoco::app {

// Ranks the launcher's environment says this job has (OMPI_COMM_WORLD_SIZE, PMI_SIZE, SLURM_NTASKS); 0 when
// the process was not started by an MPI launcher.
int launcher_world_size();
// This process's rank on its node (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID, SLURM_LOCALID), 0 without: one
// rank per GPU picks device local_rank % device_count.
int launcher_local_rank();

// One per process, made first thing in main and passed down explicitly (never a global). Without MPI, or when the
// process was not started by a launcher, it is the one rank 0 of 1 and every call below is a local no-op. Every
// collective must be called by all ranks in the same order; waits sleep between polls, so idle ranks leave the
// cores to busy ones (the machine may hold more ranks than cores).
class Comm {
 public:
  Comm() = default;                // one rank; never touches MPI (libraries' default when given no Comm)
  Comm(int* argc, char*** argv);   // MPI_Init when a launcher started this process
  ~Comm();
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool distributed() const { return size_ > 1; }
  // Throws a one-line Error when a launcher started several ranks of a build without MPI (each would redo the
  // whole run and overwrite the others' files).
  void check_launch(const char* prog) const;
  // Runs body; when it throws on any rank of a distributed run, prints one line naming the program, the rank and
  // the cause, and ends the whole job (MPI_Abort, exit code 1) instead of leaving the other ranks waiting.
  // Single-rank runs rethrow (run_cli prints the line).
  void run_or_abort(const char* prog, const std::function<void()>& body) const;

  bool any(bool flag) const;  // logical OR over the ranks
  void barrier() const;
  // Every rank's `mine`, in rank order, on every rank.
  std::vector<std::vector<float>> allgather(const std::vector<float>& mine) const;
  // Every rank's `mine`, in rank order, on rank 0 (other ranks get an empty list).
  std::vector<std::vector<float>> gather(const std::vector<float>& mine) const;
  std::vector<double> gather(double mine) const;

  // Runs tasks 0..n-1 over the ranks: rank 0 keeps the queue and hands the next task to whichever rank asks
  // (so uneven tasks balance) while working through tasks itself. work(i) runs on the rank that took task i and
  // returns its result; done(i, result) runs on rank 0 for every task, one at a time, in completion order.
  // Returns on every rank once all tasks are done. work may throw: run_or_abort then ends the job.
  void run_queue(int64_t n, const std::function<std::string(int64_t)>& work,
                 const std::function<void(int64_t, const std::string&)>& done) const;

 private:
  int rank_ = 0, size_ = 1;
  int launched_ = 0;  // launcher_world_size() at start
  bool initialised_ = false;
};

// --device for a rank: cpu | cuda | cuda:K. cuda:K makes GPU K this process's device; plain cuda under a
// launcher picks GPU launcher_local_rank() % (GPUs on the node), so one rank per GPU needs no per-rank flags.
Device select_rank_device(const std::string& flag);

// Contiguous block of classes a rank owns in a class-sharded run: [K·r/R, K·(r+1)/R) (floor division), so the
// blocks differ by at most one class and rank order is class order.
struct ClassShard {
  int64_t begin = 0, end = 0;
};
ClassShard class_shard(int64_t classes, int rank, int ranks);

}  // namespace yoco::app
