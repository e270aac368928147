/**
 * Test harness (run with tsx): the aggregate Lambda handler alone in its own process, so that its
 * peak memory can be read as Lambda would bill it. The environment carries the configuration and
 * the S3 endpoint. Prints {maxRssMb, ms, summary} as JSON on the last line.
 *
 *   tsx test/support/aggregate-run.ts <runId> [--promote-only]
 */
import { handler } from '../../functions/aggregate';

const started = Date.now();
handler({ runId: process.argv[2]!, trigger: 'cli', startedAt: new Date(started).toISOString(), ...(process.argv[3] === '--promote-only' ? { promoteOnly: true } : {}) }).then(
  (summary) => process.stdout.write(`${JSON.stringify({ maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024), ms: Date.now() - started, summary })}\n`),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exitCode = 1;
  },
);
