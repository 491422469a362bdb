// Lowering the CPU priority of the calling thread, for work that should take only the time others leave idle.
//
// Why: `yoco summarize` is bound by the source's decoder (FFmpeg's frame threads), while the stream's own
// threads (ingest, caption evaluation) are batch work whose queues absorb delay. At equal priority they
// preempt the decoder's threads, and a frame-threaded decoder stalls whenever one of its threads waits for
// another's progress; at a lower priority they fill the decoder's idle gaps instead, and still get the CPU
// whenever the decoder blocks on a full queue (a lower priority is not starvation: the queues are bounded).
//
// Thread safety: acts on the calling thread only.
#pragma once

namespace yoco::pipeline {

// Adds `increment` (1..19) to the calling thread's nice value (Linux: per thread; capped at 19). Returns the
// thread's nice value afterwards, or nothing changes and -100 is returned where threads cannot be reniced
// (not Linux, or the call failed). Lowering never needs privileges.
int lower_thread_priority(int increment);

// The calling thread's nice value (-100 where unknown).
int thread_nice();

}  // namespace yoco::pipeline
