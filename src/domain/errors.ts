/**
 * Errors a user can act on. Machines keep the plain `ErrorInfo` in their context
 * (it must survive snapshots and inspection); code that throws uses `RayMcpError`.
 * Tool handlers turn either into an `isError: true` result with the cause and the fix.
 */
export type ErrorCode =
  | 'invalid_input'
  | 'ray_missing'
  | 'not_found'
  | 'conflict'
  | 'timeout'
  | 'unavailable'
  | 'unauthenticated'
  | 'forbidden'
  | 'shutting_down'
  | 'internal';

export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  fix: string;
}

export class RayMcpError extends Error {
  readonly code: ErrorCode;
  readonly fix: string;

  constructor(code: ErrorCode, message: string, fix: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RayMcpError';
    this.code = code;
    this.fix = fix;
  }

  static from(info: ErrorInfo): RayMcpError {
    return new RayMcpError(info.code, info.message, info.fix);
  }

  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message, fix: this.fix };
  }
}

/** Turns anything thrown into an `ErrorInfo`, without leaking stacks to the user. */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof RayMcpError) return err.toInfo();
  const message = err instanceof Error ? err.message : String(err);
  return {
    code: 'internal',
    message: `Unexpected error: ${message}`,
    fix: 'This is a bug in ray-mcp; the server log (stderr) has the details. Retrying may help.',
  };
}
