import { count, isoInZone } from './format';

describe('count', () => {
  it('puts the noun in the singular for exactly one, the plural otherwise, with the thousands grouped', () => {
    expect(count(1, 'image')).toBe('1 image');
    expect(count(0, 'image')).toBe('0 images');
    expect(count(2, 'S3 request')).toBe('2 S3 requests');
    expect(count(1, 'S3 request')).toBe('1 S3 request');
    expect(count(1_204, 'image')).toBe('1,204 images');
  });
});

describe('isoInZone', () => {
  const at = new Date('2026-12-05T02:00:00Z');
  it('writes ISO 8601 with the zone\'s offset, Z at offset zero', () => {
    expect(isoInZone(at, 'UTC')).toBe('2026-12-05T02:00:00Z');
    expect(isoInZone(at, 'Europe/Berlin')).toBe('2026-12-05T03:00:00+01:00');
    expect(isoInZone(at, 'Asia/Kolkata')).toBe('2026-12-05T07:30:00+05:30');
    expect(isoInZone(at, 'America/New_York')).toBe('2026-12-04T21:00:00-05:00');
    expect(isoInZone(new Date('2026-07-01T00:00:00Z'), 'Europe/Berlin')).toBe('2026-07-01T02:00:00+02:00');
  });
});
