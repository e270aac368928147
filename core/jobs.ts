/** The Batch jobs: the container's first argument (`main.js <job>`), one job definition each. */
export const JOB_NAMES = ['catalog', 'backup', 'resize'] as const;
export type JobName = (typeof JOB_NAMES)[number];
