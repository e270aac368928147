import { anotherRound, roundPlan, roundRatios, spread, summariseRatio } from './rounds';

describe('bench rounds', () => {
  it('pairs each round of nightshift with the same round of its peer', () => {
    // The medians (2.0 s and 1.0 s) would say 0.5; each round says 0.8, 0.25 and 0.5.
    expect(roundRatios([1, 4, 2], [0.8, 1, 1])).toEqual([0.8, 0.25, 0.5]);
    expect(roundRatios([1, 2], [1])).toEqual([1]);
  });

  it('reports half the range of the rounds as the spread, and the median as the ratio', () => {
    expect(spread([0.8, 0.9, 0.85])).toBeCloseTo(0.05);
    expect(spread([0.8])).toBe(0);
    expect(summariseRatio([0.9, 0.8, 0.86])).toEqual({ ratio: 0.86, spread: 0.05 });
    expect(summariseRatio([])).toBeUndefined();
  });

  it('runs the minimum, then more rounds only while a ratio spreads wider than ±0.05, up to the maximum', () => {
    const quick = roundPlan(true);
    expect(quick).toEqual({ min: 2, max: 5, steady: 0.05 });
    expect(anotherRound(quick, 0, [])).toBe(true);
    expect(anotherRound(quick, 1, [[0.8]])).toBe(true);
    expect(anotherRound(quick, 2, [[0.8, 0.82], [1.7, 1.75]])).toBe(false);
    expect(anotherRound(quick, 2, [[0.8, 0.82], [1.6, 1.75]])).toBe(true);
    expect(anotherRound(quick, 5, [[0.5, 1.5]])).toBe(false);
    expect(roundPlan(false).min).toBe(3);
  });

  it('runs exactly the rounds --rounds asks for', () => {
    const fixed = roundPlan(true, 1);
    expect(anotherRound(fixed, 0, [])).toBe(true);
    expect(anotherRound(fixed, 1, [[0.1, 0.9]])).toBe(false);
  });
});
