/** One sample of a Prometheus text exposition: its name, its labels and its value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (what `/metrics` serves); comments are skipped. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[name as string] = (value as string).replace(/\\(.)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : escaped));
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/**
 * The value of the sample `name` whose labels are exactly `labels`; 0 when there is none (a series
 * not created yet), and an error when several match.
 */
export function sampleValue(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels);
  const found = samples.filter(
    (sample) => sample.name === name && Object.keys(sample.labels).length === wanted.length && wanted.every(([key, value]) => sample.labels[key] === value),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

/** Reads metrics before and after something happens: `change` is how much a sample moved since `mark`. */
export class MetricsProbe {
  #before: Sample[] = [];
  #after: Sample[] = [];

  constructor(private readonly scrape: () => Promise<string>) {}

  /** Takes the "before" reading. */
  async mark(): Promise<void> {
    this.#before = parseExposition(await this.scrape());
  }

  /** Takes the "after" reading; {@link change} and {@link value} read it. */
  async read(): Promise<void> {
    this.#after = parseExposition(await this.scrape());
  }

  /** How much `name{labels}` moved between {@link mark} and {@link read}. */
  change(name: string, labels: Record<string, string> = {}): number {
    return sampleValue(this.#after, name, labels) - sampleValue(this.#before, name, labels);
  }

  /** How much all samples of `name` together moved: what a rule like `sum(increase(name[5m]))` sees. */
  changeOfAll(name: string): number {
    const sum = (samples: readonly Sample[]) => samples.filter((sample) => sample.name === name).reduce((total, sample) => total + sample.value, 0);
    return sum(this.#after) - sum(this.#before);
  }

  /** The value of `name{labels}` at {@link read}. */
  value(name: string, labels: Record<string, string> = {}): number {
    return sampleValue(this.#after, name, labels);
  }

  /** Every sample of `name` at {@link read}. */
  samples(name: string): Sample[] {
    return this.#after.filter((sample) => sample.name === name);
  }
}
