// Time charts (uPlot): one x axis of time, one line per series.
import uPlot from "uplot";

export interface Line {
  label: string;
  values: Array<number | null>;
  color: string;
}

export class TimeChart {
  private plot: uPlot | null = null;
  private signature = "";

  constructor(
    private readonly container: HTMLElement,
    private readonly title: string,
    private readonly unit: string,
  ) {}

  // Draws `times` (ms) against the lines; remakes the plot when the set of
  // lines changes, else only updates its data.
  show(times: number[], lines: Line[]): void {
    const data: uPlot.AlignedData = [times.map((t) => t / 1000), ...lines.map((l) => l.values)];
    const signature = lines.map((l) => l.label).join("|");
    if (this.plot && signature === this.signature) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.signature = signature;
    const width = Math.max(320, Math.min(900, this.container.clientWidth || 640));
    this.plot = new uPlot(
      {
        title: this.title,
        width,
        height: 220,
        series: [
          {},
          ...lines.map((line) => ({ label: line.label, stroke: line.color, width: 2, spanGaps: true })),
        ],
        axes: [{}, { label: this.unit }],
        scales: { y: { range: (_u: uPlot, _min: number, max: number) => [0, Math.max(1, max)] } },
      },
      data,
      this.container,
    );
  }
}
