import type { BenchRedis } from './redis.js';

/**
 * How a figure is judged: `min-ratio` (relayq ÷ baseline must reach `value`), `max` (relayq's
 * figure must stay at or under `value`, in the figure's unit).
 */
export interface Target {
  kind: 'min-ratio' | 'max';
  value: number;
  /** As the product contract states it, e.g. `≥ 0.85×`, `p99 ≤ 25 ms`. */
  text: string;
}

/** One measured figure, next to its baseline from the same run. */
export interface Figure {
  id: string;
  title: string;
  /** A few words for the chart's axis. */
  short: string;
  /** relayq's figure, in `unit`. */
  value: number;
  unit: string;
  /** The baseline's figure in the same unit; null when the target is absolute. */
  baseline: number | null;
  baselineLabel: string;
  /** value ÷ baseline (or ÷ linear for scaling); null without a baseline. */
  ratio: number | null;
  target: Target;
  met: boolean;
  /**
   * How far the figure is from its target on one scale, 1 = exactly on target, above 1 = met:
   * ratio ÷ target for `min-ratio`, target ÷ value for `max`.
   */
  score: number;
  /** Everything else measured on the way (percentiles, CPU, per-step numbers), for results.json. */
  details: Record<string, unknown>;
}

/** Builds a figure and judges it against its target. */
export function judge(f: Omit<Figure, 'met' | 'score'>): Figure {
  if (f.target.kind === 'min-ratio') {
    const r = f.ratio ?? Number.NaN;
    return { ...f, met: r >= f.target.value, score: r / f.target.value };
  }
  return { ...f, met: f.value <= f.target.value, score: f.value > 0 ? f.target.value / f.value : Number.POSITIVE_INFINITY };
}

/** What every figure gets: the run's Redis, its mode and durations, and a progress printer. */
export interface BenchContext {
  redis: BenchRedis;
  quick: boolean;
  /** Seconds of closed-loop HTTP load per side (10, or 3 in quick mode). */
  loadSeconds: number;
  /** LOG_LEVEL of relayq's processes (relayq's default is info). */
  logLevel: string;
  /** A fresh key prefix for the next relayq or baseline run. */
  prefix(name: string): string;
  say(line: string): void;
}

/** Rounds to `digits` significant decimals for printing and results.json. */
export const round = (n: number, digits = 2): number => (Number.isFinite(n) ? Number(n.toFixed(digits)) : n);
