/**
 * What one server-side copy costs the client in CPU: the AWS SDK's CopyObjectCommand (as the backup
 * job sends it) against the least a Node client can do, a bare node:http PUT with the same headers
 * and a SigV4 signature made with node:crypto, over a keep-alive agent. Both copy the same small
 * objects through the embedded S3 server, run in its own process so that its CPU is not counted.
 * Rounds alternate (SDK, bare, SDK, bare, …); medians are printed in µs of CPU (user + system) per
 * request. The backup target's issue note reads its figures from
 *
 *   tsx scripts/bench/request-cost.ts [requests per round, default 4000] [rounds, default 3]
 *
 * The bare client exists only here, to measure a floor: it has no retries, no credential chain,
 * no error parsing, and the job never uses it.
 */
import { createHash, createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';
import { CopyObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { copySource } from '../../core/keys';
import { startTestS3 } from '../../test/support/processes';

const IN_FLIGHT = 32;
const REGION = 'us-east-1';
const ACCESS_KEY = 'nightshift';
const SECRET_KEY = 'nightshift';

async function main(): Promise<void> {
  const requests = Number(process.argv[2] ?? 4000);
  const rounds = Number(process.argv[3] ?? 3);
  if (!Number.isInteger(requests) || requests < 1 || !Number.isInteger(rounds) || rounds < 1) throw new Error('usage: request-cost [requests per round] [rounds]');
  const server = await startTestS3(['src', 'dst']);
  try {
    const s3 = server.s3;
    const keys = Array.from({ length: requests }, (_, i) => `archive/${String(i % 50).padStart(2, '0')}/doc-${i}.jpg`);
    const fill = pLimit(IN_FLIGHT);
    await Promise.all(keys.map((Key, i) => fill(() => s3.send(new PutObjectCommand({ Bucket: 'src', Key, Body: Buffer.alloc(2048, i % 251) })))));

    const sdk = (key: string) => s3.send(new CopyObjectCommand({ Bucket: 'dst', Key: key, CopySource: copySource('src', key), StorageClass: 'STANDARD', MetadataDirective: 'COPY' })).then(() => undefined);
    const bare = bareCopier(server.endpoint);
    const samples: Record<'sdk' | 'bare', number[]> = { sdk: [], bare: [] };
    for (let round = 0; round < rounds; round++) {
      for (const [name, copy] of [['sdk', sdk], ['bare', bare]] as const) {
        const limit = pLimit(IN_FLIGHT);
        const cpu = process.cpuUsage();
        await Promise.all(keys.map((key) => limit(() => copy(key))));
        const used = process.cpuUsage(cpu);
        samples[name].push((used.user + used.system) / requests);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    for (const name of ['sdk', 'bare'] as const) {
      process.stdout.write(`${name.padEnd(4)}  ${median(samples[name]).toFixed(0)} µs CPU per CopyObject (rounds: ${samples[name].map((s) => s.toFixed(0)).join(', ')}; ${requests} requests, ${IN_FLIGHT} in flight)\n`);
    }
  } finally {
    await server.stop();
  }
}

/** A bare SigV4-signed CopyObject over node:http: the floor for any Node client, not a client. */
function bareCopier(endpoint: string): (key: string) => Promise<void> {
  const url = new URL(endpoint);
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
  return (key) => {
    const path = `/dst/${key.split('/').map(encodeURIComponent).join('/')}`;
    const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    const day = amzDate.slice(0, 8);
    const headers: Record<string, string> = {
      host: url.host,
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      'x-amz-copy-source': copySource('src', key),
      'x-amz-date': amzDate,
      'x-amz-metadata-directive': 'COPY',
      'x-amz-storage-class': 'STANDARD',
    };
    const names = Object.keys(headers).sort();
    const canonical = ['PUT', path, '', ...names.map((n) => `${n}:${headers[n]}`), '', names.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
    const scope = `${day}/${REGION}/s3/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
    const signingKey = hmac(hmac(hmac(hmac(`AWS4${SECRET_KEY}`, day), REGION), 's3'), 'aws4_request');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/${scope}, SignedHeaders=${names.join(';')}, Signature=${hmac(signingKey, toSign).toString('hex')}`;
    return new Promise((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, method: 'PUT', path, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200 && body.includes('<CopyObjectResult')) resolve();
          else reject(new Error(`bare CopyObject of ${key}: HTTP ${res.statusCode} ${body.slice(0, 200)}`));
        });
      });
      req.on('error', reject);
      req.end();
    });
  };
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
