/**
 * Gathers the calls made within one event-loop turn and answers them with one call of `run`: under
 * load, concurrent requests share one round trip to PostgreSQL instead of taking one each. `run`
 * answers one output per input, in order; when it fails, every call of the batch fails with it.
 */
export class TurnBatcher<I, O> {
  readonly #run: (inputs: I[]) => Promise<O[]>;
  #pending: Array<{ input: I; resolve: (output: O) => void; reject: (error: unknown) => void }> = [];
  #scheduled = false;

  constructor(run: (inputs: I[]) => Promise<O[]>) {
    this.#run = run;
  }

  call(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ input, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const batch = this.#pending;
    this.#pending = [];
    this.#scheduled = false;
    this.#run(batch.map(({ input }) => input)).then(
      (outputs) => batch.forEach(({ resolve }, index) => resolve(outputs[index] as O)),
      (error: unknown) => batch.forEach(({ reject }) => reject(error)),
    );
  }
}
