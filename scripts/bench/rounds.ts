/**
 * How many rounds a bench section runs, and how steady its ratios came out.
 *
 * A round measures nightshift and each peer back to back, so a round's own ratio (peer time over
 * nightshift's) cancels much of what the machine did meanwhile; the bench reports the median of
 * the rounds' ratios and their spread, half the range they cover. A section runs at least `min`
 * rounds, then more while any of its ratios spreads wider than ±`steady`, up to `max`: `--quick`
 * moved ratios by 0.1-0.15 between runs, which two rounds cannot show.
 */
import { median } from './measure';

export interface RoundPlan {
  readonly min: number;
  readonly max: number;
  /** Half the range the rounds' ratios may cover for the section to stop early. */
  readonly steady: number;
}

/** `--rounds N` runs exactly N; otherwise `--quick` runs 2 to 5 rounds and the full run 3 to 5, until steady to ±0.05. */
export function roundPlan(quick: boolean, fixed?: number): RoundPlan {
  if (fixed !== undefined) return { min: fixed, max: fixed, steady: 0.05 };
  return { min: quick ? 2 : 3, max: 5, steady: 0.05 };
}

/** Each round's peer time over nightshift's, for the rounds both have. */
export function roundRatios(ours: readonly number[], peer: readonly number[]): number[] {
  return Array.from({ length: Math.min(ours.length, peer.length) }, (_, i) => peer[i]! / ours[i]!);
}

/** Half the range of the values: the ± a ratio is steady to. 0 for fewer than two. */
export function spread(values: readonly number[]): number {
  return values.length < 2 ? 0 : (Math.max(...values) - Math.min(...values)) / 2;
}

/** Whether a section that has run `done` rounds, with these per-round ratios, runs another. */
export function anotherRound(plan: RoundPlan, done: number, ratios: readonly (readonly number[])[]): boolean {
  if (done < plan.min) return true;
  if (done >= plan.max) return false;
  return ratios.some((r) => spread(r) > plan.steady);
}

/** A ratio as reported: the median of the rounds' ratios and their spread, both to 3 digits. */
export function summariseRatio(ratios: readonly number[]): { ratio: number; spread: number } | undefined {
  if (ratios.length === 0) return undefined;
  return { ratio: Number(median(ratios).toFixed(3)), spread: Number(spread(ratios).toFixed(3)) };
}
