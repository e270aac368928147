/**
 * The job's stop signals, handled from the process's first moment: jobs/src/main.ts imports this
 * module before any other, so its handlers exist before the SDK and the jobs load. In the
 * container the job runs as PID 1, and the kernel delivers to PID 1 only the signals it has a
 * handler for: a SIGTERM (Spot reclaim, a stopped job) that came before would be dropped, and
 * Batch's SIGKILL 30 s later (exit 137) would end the attempt instead of a retryable exit 143.
 * Fargate stops a task with SIGTERM and SIGKILLs it after the stop timeout, 30 s by default (Amazon
 * ECS API reference, StopTask); the init of a PID namespace gets only the signals it has a handler
 * for (pid_namespaces(7)), which is why `docker run --init` exists.
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
