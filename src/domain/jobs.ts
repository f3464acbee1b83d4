/** Ray jobs as tools and machines see them. */
import { z } from 'zod';
import { SubmissionIdSchema } from './ids.js';
import type { RayJobDetails } from './ray-api.js';

export const JOB_STATUSES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'STOPPED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'STOPPED'];
export const isTerminal = (s: string) => (TERMINAL as readonly string[]).includes(s);

export { SubmissionIdSchema };

/** One `NAME=value` string: Linux's MAX_ARG_STRLEN; a longer one makes the driver's exec fail (E2BIG). */
export const MAX_ENV_VAR_BYTES = 128 * 1024;
/** All env vars together; the whole submission must stay under the 1 MiB a Ray job agent accepts. */
export const MAX_ENV_VARS_BYTES = 256 * 1024;
/** Job metadata, all keys and values: labels, not data. */
export const MAX_METADATA_BYTES = 16 * 1024;
/** A Ray job agent refuses a submission body over 1 MiB (aiohttp's default); with room for the envelope. */
export const MAX_SUBMIT_BYTES = 1024 * 1024 - 4096;

export const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Metadata under MAX_METADATA_BYTES. */
export function checkMetadataSize(metadata: Record<string, string>, ctx: z.RefinementCtx): void {
  let total = 0;
  for (const [k, v] of Object.entries(metadata)) total += utf8Bytes(k) + utf8Bytes(v);
  if (total > MAX_METADATA_BYTES) {
    ctx.addIssue({
      code: 'custom',
      message: `metadata is ${total} bytes, over the ${MAX_METADATA_BYTES} (16 KiB) Ray jobs are given here: keep it to short labels and put data in files`,
    });
  }
}

export const RuntimeEnvSchema = z
  .object({
    working_dir: z
      .string()
      .min(1)
      .optional()
      .describe('Local folder (uploaded) or gcs://, s3://, https:// zip'),
    pip: z.array(z.string().min(1)).max(200).optional(),
    env_vars: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string())
      .superRefine((vars, ctx) => {
        let total = 0;
        for (const [k, v] of Object.entries(vars)) {
          const size = utf8Bytes(k) + utf8Bytes(v) + 2;
          total += size;
          if (size > MAX_ENV_VAR_BYTES) {
            ctx.addIssue({
              code: 'custom',
              path: [k],
              message: `env var ${k.slice(0, 60)} is ${size} bytes; Linux refuses to start a process with one over ${MAX_ENV_VAR_BYTES} (128 KiB). Pass large values in a file (working_dir) instead`,
            });
            return;
          }
        }
        if (total > MAX_ENV_VARS_BYTES) {
          ctx.addIssue({
            code: 'custom',
            message: `env_vars total ${total} bytes, over the ${MAX_ENV_VARS_BYTES} (256 KiB) ray-mcp sends. Pass large values in a file (working_dir) instead`,
          });
        }
      })
      .optional(),
    excludes: z.array(z.string()).max(200).optional(),
  })
  .strict();
export type RuntimeEnvInput = z.infer<typeof RuntimeEnvSchema>;

export const JobViewSchema = z.object({
  submission_id: z.string(),
  job_id: z.string().optional(),
  cluster_id: z.string(),
  status: z.enum(JOB_STATUSES),
  entrypoint: z.string(),
  message: z.string().optional(),
  error_type: z.string().optional(),
  start_time: z.string().optional(),
  end_time: z.string().optional(),
  duration_seconds: z.number().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  runtime_env: z
    .object({
      working_dir: z.string().optional(),
      pip: z.number().optional(),
      env_vars: z.array(z.string()).optional(),
    })
    .optional()
    .describe('Summary: working_dir URI, number of pip packages, names of env vars (never their values)'),
  driver: z
    .object({
      node_id: z.string().optional(),
      node_ip: z.string().optional(),
      pid: z.string().optional(),
      exit_code: z.number().optional(),
    })
    .optional(),
});
export type JobView = z.infer<typeof JobViewSchema>;

const clip = (s: string | null | undefined, n: number) =>
  s == null ? undefined : s.length > n ? `${s.slice(0, n)}…` : s;
const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : undefined);

/** A dashboard JobDetails, compacted; secrets in env var values never leave. */
export function jobView(clusterId: string, d: RayJobDetails): JobView {
  const env = d.runtime_env ?? {};
  const pip = env.pip as unknown;
  const envVars = env.env_vars as Record<string, string> | undefined;
  const status = (JOB_STATUSES as readonly string[]).includes(d.status) ? (d.status as JobStatus) : 'PENDING';
  return {
    submission_id: d.submission_id ?? d.job_id ?? '?',
    job_id: d.job_id ?? undefined,
    cluster_id: clusterId,
    status,
    entrypoint: clip(d.entrypoint, 500) ?? '',
    message: clip(d.message, 1000),
    error_type: d.error_type ?? undefined,
    start_time: iso(d.start_time),
    end_time: iso(d.end_time),
    duration_seconds:
      d.start_time && d.end_time ? Math.round((d.end_time - d.start_time) / 100) / 10 : undefined,
    metadata: d.metadata ?? undefined,
    runtime_env:
      Object.keys(env).length > 0
        ? {
            working_dir: typeof env.working_dir === 'string' ? env.working_dir : undefined,
            pip: Array.isArray(pip) ? pip.length : pip && typeof pip === 'object' ? 1 : undefined,
            env_vars: envVars ? Object.keys(envVars) : undefined,
          }
        : undefined,
    driver:
      d.driver_info || d.driver_exit_code != null || d.driver_node_id
        ? {
            node_id: d.driver_node_id ?? undefined,
            node_ip: d.driver_info?.node_ip_address,
            pid: d.driver_info?.pid,
            exit_code: d.driver_exit_code ?? undefined,
          }
        : undefined,
  };
}

/** What a cluster's job watcher tells its jobs actor. */
export type JobsFact =
  | {
      type: 'ray.jobsListed';
      jobs: JobView[];
      /** When the dashboard answered (ms). */
      at: number;
    }
  | { type: 'ray.jobsPollFailed'; error: string };
