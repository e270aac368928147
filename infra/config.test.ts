import { validationErrorOf } from '../test/support/fixtures';
import { configFromContext, parseStackConfig, pipelineConfigOf } from './config';

const problems = (raw: unknown) => validationErrorOf(() => parseStackConfig(raw));

describe('stack configuration', () => {
  it('needs only the email addresses; everything else has a default', () => {
    const c = parseStackConfig({ notificationEmails: ['ops@example.com'] });
    expect(c.schedule).toEqual({ cron: 'cron(0 2 * * ? *)', enabled: true });
    expect(c.compute).toMatchObject({ spot: true, maxVcpus: 32, resize: { vcpu: 2, memoryMiB: 4096, timeoutMinutes: 240, attempts: 3 }, catalog: { storageGiB: 100 } });
    expect(parseStackConfig({ notificationEmails: ['ops@example.com'], compute: { catalog: { vcpu: 2, memoryMiB: 8192 } } }).compute.catalog.storageGiB).toBe(100);
    expect(c.backup.storageClass).toBe('STANDARD_IA');
    expect(c.presets).toHaveLength(4);
    expect(c.corpus.bucketName).toBeUndefined();
  });

  it.each([
    [{ schedule: { cron: 'cron(0 2 * * * *)' } }, 'nightshift.schedule.cron', 'exactly one of day-of-month'],
    [{ schedule: { cron: '0 2 * * *' } }, 'nightshift.schedule.cron', 'it is not written as cron(...)'],
    [{ schedule: { timeZone: 'Mars/Olympus' } }, 'nightshift.schedule.timeZone', 'an IANA time zone'],
    [{ presets: [{ name: 'thumb', width: 320, formats: [] }] }, 'nightshift.presets[0].formats', 'at least 1 item(s)'],
    [{ notificationEmails: ['ops at example'] }, 'nightshift.notificationEmails[0]', 'an email address'],
    [{ compute: { resize: { vcpu: 2, memoryMiB: 2048 } } }, 'nightshift.compute.resize.memoryMiB', 'a Fargate memory size for 2 vCPU: 4096-16384 MiB'],
    [{ compute: { resize: { vcpu: 3 } } }, 'nightshift.compute.resize.vcpu', "one of Fargate's vCPU sizes"],
    [{ compute: { backup: { vcpu: 0.25, memoryMiB: 1536 } } }, 'nightshift.compute.backup.memoryMiB', 'a Fargate memory size for 0.25 vCPU: 512, 1024 or 2048 MiB'],
    [{ corpus: { bucketName: 'My_Photos' } }, 'nightshift.corpus.bucketName', 'S3 bucket name'],
    [{ scheduel: {} }, 'nightshift.scheduel', 'no field named "scheduel"'],
    [{ corpus: { kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' } }, 'nightshift.corpus.kmsKeyArn', 'only with corpus.bucketName'],
    [{ corpus: { bucketName: 'photos', kmsKeyArn: 'alias/photos' } }, 'nightshift.corpus.kmsKeyArn', 'a KMS key ARN'],
    [{ corpus: { bucketName: 'photos', region: 'eu-west-1', kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' } }, 'nightshift.corpus.kmsKeyArn', "a key in the bucket's region eu-west-1"],
    [{ corpus: { bucketName: 'photos', region: 'Europe' } }, 'nightshift.corpus.region', 'an AWS region'],
    [{ compute: { catalog: { storageGiB: 500 } } }, 'nightshift.compute.catalog.storageGiB', 'a number <= 200'],
  ])('stops synth on %j naming the key, the value and the fix', (override, field, expected) => {
    const e = problems({ notificationEmails: ['ops@example.com'], ...override });
    const p = e.problems.find((x) => x.field === field);
    expect(p?.expected).toContain(expected);
    expect(e.message).toContain(field);
    expect(e.message).toContain('-c nightshift.<key>=<JSON value>');
  });

  it.each([
    [0.25, 512],
    [0.25, 2048],
    [0.5, 1024],
    [4, 30720],
    [16, 122880],
  ])('accepts Fargate\'s %s vCPU with %s MiB', (vcpu, memoryMiB) => {
    expect(parseStackConfig({ notificationEmails: ['ops@example.com'], compute: { backup: { vcpu, memoryMiB } } }).compute.backup).toMatchObject({ vcpu, memoryMiB });
  });

  it('gives the jobs the compute the plan sizes state timeouts and prices the run by (the same figures as the job definitions)', () => {
    const c = parseStackConfig({ notificationEmails: ['ops@example.com'], compute: { maxVcpus: 64, architecture: 'arm64', spot: false, resize: { vcpu: 4, memoryMiB: 8192, timeoutMinutes: 90, attempts: 2 } } });
    expect(pipelineConfigOf(c, { corpus: 'c-b', renditions: 'r-b', backup: 'b-b', work: 'w-b' }).compute).toEqual({
      maxVcpus: 64,
      executionTimeoutHours: 24,
      architecture: 'arm64',
      spot: false,
      catalog: { vcpu: 1, memoryMiB: 4096, timeoutMinutes: 120, attempts: 3 },
      backup: { vcpu: 0.5, memoryMiB: 1024, timeoutMinutes: 120, attempts: 3 },
      resize: { vcpu: 4, memoryMiB: 8192, timeoutMinutes: 90, attempts: 2 },
    });
  });

  it('refuses a catalogue order other than key, which nothing would read, saying why', () => {
    expect(problems({ notificationEmails: ['ops@example.com'], sort: { by: 'size' } }).problems).toEqual([
      { field: 'nightshift.sort.by', received: '"size"', expected: expect.stringContaining('the catalogue is always in S3 key order (the diff and the shard jobs need it)') },
    ]);
  });

  it('requires at least one email address', () => {
    expect(problems({}).problems[0]).toMatchObject({ field: 'nightshift.notificationEmails', received: '(missing)' });
  });

  it('reads cdk.json context and applies -c nightshift.<path> overrides (JSON or plain strings)', () => {
    const context: Record<string, unknown> = {
      nightshift: { notificationEmails: ['a@example.com'], schedule: { cron: 'cron(0 2 * * ? *)' } },
      'nightshift.schedule.cron': 'cron(30 1 * * ? *)',
      'nightshift.compute.maxVcpus': '64',
      'nightshift.notificationEmails': '["b@example.com","c@example.com"]',
    };
    const c = configFromContext((k) => context[k], Object.keys(context));
    expect(c.schedule.cron).toBe('cron(30 1 * * ? *)');
    expect(c.compute.maxVcpus).toBe(64);
    expect(c.notificationEmails).toEqual(['b@example.com', 'c@example.com']);
  });
});
