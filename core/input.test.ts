import { parsePipelineConfig } from './config';
import { parseRunInput } from './input';
import { validationErrorOf } from '../test/support/fixtures';

const config = parsePipelineConfig({ buckets: { corpus: 'corpus-b', renditions: 'renditions-b', backup: 'backup-b', work: 'work-b' } });


describe('run input', () => {
  it('applies every default to an empty object (what the schedule sends)', () => {
    expect(parseRunInput({}, config)).toEqual({ prefix: '', operations: ['backup', 'resize'], presets: ['large', 'web', 'small', 'thumb'], dryRun: false, full: false, force: false, confirmPrune: false });
    expect(parseRunInput(undefined, config).operations).toEqual(['backup', 'resize']);
  });

  it('keeps what the console asked for', () => {
    expect(parseRunInput({ prefix: '2026/11/', operations: ['resize'], presets: ['thumb'], dryRun: true }, config)).toEqual({
      prefix: '2026/11/',
      operations: ['resize'],
      presets: ['thumb'],
      dryRun: true,
      full: false,
      force: false,
      confirmPrune: false,
    });
  });

  it('takes force only with full, saying what each does', () => {
    expect(parseRunInput({ full: true, force: true }, config)).toMatchObject({ full: true, force: true });
    const e = validationErrorOf(() => parseRunInput({ force: true }, config));
    expect(e.problems).toEqual([{ field: 'input.force', received: 'true', expected: expect.stringContaining('"full": true beside it') }]);
    expect(e.message).toContain('{"full": true, "force": true}');
  });

  it('names the field, the value received and what is allowed for an unknown operation', () => {
    const e = validationErrorOf(() => parseRunInput({ operations: ['resize', 'rezise'] }, config));
    expect(e.problems).toEqual([{ field: 'input.operations[1]', received: '"rezise"', expected: 'one of "backup", "resize"' }]);
    expect(e.message).toContain('input.operations[1]: expected one of "backup", "resize", received "rezise"');
    expect(e.message).toContain('Example of a valid input');
  });

  it('refuses "filter" and "sort", which every run does, saying why; [] asks for the catalogue only', () => {
    for (const op of ['filter', 'sort']) {
      const e = validationErrorOf(() => parseRunInput({ operations: ['backup', op] }, config));
      expect(e.problems).toEqual([{ field: 'input.operations[1]', received: `"${op}"`, expected: expect.stringContaining('every run lists, filters and sorts the corpus to plan its work') }]);
    }
    expect(parseRunInput({ operations: [] }, config).operations).toEqual([]);
  });

  it('rejects unknown fields by name', () => {
    const e = validationErrorOf(() => parseRunInput({ dryrun: true }, config));
    expect(e.problems[0]).toMatchObject({ field: 'input.dryrun', received: 'true' });
    expect(e.problems[0]!.expected).toContain('no field named "dryrun"');
  });

  it('rejects wrong types', () => {
    const e = validationErrorOf(() => parseRunInput({ dryRun: 'yes', prefix: 7 }, config));
    expect(e.problems.map((p) => p.field).sort()).toEqual(['input.dryRun', 'input.prefix']);
    expect(e.problems.find((p) => p.field === 'input.dryRun')).toMatchObject({ received: '"yes"', expected: 'a value of type boolean' });
  });

  it('rejects presets that are not configured, listing the configured ones', () => {
    const e = validationErrorOf(() => parseRunInput({ presets: ['thumb', 'huge'] }, config));
    expect(e.problems).toEqual([{ field: 'input.presets[1]', received: '"huge"', expected: 'one of the configured presets "large", "web", "small", "thumb"' }]);
  });

  it('rejects repeated operations', () => {
    expect(validationErrorOf(() => parseRunInput({ operations: ['resize', 'resize'] }, config)).problems[0]!.field).toBe('input.operations');
  });

  it('rejects input that is not an object', () => {
    expect(validationErrorOf(() => parseRunInput('resize', config)).problems[0]).toMatchObject({ field: 'input', received: '"resize"' });
  });
});

describe('pipeline configuration', () => {
  it('fills in defaults: four presets, JPEG + WebP q80, 2..10,000 shards', () => {
    expect(config.presets.map((p) => [p.name, p.width, p.formats.join('+'), p.quality])).toEqual([
      ['large', 2048, 'jpeg+webp', 80],
      ['web', 1280, 'jpeg+webp', 80],
      ['small', 640, 'jpeg+webp', 80],
      ['thumb', 320, 'jpeg+webp', 80],
    ]);
    expect(config.shards.maxShards).toBe(10_000);
    expect(config.filter.maxPixels).toBe(100_000_000);
    expect(config.resize.failOn).toBe('warning');
  });

  it('names a preset with no formats', () => {
    const e = validationErrorOf(() => parsePipelineConfig({ buckets: config.buckets, presets: [{ name: 'x', width: 10, formats: [] }] }));
    expect(e.problems[0]).toMatchObject({ field: 'config.presets[0].formats', received: '[]', expected: 'at least 1 item(s)' });
  });

  it('names an unknown output format and a bad bucket name', () => {
    const e = validationErrorOf(() => parsePipelineConfig({ buckets: { ...config.buckets, backup: 'Bad_Bucket' }, presets: [{ name: 'x', width: 10, formats: ['bmp'] }] }));
    const fields = e.problems.map((p) => p.field).sort();
    expect(fields).toEqual(['config.buckets.backup', 'config.presets[0].formats[0]']);
    expect(e.message).toContain('"Bad_Bucket"');
  });

  it('rejects more than 10,000 shards (the AWS Batch array limit)', () => {
    const e = validationErrorOf(() => parsePipelineConfig({ buckets: config.buckets, shards: { maxShards: 20_000 } }));
    expect(e.problems[0]).toMatchObject({ field: 'config.shards.maxShards', received: '20000', expected: 'a number <= 10000' });
  });
});
