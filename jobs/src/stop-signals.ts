/**
 * The job's stop signals, handled from the process's first moment: jobs/src/main.ts imports this
 * module before any other, so its handlers exist before the SDK and the jobs load. In the
 * container the job runs as PID 1, and the kernel delivers to PID 1 only the signals it has a
 * handler for: a SIGTERM (Spot reclaim, a stopped job) that came before would be dropped, and
 * Batch's SIGKILL 30 s later (exit 137) would end the attempt instead of a retryable exit 143.
 * Fargate sends SIGTERM and waits before SIGKILL (Amazon ECS developer guide, "Task lifecycle";
 * docker's `--init` documents the PID 1 behaviour).
 *
 * Side-effect on import, on purpose; nothing but the job's entry point imports it.
 */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Aborted, with the signal's name as its reason, by the first stop signal. */
export const stopController = new AbortController();

for (const name of STOP_SIGNALS) {
  process.on(name, () => {
    if (!stopController.signal.aborted) stopController.abort(name);
  });
}
