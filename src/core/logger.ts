import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

export interface LoggerSettings {
  level: string;
  /** Values that must never appear in a line: API keys, tokens, passwords. */
  secrets?: readonly string[];
  /** Header names that carry credentials (API_KEY_HEADER besides `authorization`). */
  secretHeaders?: readonly string[];
  /**
   * Where lines go: pino's default stdout destination when unset. The server passes its StdoutLog (which cannot
   * hold the process at exit); tests pass a stream to read the lines.
   */
  destination?: DestinationStream;
}

const REDACTED = '[redacted]';

/**
 * The process's one pino logger. Credential headers are removed by path (pino's `redact`), and any
 * configured secret that still turns up inside a string (an error message quoting a URL, say) is masked.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const headers = ['authorization', 'proxy-authorization', 'cookie', ...(settings.secretHeaders ?? [])];
  const paths = headers.flatMap((name) => [`req.headers["${name}"]`, `headers["${name}"]`]);
  const secrets = [...new Set(settings.secrets ?? [])].filter((secret) => secret.length >= 4);
  const scrub = (text: string): string => {
    let clean = text;
    for (const secret of secrets) if (clean.includes(secret)) clean = clean.split(secret).join(REDACTED);
    return clean;
  };
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: 'ebdedup' },
    redact: { paths, censor: REDACTED },
    serializers: {
      err: (err: Error) => {
        const serialized = pino.stdSerializers.err(err);
        if (secrets.length === 0) return serialized;
        return JSON.parse(scrub(JSON.stringify(serialized))) as typeof serialized;
      },
    },
    hooks:
      secrets.length === 0
        ? {}
        : {
            logMethod(args, method) {
              const scrubbed = args.map((arg) => (typeof arg === 'string' ? scrub(arg) : arg));
              method.apply(this, scrubbed as Parameters<typeof method>);
            },
          },
  };
  return settings.destination ? pino(options, settings.destination) : pino(options);
}
