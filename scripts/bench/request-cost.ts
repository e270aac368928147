/**
 * What one server-side copy costs the client in CPU, under each SDK configuration worth asking
 * about: the AWS SDK's CopyObjectCommand as the backup job sends it, through the client
 * createS3Client builds, and that client with one setting changed. All copy the same small objects
 * through the embedded S3 server, run in its own process so that its CPU is not counted. Rounds
 * alternate (A B C …, A B C …); medians are printed in µs of CPU (user + system) per request, with
 * each variant's difference from the job's client.
 *
 *   tsx scripts/bench/request-cost.ts [requests per round, default 4000] [rounds, default 3]
 *
 * Every variant is the SDK (no hand-written client: the SDK stays on every S3 path). A variant
 * that is faster is not thereby safe: `cacheMiddleware` is here to show what it would save, and
 * adapters/s3.ts says why the jobs do not use it.
 */
import { CopyObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { Logger } from '@smithy/types';
import pLimit from 'p-limit';
import { copySource } from '../../core/keys';
import { s3ClientConfig } from '../../adapters/s3';
import { startTestS3 } from '../../test/support/processes';
import { median } from './measure';

const IN_FLIGHT = 32;

/** Each variant: what it changes in the job's client configuration. */
const VARIANTS: readonly { readonly name: string; readonly what: string; readonly change: Partial<S3ClientConfig> }[] = [
  { name: 'job', what: "the jobs' client (createS3Client)", change: {} },
  { name: 'cache-middleware', what: 'cacheMiddleware: true (unsafe: see adapters/s3.ts)', change: { cacheMiddleware: true } },
  { name: 'sdk-standard-retry', what: "the SDK's standard retry strategy (with its quota) for ours", change: { retryStrategy: undefined, retryMode: 'standard' } },
  { name: 'sdk-adaptive-retry', what: "the SDK's adaptive retry strategy (with its quota) for ours", change: { retryStrategy: undefined, retryMode: 'adaptive' } },
  { name: 'no-region-redirects', what: 'followRegionRedirects: false', change: { followRegionRedirects: false } },
  { name: 'checksums-when-required', what: "request and response checksums 'WHEN_REQUIRED'", change: { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } },
  { name: 'sockets-32', what: 'maxSockets 32 (the requests in flight) for 64', change: { requestHandler: { httpAgent: { maxSockets: IN_FLIGHT } } } },
  // The SDK's logger middleware filters every request's input and output for its `info` call, even
  // into the default no-op logger; a logger without `info` skips that (`logger?.info?.(…)`).
  { name: 'logger-without-info', what: 'a logger with no info method for the no-op default', change: { logger: { debug: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger } },
];

async function main(): Promise<void> {
  const requests = Number(process.argv[2] ?? 4000);
  const rounds = Number(process.argv[3] ?? 3);
  if (!Number.isInteger(requests) || requests < 1 || !Number.isInteger(rounds) || rounds < 1) throw new Error('usage: request-cost [requests per round] [rounds]');
  const server = await startTestS3(['src', 'dst']);
  const clients = VARIANTS.map((v) => new S3Client({ ...s3ClientConfig({ endpoint: server.endpoint, maxAttempts: 3 }, {}), ...v.change }));
  try {
    const keys = Array.from({ length: requests }, (_, i) => `archive/${String(i % 50).padStart(2, '0')}/doc-${i}.jpg`);
    const fill = pLimit(IN_FLIGHT);
    await Promise.all(keys.map((Key, i) => fill(() => server.s3.send(new PutObjectCommand({ Bucket: 'src', Key, Body: Buffer.alloc(2048, i % 251) })))));
    const copy = (s3: S3Client, key: string) => s3.send(new CopyObjectCommand({ Bucket: 'dst', Key: key, CopySource: copySource('src', key), StorageClass: 'STANDARD', MetadataDirective: 'COPY' }));

    // One unmeasured round each, so that no variant pays V8's warm-up for the others.
    for (const s3 of clients) await Promise.all(keys.slice(0, 500).map((key) => fill(() => copy(s3, key))));
    const samples = VARIANTS.map(() => [] as number[]);
    for (let round = 0; round < rounds; round++) {
      for (const [i, s3] of clients.entries()) {
        const limit = pLimit(IN_FLIGHT);
        const cpu = process.cpuUsage();
        await Promise.all(keys.map((key) => limit(() => copy(s3, key))));
        const used = process.cpuUsage(cpu);
        samples[i]!.push((used.user + used.system) / requests);
      }
    }
    const base = median(samples[0]!);
    for (const [i, v] of VARIANTS.entries()) {
      const m = median(samples[i]!);
      const diff = i === 0 ? '' : ` (${m >= base ? '+' : ''}${(((m - base) / base) * 100).toFixed(0)} %)`;
      process.stdout.write(`${v.name.padEnd(24)} ${m.toFixed(0).padStart(4)} µs CPU per CopyObject${diff}  rounds: ${samples[i]!.map((s) => s.toFixed(0)).join(', ')}  ${v.what}\n`);
    }
    process.stdout.write(`${requests} copies a round, ${IN_FLIGHT} in flight, ${rounds} rounds, alternating\n`);
  } finally {
    for (const s3 of clients) s3.destroy();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
