import { pino, type Logger } from 'pino';

/** Paths that could carry a secret; pino replaces them before anything is written. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.refresh_token',
  '*.refreshToken',
  '*.access_token',
  '*.accessToken',
];

/** The structured logger (JSON lines on stdout). It never receives passwords or tokens; the redaction is a second line of defence. */
export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'antpeer-auth' } });
}

type ChildOptions = Parameters<Logger['child']>[1];
type Child = ReturnType<Logger['child']>;
type LogMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** See {@link lazyRequestLogger}; methods on the prototype, so that making one allocates one object. */
class LazyRequestLogger {
  #child: Child | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Record<string, unknown>,
    private readonly options: ChildOptions,
  ) {}

  #real(): Child {
    return (this.#child ??= this.parent.child(this.bindings, this.options));
  }

  #write(level: LogMethod, args: unknown[]): void {
    // A level the child would not write is not worth making the child for.
    if (this.#child === undefined && this.options?.level === undefined && !this.parent.isLevelEnabled(level)) return;
    (this.#real()[level] as (...a: unknown[]) => void)(...args);
  }

  fatal(...args: unknown[]): void {
    this.#write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#write('error', args);
  }
  warn(...args: unknown[]): void {
    this.#write('warn', args);
  }
  info(...args: unknown[]): void {
    this.#write('info', args);
  }
  debug(...args: unknown[]): void {
    this.#write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#write('trace', args);
  }
  silent(): void {}

  child(bindings: Record<string, unknown>, options?: ChildOptions): Child {
    return this.#real().child(bindings, options);
  }

  isLevelEnabled(level: string): boolean {
    return this.#real().isLevelEnabled(level);
  }

  get level(): string {
    return this.#child?.level ?? this.options?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.#real().level = level;
  }
}

/**
 * A request's logger (Fastify's `childLoggerFactory`): the pino child that carries the request id
 * is made on the first line logged, not for every request — most requests log nothing, and a child
 * with redaction costs a few microseconds to make.
 */
export function lazyRequestLogger(parent: Logger, bindings: Record<string, unknown>, options: ChildOptions): Logger {
  return new LazyRequestLogger(parent, bindings, options) as unknown as Logger;
}
