// jemalloc's options for the programs that link it (the surge server, the benchmarks that
// measure its paths): read by jemalloc at start-up from this symbol, before MALLOC_CONF, which
// still overrides them.
//
// narenas:1 -- one automatic arena for every thread. The samples a reader or receiver thread
// builds (a 64^2 field is 16 KiB: a "large" allocation in jemalloc, above its 14 KiB slabs) are
// freed by the trainer's thread; with an arena per thread (8 on 2 cores) every sample crossed
// arenas twice and surge train's reader ran at 0.28-0.36 of its bound (bench_offline_reader,
// 2026-12-07) against 0.70-0.76 with one arena, as with glibc's malloc. The trainer's own
// temporaries come from the training arena (core/allocator.hpp), which this does not change.
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's.
const char* malloc_conf = "narenas:1";
}
