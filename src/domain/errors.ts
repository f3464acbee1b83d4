/**
 * Errors a user can act on. Machines keep the plain `ErrorInfo` in their context
 * (it must survive snapshots and inspection); code that throws uses `RayMcpError`.
 * Tool handlers turn either into an `isError: true` result with the cause and the fix.
 */
import { untrustedText } from './redact.js';

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
  const ordinary = ordinaryError(err);
  if (ordinary) return ordinary;
  const message = err instanceof Error ? err.message : String(err);
  return {
    code: 'internal',
    message: `Unexpected error: ${untrustedText(message, 500)}`,
    fix: 'This is a bug in ray-mcp; the server log (stderr) has the details. Retrying may help.',
  };
}

interface ErrnoLike {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  path?: unknown;
  syscall?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/**
 * The errors of an ordinary day (a file that is not there or not readable, a refused or timed-out
 * connection, a host that does not resolve, a certificate that does not verify, a full disk) as
 * what a user can act on: they are not bugs. Looks through `cause` and AggregateError.
 */
export function ordinaryError(err: unknown, depth = 0): ErrorInfo | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  const e = err as ErrnoLike;
  const code = typeof e.code === 'string' ? e.code : '';
  const where = describeTarget(e);
  const fs = (what: string, fix: string, errCode: ErrorCode = 'invalid_input'): ErrorInfo => ({
    code: errCode,
    message: `${what}${where ? `: ${where}` : ''} (${code}).`,
    fix,
  });
  switch (code) {
    case 'ENOENT':
      return fs(
        'No such file or folder',
        'Check the path; it must exist on the machine running ray-mcp.',
        'not_found',
      );
    case 'EACCES':
    case 'EPERM':
      return fs(
        'Permission denied',
        'Give the user running ray-mcp access to it, or use a path it can read and write.',
        'forbidden',
      );
    case 'ENOTDIR':
    case 'EISDIR':
    case 'ELOOP':
    case 'ENAMETOOLONG':
      return fs('Not a usable path', 'Give the path of an existing file or folder.');
    case 'ENOSPC':
    case 'EDQUOT':
      return fs('No space left on the disk', 'Free some disk space, then retry.', 'unavailable');
    case 'EROFS':
      return fs(
        'The file system is read-only',
        'Use a writable location (--data-dir, --temp-root).',
        'unavailable',
      );
    case 'EMFILE':
    case 'ENFILE':
      return fs('Too many open files', 'Raise the open-file limit (ulimit -n), then retry.', 'unavailable');
    case 'ECONNREFUSED':
      return net(
        'Connection refused',
        'Check that the service is running and the address and port are right.',
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return net('The host name does not resolve', 'Check the host name, DNS and VPN, then retry.');
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return net(
        'The connection timed out',
        'Check that the host is reachable from this machine (firewall, VPN), then retry.',
        'timeout',
      );
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'ECONNABORTED':
      return net('The connection was closed by the other side', 'Retry; if it persists, check the service.');
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return net('The host is unreachable', 'Check the network route to it (VPN, firewall), then retry.');
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return net(
        'The TLS handshake failed (is the address http rather than https, or the other way round?)',
        'Use the scheme the server speaks (https:// for a Kubernetes API server).',
      );
  }
  if (
    /^(?:CERT_|ERR_TLS_|ERR_SSL_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(?:VERIFY|GET_ISSUER))/.test(
      code,
    )
  ) {
    return net(
      "The server's TLS certificate is not trusted",
      'Give the CA that signed it (certificate-authority-data in the kubeconfig), or fix the address to match the certificate.',
    );
  }
  if (e.name === 'TimeoutError') {
    return {
      code: 'timeout',
      message: 'The operation timed out.',
      fix: 'Retry; if it persists, check the service it waits for.',
    };
  }
  for (const inner of [e.cause, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    const found = ordinaryError(inner, depth + 1);
    if (found) return found;
  }
  return undefined;

  function net(what: string, fix: string, errCode: ErrorCode = 'unavailable'): ErrorInfo {
    return { code: errCode, message: `${what}${where ? `: ${where}` : ''} (${code}).`, fix };
  }
}

/** The path or address an errno error names, bounded. */
function describeTarget(e: ErrnoLike): string {
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
  const path = str(e.path);
  if (path) return path.slice(0, 300);
  const host = str(e.hostname) ?? str(e.address);
  if (host) return `${host}${str(e.port) ? `:${str(e.port)}` : ''}`.slice(0, 300);
  return '';
}
