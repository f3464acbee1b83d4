/**
 * Settings, read and validated once. Flags win over environment variables, which win over defaults.
 * Nothing else in ray-mcp reads `process.env`: children get `config.childEnv`.
 */
import { readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { z } from 'zod';
import { projectRoot } from './paths.js';

// zod compiles a parser per object schema with `new Function` on its first synchronous parse, which
// pays off for a schema parsed thousands of times. ray-mcp parses most of its schemas a handful of
// times, so that compilation is start-up cost with no return: off for every schema made from here
// on (this module is the first of ray-mcp's to make one; the SDK's are made before it, and keep it).
z.config({ jitless: true });

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const ON_EXIT = ['auto', 'stop', 'keep'] as const;
/** Default longest wait of a tool call without a progressToken (s). */
export const DEFAULT_MAX_WAIT_SECONDS = 45;
/** When a destructive or billed call needs a yes first (src/mcp/confirm.ts). */
export const CONFIRM_POLICIES = ['always', 'destructive', 'never'] as const;
export type ConfirmPolicy = (typeof CONFIRM_POLICIES)[number];
/** Groups of tools: local clusters and jobs, KubeRay and Kubernetes, managed clouds (GKE, EKS). */
export const TOOLSETS = ['local', 'kuberay', 'cloud'] as const;
export type Toolset = (typeof TOOLSETS)[number];

/** `local,kuberay` or `all` as a list of toolsets; unknown names refused with the known ones. */
const ToolsetsSchema = z
  .string()
  .transform((v) => [
    ...new Set(
      v
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    ),
  ])
  .refine((names) => names.length > 0, {
    message: `toolsets must name at least one of ${TOOLSETS.join(', ')}, all`,
  })
  .refine((names) => names.every((n) => n === 'all' || (TOOLSETS as readonly string[]).includes(n)), {
    message: `toolsets must be a comma-separated list of ${TOOLSETS.join(', ')}, or all`,
  })
  .transform((names): Toolset[] => (names.includes('all') ? [...TOOLSETS] : (names as Toolset[])));

/** What the command line hands over; every field optional (unset = not given). */
export interface Flags {
  rayBin?: string;
  dataDir?: string;
  logLevel?: string;
  readOnly?: boolean;
  destructive?: boolean;
  /** `--toolsets local,kuberay,cloud|all`. */
  toolsets?: string;
  inspect?: string | boolean;
  inspectPort?: string;
  requestTimeout?: string;
  maxWait?: string;
  shutdownTimeout?: string;
  onExit?: string;
  tempRoot?: string;
  portRange?: string;
  /** `--http [host:]port`. */
  http?: string;
  httpTokenFile?: string;
  httpAllowedHosts?: string;
  /** `--stdio`: serve stdio as well as HTTP. */
  stdio?: boolean;
  maxMessageBytes?: string;
  /** `--confirm always|destructive|never`. */
  confirm?: string;
}

const msFromSeconds = (name: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${name} must be a number of seconds` })
    .min(min, `${name} must be at least ${min} s`)
    .max(max, `${name} must be at most ${max} s`)
    .transform((s) => Math.round(s * 1000));

const boolFromEnv = (name: string) =>
  z
    .string()
    .transform((v) => v.trim().toLowerCase())
    .refine((v) => ['1', 'true', 'yes', 'on', '0', 'false', 'no', 'off', ''].includes(v), {
      message: `${name} must be one of 1, true, yes, on, 0, false, no, off`,
    })
    .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const SettingsSchema = z.object({
  rayBin: z.string().min(1).optional(),
  dataDir: z.string().min(1),
  logLevel: z.enum(LOG_LEVELS, { error: `log level must be one of ${LOG_LEVELS.join(', ')}` }),
  readOnly: z.boolean(),
  destructive: z.boolean(),
  toolsets: ToolsetsSchema,
  inspect: z.union([
    z.literal(false),
    z.literal(true),
    z
      .string()
      .regex(/^wss?:\/\/[^\s]+$/, 'inspect must be a ws:// or wss:// URL of a Stately inspector bridge'),
  ]),
  inspectPort: z.coerce
    .number({ error: 'inspect port must be a number' })
    .int('inspect port must be an integer')
    .min(0, 'inspect port must be 0-65535')
    .max(65535, 'inspect port must be 0-65535'),
  requestTimeoutMs: msFromSeconds('request timeout', 1, 3600),
  /** Longest a tool call waits when its client sent no progressToken (it then answers with the state so far). */
  maxWaitMs: msFromSeconds('max wait', 1, 3600),
  shutdownTimeoutMs: msFromSeconds('shutdown timeout', 1, 300),
  onExit: z.enum(ON_EXIT, { error: `on-exit must be one of ${ON_EXIT.join(', ')}` }),
  confirm: z.enum(CONFIRM_POLICIES, { error: `confirm must be one of ${CONFIRM_POLICIES.join(', ')}` }),
  tempRoot: z
    .string()
    .min(1)
    // Bytes, not characters: the limit is the kernel's (sun_path), and a non-ASCII path is longer in UTF-8.
    .refine((p) => Buffer.byteLength(resolve(p), 'utf8') <= 28, {
      message: 'temp root must be at most 28 bytes long: Ray socket paths under it must fit in 107 bytes',
    }),
  portRange: z
    .string()
    .regex(/^\d+-\d+$/, 'port range must look like 20000-32767')
    .transform((r) => {
      const [from, to] = r.split('-').map(Number) as [number, number];
      return { from, to };
    })
    .refine((r) => r.from >= 1024 && r.to <= 65535 && r.to - r.from + 1 >= 120, {
      message: 'port range must lie within 1024-65535 and hold at least 120 ports (one head node needs 110)',
    }),
  maxMessageBytes: z.coerce
    .number({ error: 'max message bytes must be a number' })
    .int('max message bytes must be an integer')
    .min(65_536, 'max message bytes must be at least 65536')
    .max(268_435_456, 'max message bytes must be at most 268435456'),
});

export type Settings = z.infer<typeof SettingsSchema>;

/** The HTTP front (`--http`): where it listens and what it lets in. */
export interface HttpSettings {
  /** The address to bind, as given (`127.0.0.1`, `0.0.0.0`, `::1`, a hostname). */
  host: string;
  /** 0 = any free port (the log says which). */
  port: number;
  /** Whether `host` reaches only this machine. Any other bind needs `token`. */
  loopback: boolean;
  /** The bearer token every /mcp request must carry. A secret: never logged. */
  token?: string;
  /** Host header names accepted (DNS rebinding); undefined = any (a wildcard bind with a token). */
  allowedHosts?: string[];
  /** Origin hostnames accepted from browsers. */
  allowedOrigins: string[];
  /** Largest request body read (bytes); larger gets 413. */
  maxBodyBytes: number;
}

export const HTTP_MAX_BODY_BYTES = 1024 * 1024;
const LOCALHOST_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export interface Config extends Settings {
  /** `--http`: serve MCP over streamable HTTP. */
  http?: HttpSettings;
  /** Serve MCP over stdio: yes without --http; with --http only when --stdio is given. */
  stdio: boolean;
  /** Where setup caches the Ray venv (`$XDG_CACHE_HOME/ray-mcp`, or RAY_MCP_CACHE_DIR). */
  cacheDir: string;
  /** The checkout or package root: where the default `.venv` lives. */
  projectRoot: string;
  home: string;
  /** Directories searched for executables, from PATH. */
  path: string[];
  rayAuth: { token?: string; tokenSource?: 'env' | 'file'; tokenPath: string; mode?: string };
  kubeconfigPaths: string[];
  /**
   * Running in a pod: KUBERNETES_SERVICE_HOST/PORT are set. The service-account directory (token,
   * ca.crt, namespace) is RAY_MCP_SERVICEACCOUNT_DIR or the kubelet's mount; the `in-cluster`
   * context exists when its token file does.
   */
  inCluster?: InClusterSettings;
  gcp: { credentialsFile?: string; gcloudConfigDir: string; project?: string };
  aws: {
    profile?: string;
    region?: string;
    accessKeyInEnv: boolean;
    sharedCredentialsFile: string;
    configFile: string;
  };
  /** The environment handed to children we spawn (Ray needs PATH, HOME, ...). */
  childEnv: Record<string, string>;
  /** GKE and EKS: endpoints (emulators in tests), probe timeouts, operation polling. */
  cloud: CloudSettings;
  /**
   * Secret values read from the environment (Ray token, AWS keys, a fixed GKE token): never
   * printed; the app's Redactor removes them from every result and log line.
   */
  secrets: string[];
}

export const SERVICEACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface InClusterSettings {
  /** KUBERNETES_SERVICE_HOST: the API server's Service address. */
  host: string;
  /** KUBERNETES_SERVICE_PORT. */
  port: string;
  /** Holds `token`, `ca.crt` and `namespace`. */
  serviceAccountDir: string;
}

export interface CloudSettings {
  /** RAY_MCP_GKE_ENDPOINT: http(s)://host:port of a GKE API stand-in (the test fake). */
  gkeEndpoint?: { host: string; port: number; protocol: 'http' | 'https' };
  /** RAY_MCP_GKE_ACCESS_TOKEN: a fixed GKE token (tests), used instead of Google credentials. A secret. */
  gkeAccessToken?: string;
  /** RAY_MCP_GCP_OAUTH_TOKEN_URL: where user credentials are refreshed (tests); Google's by default. */
  gcpOAuthTokenUrl?: string;
  /** GCE_METADATA_HOST (as google-auth-library reads it). */
  gceMetadataHost: string;
  /** AWS_ENDPOINT_URL_EKS / AWS_ENDPOINT_URL_STS (or AWS_ENDPOINT_URL): moto in tests. */
  eksEndpoint?: string;
  stsEndpoint?: string;
  /** AWS_EC2_METADATA_SERVICE_ENDPOINT, and whether AWS_EC2_METADATA_DISABLED is set. */
  ec2MetadataEndpoint: string;
  ec2MetadataDisabled: boolean;
  /** AWS web identity or container credentials are configured (EKS pods, ECS tasks). */
  awsWorkloadIdentity: boolean;
  /** RAY_MCP_CLOUD_PROBE_TIMEOUT (s, default 1): longest wait for a metadata server. */
  probeTimeoutMs: number;
  /** RAY_MCP_CLOUD_POLL_INTERVAL (s, default 15): how often a cluster creation is checked. */
  pollIntervalMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(flags: Flags, env: NodeJS.ProcessEnv = process.env): Config {
  const home = env.HOME || homedir();
  const raw = {
    rayBin: flags.rayBin ?? (env.RAY_MCP_RAY_BIN || undefined),
    dataDir:
      flags.dataDir ??
      env.RAY_MCP_DATA_DIR ??
      join(env.XDG_DATA_HOME || join(home, '.local', 'share'), 'ray-mcp'),
    logLevel: flags.logLevel ?? env.RAY_MCP_LOG_LEVEL ?? 'info',
    readOnly: flags.readOnly ?? parseEnvBool('RAY_MCP_READ_ONLY', env.RAY_MCP_READ_ONLY) ?? false,
    destructive:
      flags.destructive === false
        ? false
        : !(parseEnvBool('RAY_MCP_NO_DESTRUCTIVE', env.RAY_MCP_NO_DESTRUCTIVE) ?? false),
    toolsets: flags.toolsets ?? (env.RAY_MCP_TOOLSETS || 'all'),
    inspect: flags.inspect ?? inspectFromEnv(env.RAY_MCP_INSPECT),
    inspectPort: flags.inspectPort ?? env.RAY_MCP_INSPECT_PORT ?? '0',
    requestTimeoutMs: flags.requestTimeout ?? env.RAY_MCP_REQUEST_TIMEOUT ?? '60',
    // Under the ~60 s some clients (Claude Desktop) cut every call at, with room for the answer.
    maxWaitMs: flags.maxWait ?? env.RAY_MCP_MAX_WAIT ?? String(DEFAULT_MAX_WAIT_SECONDS),
    shutdownTimeoutMs: flags.shutdownTimeout ?? env.RAY_MCP_SHUTDOWN_TIMEOUT ?? '15',
    onExit: flags.onExit ?? env.RAY_MCP_ON_EXIT ?? 'auto',
    // Ask before what cannot be undone or costs money, not before every stop of an idle cluster.
    confirm: flags.confirm ?? env.RAY_MCP_CONFIRM ?? 'destructive',
    tempRoot: flags.tempRoot ?? env.RAY_MCP_TEMP_ROOT ?? join(tmpdir(), 'ray-mcp'),
    // Below Linux's ephemeral range (32768+), so outgoing connections never take them.
    portRange: flags.portRange ?? env.RAY_MCP_PORT_RANGE ?? '20000-32767',
    // Longest JSON-RPC message accepted; a longer one is refused, and the connection goes on.
    maxMessageBytes: flags.maxMessageBytes ?? env.RAY_MCP_MAX_MESSAGE_BYTES ?? String(4 * 1024 * 1024),
  };
  const parsed = SettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  --${kebab(String(i.path[0]))}: ${i.message}`);
    throw new ConfigError(`Invalid settings:\n${problems.join('\n')}\nRun 'ray-mcp --help' for the options.`);
  }
  const settings = parsed.data;

  const http = httpSettings(flags, env);
  const stdio = http ? (flags.stdio ?? parseEnvBool('RAY_MCP_STDIO', env.RAY_MCP_STDIO) ?? false) : true;

  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;

  return {
    ...settings,
    dataDir: resolve(settings.dataDir),
    tempRoot: resolve(settings.tempRoot),
    rayBin: settings.rayBin ? resolve(settings.rayBin) : undefined,
    http,
    stdio,
    cacheDir: resolve(env.RAY_MCP_CACHE_DIR || join(env.XDG_CACHE_HOME || join(home, '.cache'), 'ray-mcp')),
    projectRoot,
    home,
    path: (env.PATH ?? '').split(delimiter).filter(Boolean),
    rayAuth: {
      token: env.RAY_AUTH_TOKEN || readTokenFile(env.RAY_AUTH_TOKEN_PATH || join(home, '.ray', 'auth_token')),
      tokenSource: env.RAY_AUTH_TOKEN
        ? 'env'
        : readTokenFile(env.RAY_AUTH_TOKEN_PATH || join(home, '.ray', 'auth_token'))
          ? 'file'
          : undefined,
      tokenPath: env.RAY_AUTH_TOKEN_PATH || join(home, '.ray', 'auth_token'),
      mode: env.RAY_AUTH_MODE || undefined,
    },
    kubeconfigPaths: (env.KUBECONFIG
      ? env.KUBECONFIG.split(delimiter)
      : [join(home, '.kube', 'config')]
    ).filter(Boolean),
    inCluster:
      env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT
        ? {
            host: env.KUBERNETES_SERVICE_HOST,
            port: env.KUBERNETES_SERVICE_PORT,
            serviceAccountDir: resolve(env.RAY_MCP_SERVICEACCOUNT_DIR || SERVICEACCOUNT_DIR),
          }
        : undefined,
    gcp: {
      credentialsFile: env.GOOGLE_APPLICATION_CREDENTIALS || undefined,
      gcloudConfigDir: env.CLOUDSDK_CONFIG || join(home, '.config', 'gcloud'),
      project: env.GOOGLE_CLOUD_PROJECT || env.CLOUDSDK_CORE_PROJECT || undefined,
    },
    aws: {
      profile: env.AWS_PROFILE || undefined,
      region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
      accessKeyInEnv: Boolean(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY),
      sharedCredentialsFile: env.AWS_SHARED_CREDENTIALS_FILE || join(home, '.aws', 'credentials'),
      configFile: env.AWS_CONFIG_FILE || join(home, '.aws', 'config'),
    },
    childEnv,
    cloud: cloudSettings(env),
    secrets: [
      env.RAY_AUTH_TOKEN,
      readTokenFile(env.RAY_AUTH_TOKEN_PATH || join(home, '.ray', 'auth_token')),
      env.AWS_ACCESS_KEY_ID,
      env.AWS_SECRET_ACCESS_KEY,
      env.AWS_SESSION_TOKEN,
      env.AWS_SECURITY_TOKEN,
      env.RAY_MCP_GKE_ACCESS_TOKEN,
      env.GOOGLE_OAUTH_ACCESS_TOKEN,
      env.CLOUDSDK_AUTH_ACCESS_TOKEN,
    ].filter((s): s is string => Boolean(s)),
  };
}

/**
 * `--http [host:]port` (or RAY_MCP_HTTP) with its token and allowed hosts. A bind beyond loopback
 * without a token is refused: anyone who reaches the port could start clusters and run code.
 */
function httpSettings(flags: Flags, env: NodeJS.ProcessEnv): HttpSettings | undefined {
  const raw = flags.http ?? (env.RAY_MCP_HTTP || undefined);
  if (raw === undefined) return undefined;
  const bad = (msg: string) =>
    new ConfigError(`Invalid settings:\n  --http: ${msg}\nRun 'ray-mcp --help' for the options.`);
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(raw.trim());
  if (!m)
    throw bad(
      `'${raw.slice(0, 80)}' is not [host:]port (e.g. 8000, 127.0.0.1:8000, 0.0.0.0:8000, [::1]:8000)`,
    );
  const port = Number(m[2]);
  if (port > 65535) throw bad('the port must be 0-65535');
  const given = m[1] ?? '127.0.0.1';
  const host = given.startsWith('[') ? given.slice(1, -1) : given;
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  const wildcard = host === '0.0.0.0' || host === '::';

  let token: string | undefined;
  const file = flags.httpTokenFile ?? (env.RAY_MCP_HTTP_TOKEN_FILE || undefined);
  if (file) {
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(
        `Invalid settings:\n  --http-token-file: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  } else if (env.RAY_MCP_HTTP_TOKEN) token = env.RAY_MCP_HTTP_TOKEN.trim();
  if (token !== undefined && token.length < 16)
    throw new ConfigError(
      'Invalid settings:\n  --http-token-file / RAY_MCP_HTTP_TOKEN: the token must be at least 16 characters (e.g. `openssl rand -hex 32`)',
    );
  if (!loopback && !token)
    throw new ConfigError(
      `Invalid settings:\n  --http: ${given} is reachable from other machines, so ray-mcp needs a bearer token: ` +
        'set RAY_MCP_HTTP_TOKEN or --http-token-file (e.g. `openssl rand -hex 32 > token`), or bind 127.0.0.1.',
    );

  const listed = (flags.httpAllowedHosts ?? env.RAY_MCP_HTTP_ALLOWED_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  if (listed.some((h) => !/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/.test(h)))
    throw new ConfigError(
      'Invalid settings:\n  --http-allowed-hosts: give host names or IPs without port or scheme, comma separated (IPv6 in brackets)',
    );
  const bindName = host.includes(':') ? `[${host.toLowerCase()}]` : host.toLowerCase();
  // A wildcard bind with no list accepts any Host: the token is what keeps strangers out.
  const allowedHosts = listed.length
    ? [...new Set([...LOCALHOST_NAMES, ...listed])]
    : wildcard
      ? undefined
      : [...new Set([...LOCALHOST_NAMES, bindName])];
  const allowedOrigins = [...new Set([...LOCALHOST_NAMES, ...listed, ...(wildcard ? [] : [bindName])])];
  return { host, port, loopback, token, allowedHosts, allowedOrigins, maxBodyBytes: HTTP_MAX_BODY_BYTES };
}

function cloudSettings(env: NodeJS.ProcessEnv): CloudSettings {
  const seconds = (name: string, fallback: number, min: number, max: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback * 1000;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new ConfigError(
        `Invalid settings:\n  ${name}: must be a number of seconds from ${min} to ${max}`,
      );
    return Math.round(n * 1000);
  };
  let gkeEndpoint: CloudSettings['gkeEndpoint'];
  if (env.RAY_MCP_GKE_ENDPOINT) {
    let url: URL;
    try {
      url = new URL(env.RAY_MCP_GKE_ENDPOINT);
    } catch {
      throw new ConfigError(
        'Invalid settings:\n  RAY_MCP_GKE_ENDPOINT: must be a URL like http://127.0.0.1:8080',
      );
    }
    const protocol = url.protocol === 'http:' ? 'http' : 'https';
    gkeEndpoint = {
      host: url.hostname,
      port: Number(url.port) || (protocol === 'http' ? 80 : 443),
      protocol,
    };
  }
  return {
    gkeEndpoint,
    gkeAccessToken: env.RAY_MCP_GKE_ACCESS_TOKEN || undefined,
    gcpOAuthTokenUrl: env.RAY_MCP_GCP_OAUTH_TOKEN_URL || undefined,
    gceMetadataHost: env.GCE_METADATA_HOST || env.GCE_METADATA_IP || '169.254.169.254',
    eksEndpoint: env.AWS_ENDPOINT_URL_EKS || env.AWS_ENDPOINT_URL || undefined,
    stsEndpoint: env.AWS_ENDPOINT_URL_STS || env.AWS_ENDPOINT_URL || undefined,
    ec2MetadataEndpoint: env.AWS_EC2_METADATA_SERVICE_ENDPOINT || 'http://169.254.169.254',
    ec2MetadataDisabled: ['1', 'true'].includes((env.AWS_EC2_METADATA_DISABLED ?? '').toLowerCase()),
    awsWorkloadIdentity: Boolean(
      env.AWS_WEB_IDENTITY_TOKEN_FILE ||
        env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI ||
        env.AWS_CONTAINER_CREDENTIALS_FULL_URI,
    ),
    probeTimeoutMs: seconds('RAY_MCP_CLOUD_PROBE_TIMEOUT', 1, 0.05, 30),
    pollIntervalMs: seconds('RAY_MCP_CLOUD_POLL_INTERVAL', 15, 0.05, 600),
  };
}

function parseEnvBool(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  const res = boolFromEnv(name).safeParse(value);
  if (!res.success) throw new ConfigError(`Invalid settings:\n  ${name}: ${res.error.issues[0]?.message}`);
  return res.data;
}

function inspectFromEnv(value: string | undefined): string | boolean {
  if (value === undefined || value === '') return false;
  const lowered = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(lowered)) return true;
  if (['0', 'false', 'no', 'off'].includes(lowered)) return false;
  return value;
}

const kebab = (s: string) => s.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Ray's token file, as Ray reads it; absent or unreadable means no token. */
function readTokenFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
