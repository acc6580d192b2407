#pragma once
// Portable loops over a box of cells of a 2D field: one team per row i, the team's threads
// and vector lanes over j, which is the contiguous index of Field2D (LayoutRight). On the
// host this compiles to a vectorised inner loop; on a GPU the lanes read coalesced memory.

#include <mpi.h>

#include <cmath>
#include <type_traits>

#include "surge/core/error.hpp"
#include "surge/solvers/kokkos_aliases.hpp"

namespace surge::solvers {

// Half-open local index box [i0, i1) x [j0, j1).
struct Box {
  int i0, i1, j0, j1;
  [[nodiscard]] bool empty() const noexcept { return i1 <= i0 || j1 <= j0; }
};

using RowPolicy = Kokkos::TeamPolicy<DevExec>;
using RowMember = RowPolicy::member_type;

// Marks a lane lambda to be inlined into for_independent_lanes' loop whatever its size (a
// Riemann solver's body exceeds the compiler's inlining limits, and a call in the loop keeps
// it from vectorising): `[&](int j) SURGE_INLINE_LANE { ... }`.
#if defined(__GNUC__)
#define SURGE_INLINE_LANE __attribute__((always_inline))
#else
#define SURGE_INLINE_LANE
#endif

// Calls f(j) for the lanes [j0, j1) of a row, for a body whose lanes are independent (each
// writes only its own elements and reads nothing another lane writes). On the Serial backend
// a team has one thread and TeamVectorRange's step is that run-time team size, which keeps
// the compiler from vectorising; this loop has a unit step and tells the compiler that the
// lanes are independent, so a row is vectorised without alias checks. Elsewhere: the team's
// threads and vector lanes.
template <class F>
KOKKOS_FORCEINLINE_FUNCTION void for_independent_lanes(const RowMember& team, int j0, int j1,
                                                       const F& f) {
#if defined(KOKKOS_ENABLE_SERIAL)
  if constexpr (std::is_same_v<DevExec, Kokkos::Serial>) {
#if defined(__clang__)
#pragma clang loop vectorize(assume_safety)
#elif defined(__GNUC__)
#pragma GCC ivdep
#endif
    for (int j = j0; j < j1; ++j) f(j);
  } else
#endif
  {
    Kokkos::parallel_for(Kokkos::TeamVectorRange(team, j0, j1), f);
  }
}

// Calls f(i, j) for every cell of the box.
template <class F>
void for_each_cell(const char* name, const Box& box, const F& f) {
  if (box.empty()) return;
  Kokkos::parallel_for(
      name, RowPolicy(box.i1 - box.i0, Kokkos::AUTO), KOKKOS_LAMBDA(const RowMember& team) {
        const int i = box.i0 + team.league_rank();
        Kokkos::parallel_for(Kokkos::TeamVectorRange(team, box.j0, box.j1),
                             [&](int j) { f(i, j); });
      });
}

// Returns the reduction over the box of f(i, j, partial), where f folds cell (i, j) into
// `partial` (a Reducer::value_type) and may also write. Reducer is a Kokkos reducer class
// (constructible from a value reference, with init and join), so any associative
// combination works: maxima, counts and first indices in one pass. Local to this rank.
template <class Reducer, class F>
typename Reducer::value_type reduce_over_cells(const char* name, const Box& box, const F& f) {
  using Value = typename Reducer::value_type;
  Value result;
  Reducer(result).init(result);
  if (box.empty()) return result;
  Kokkos::parallel_reduce(
      name, RowPolicy(box.i1 - box.i0, Kokkos::AUTO),
      KOKKOS_LAMBDA(const RowMember& team, Value& acc) {
        const int i = box.i0 + team.league_rank();
        Value row;
        Reducer(row).init(row);
        Kokkos::parallel_reduce(
            Kokkos::TeamVectorRange(team, box.j0, box.j1),
            [&](int j, Value& partial) { f(i, j, partial); }, Reducer(row));
        Kokkos::single(Kokkos::PerTeam(team), [&]() { Reducer(acc).join(acc, row); });
      },
      Reducer(result));
  return result;
}

// Returns the sum over the box of f(i, j) (f may also write, e.g. a fused update). The sum
// is local to this rank; callers reduce across ranks. Written out rather than through
// reduce_over_cells: with a plain double the Serial backend keeps the row loop tight, with
// Kokkos::Sum it does not (CG with plain sums ran at 0.68 instead of 1.0x).
template <class F>
double sum_over_cells(const char* name, const Box& box, const F& f) {
  double total = 0.0;
  if (box.empty()) return total;
  Kokkos::parallel_reduce(
      name, RowPolicy(box.i1 - box.i0, Kokkos::AUTO),
      KOKKOS_LAMBDA(const RowMember& team, double& acc) {
        const int i = box.i0 + team.league_rank();
        double row = 0.0;
        Kokkos::parallel_reduce(
            Kokkos::TeamVectorRange(team, box.j0, box.j1),
            [&](int j, double& partial) { partial += f(i, j); }, row);
        Kokkos::single(Kokkos::PerTeam(team), [&]() { acc += row; });
      },
      total);
  return total;
}

// Returns the largest |f(i, j)| over the box, 0 for an empty box (f may also write, like
// sum_over_cells).
template <class F>
double max_abs_over_cells(const char* name, const Box& box, const F& f) {
  const double largest = reduce_over_cells<Kokkos::Max<double>>(
      name, box, KOKKOS_LAMBDA(int i, int j, double& partial) {
        const double y = f(i, j);
        const double v = y < 0.0 ? -y : y;
        partial = v > partial ? v : partial;
      });
  return largest > 0.0 ? largest : 0.0;
}

// Partial sums of the folds of a reproducible sum, and the Kokkos reducer that adds them
// (used for the lanes of a row and for the rows of a rank alike).
struct FoldSums {
  static constexpr int kFolds = 3;
  double fold[kFolds];
};

struct FoldSumReducer {
  using reducer = FoldSumReducer;
  using value_type = FoldSums;
  using result_view_type = Kokkos::View<value_type, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>;

  KOKKOS_INLINE_FUNCTION explicit FoldSumReducer(value_type& value) : value_(&value) {}
  KOKKOS_INLINE_FUNCTION void join(value_type& dest, const value_type& src) const {
    for (int f = 0; f < FoldSums::kFolds; ++f) dest.fold[f] += src.fold[f];
  }
  KOKKOS_INLINE_FUNCTION void join(volatile value_type& dest,
                                   const volatile value_type& src) const {
    for (int f = 0; f < FoldSums::kFolds; ++f) dest.fold[f] += src.fold[f];
  }
  KOKKOS_INLINE_FUNCTION void init(value_type& v) const {
    for (int f = 0; f < FoldSums::kFolds; ++f) v.fold[f] = 0.0;
  }
  KOKKOS_INLINE_FUNCTION value_type& reference() const { return *value_; }
  result_view_type view() const { return result_view_type(value_); }
  KOKKOS_INLINE_FUNCTION bool references_scalar() const { return true; }

 private:
  value_type* value_;
};

// A global sum whose result does not depend on how the terms are split over ranks, teams
// or lanes, nor on the order they are added in (pre-rounded summation after Demmel and
// Nguyen, "Parallel reproducible summation", IEEE TC 2015). Given a bound >= every |term|
// and n terms in all, each term is split into kFolds pieces that are multiples of fixed
// powers of two (sigma = 1.5 * 2^k; (sigma + x) - sigma rounds x to ulp(sigma)); the pieces
// of one fold add up exactly in any order, so every fold sum is exact and the result is
// their sum in a fixed order. Each fold carries 52 - log2(n) bits: the error is below
// bound * n^4 * 2^-156. f(i, j) returns the term and may write (one fused pass).
template <class F>
double reproducible_sum(const char* name, const Box& box, const F& f, double bound, double n_terms,
                        MPI_Comm comm) {
  constexpr int kFolds = FoldSums::kFolds;
  double sigma[kFolds] = {0.0, 0.0, 0.0};
  if (bound > 0.0) {
    int e_bound = 0, e_n = 0;
    std::frexp(bound, &e_bound);  // bound < 2^e_bound
    std::frexp(n_terms, &e_n);    // n_terms < 2^e_n
    // 2^k > n * bound keeps every partial sum of a fold below 2^53 of its ulps; the
    // remainders stay below ulp(sigma) / 2, which sets the next fold the same way.
    for (int fold = 0, k = e_bound + e_n; fold < kFolds; ++fold, k += e_n - 52) {
      sigma[fold] = 1.5 * std::ldexp(1.0, k);
    }
  }
  const double s0 = sigma[0], s1 = sigma[1], s2 = sigma[2];
  const FoldSums local = reduce_over_cells<FoldSumReducer>(
      name, box, KOKKOS_LAMBDA(int i, int j, FoldSums& partial) {
        const double v = f(i, j);
        const double q0 = (s0 + v) - s0, r0 = v - q0;
        const double q1 = (s1 + r0) - s1, r1 = r0 - q1;
        partial.fold[0] += q0;
        partial.fold[1] += q1;
        partial.fold[2] += (s2 + r1) - s2;
      });
  if (!(bound > 0.0)) return 0.0;  // every term is zero (the pass still ran for its writes)
  double global[kFolds] = {0.0, 0.0, 0.0};
  // Exact multiples of ulp(sigma) far inside double range: MPI may add them in any order.
  SURGE_MPI_CHECK(MPI_Allreduce(local.fold, global, kFolds, MPI_DOUBLE, MPI_SUM, comm));
  return (global[0] + global[1]) + global[2];
}

}  // namespace surge::solvers
