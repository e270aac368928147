import { count } from './format';

describe('count', () => {
  it('puts the noun in the singular for exactly one, the plural otherwise, with the thousands grouped', () => {
    expect(count(1, 'image')).toBe('1 image');
    expect(count(0, 'image')).toBe('0 images');
    expect(count(2, 'S3 request')).toBe('2 S3 requests');
    expect(count(1, 'S3 request')).toBe('1 S3 request');
    expect(count(1_204, 'image')).toBe('1,204 images');
  });
});
