import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Figure } from './figure.js';

const FIGURE = { field: 'figure', type: 'nominal', sort: null, title: null, axis: { labelLimit: 300 } } as const;

/** Scores above this are drawn at this length (the label still gives the real figure). */
const CAP = 3;

/** How a figure reads in the chart's label: `0.91× (target ≥ 0.85×)` or `12.3 ms (target p99 ≤ 25 ms)`. */
function labelOf(f: Figure): string {
  const shown = f.target.kind === 'min-ratio' ? `${f.ratio}×` : `${f.value.toLocaleString('en')} ${f.unit}`;
  return `${shown} (target ${f.target.text})`;
}

/**
 * The chart of a run, as SVG: one bar per figure, its length how the figure stands against its
 * target on a common scale (1 = exactly on target; for a ratio target relayq's ratio ÷ the target,
 * for a ceiling the ceiling ÷ relayq's figure), green when met and red when missed, with the
 * figure and its target written next to the bar. Rendered with vega-lite compiled to vega,
 * without a browser or canvas.
 */
export async function renderChart(figures: Figure[], subtitle: string): Promise<string> {
  const data = figures.map((f) => ({
    figure: f.short,
    score: Math.min(CAP, f.score),
    label: labelOf(f),
    result: f.met ? 'met' : 'missed',
  }));
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'relayq against its targets', subtitle, anchor: 'start' },
    width: 420,
    height: { step: 34 },
    data: { values: data },
    layer: [
      {
        mark: { type: 'bar', height: 20 },
        encoding: {
          y: FIGURE,
          x: { field: 'score', type: 'quantitative', title: `against target (1 = on target, longer is better; capped at ${CAP})`, scale: { domain: [0, CAP] } },
          color: { field: 'result', type: 'nominal', title: null, scale: { domain: ['met', 'missed'], range: ['#2e9e5b', '#d64541'] } },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 11 },
        encoding: { y: FIGURE, x: { field: 'score', type: 'quantitative' }, text: { field: 'label' } },
      },
      {
        data: { values: [{ target: 1 }] },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#333' },
        encoding: { x: { field: 'target', type: 'quantitative' } },
      },
    ],
    config: { font: 'Helvetica, Arial, sans-serif', view: { stroke: null } },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
