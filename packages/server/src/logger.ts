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
type LogMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A request's logger (Fastify's `childLoggerFactory`): the pino child that carries the request id
 * is made on the first line logged, not for every request — most requests log nothing, and a child
 * with redaction costs a few microseconds to make.
 */
export function lazyRequestLogger(parent: Logger, bindings: Record<string, unknown>, options: ChildOptions): Logger {
  let child: ReturnType<Logger['child']> | undefined;
  const real = () => (child ??= parent.child(bindings, options));
  const method = (name: LogMethod) =>
    function (this: unknown, ...args: unknown[]) {
      // A level the child would not write is not worth making the child for.
      if (child === undefined && !parent.isLevelEnabled(name) && options?.level === undefined) return;
      (real()[name] as (...a: unknown[]) => void)(...args);
    };
  const logger = {
    fatal: method('fatal'),
    error: method('error'),
    warn: method('warn'),
    info: method('info'),
    debug: method('debug'),
    trace: method('trace'),
    silent: () => undefined,
    child: (more: Record<string, unknown>, moreOptions?: ChildOptions) => real().child(more, moreOptions),
    isLevelEnabled: (level: string) => real().isLevelEnabled(level),
    get level() {
      return child?.level ?? options?.level ?? parent.level;
    },
    set level(level: string) {
      real().level = level;
    },
  };
  return logger as unknown as Logger;
}
