/**
 * The zod schemas of the job, log and RayJob tools (inputs and outputs), shared by the tools and
 * their flows, and the URIs of the job resources.
 */

import { z } from 'zod';
import { ClusterIdSchema } from '../cluster.js';
import {
  checkMetadataSize,
  JOB_STATUSES,
  JobViewSchema,
  RuntimeEnvSchema,
  SubmissionIdSchema,
} from '../jobs.js';
import { KubeEventsSchema } from '../kube-events.js';
import {
  NamespaceSchema,
  PodResourcesSchema,
  RAYJOB_DEPLOYMENT_STATUSES,
  WorkerGroupSpecSchema,
} from '../kuberay.js';
import { confirmationField, confirmTokenArg } from './confirm.js';

export const jobUri = (clusterId: string, sid: string) => `ray://clusters/${clusterId}/jobs/${sid}`;
export { jobsUri } from '../signatures.js';
/** The RayJob's resource; the context is URI-encoded (cloud connection ids hold `:` and `/`). */
export const rayJobUri = (context: string, namespace: string, name: string) =>
  `ray://kubernetes/${encodeURIComponent(context)}/namespaces/${namespace}/rayjobs/${name}`;

/** Optional: the current cluster (the tools' descriptions and errors say so; every byte here is paid per turn). */
const clusterIdArg = ClusterIdSchema.optional();

/** KubeRay names the RayJob's cluster `<name>-<5 chars>` and its services after that: 47 at most. */
export const RayJobNameSchema = z
  .string()
  .regex(
    /^[a-z]([-a-z0-9]{0,45}[a-z0-9])?$/,
    'a RayJob name is 1-47 lowercase letters, digits and dashes, starting with a letter',
  );

export const RayJobRefSchema = z
  .object({
    name: z.string(),
    namespace: z.string(),
    context: z.string().describe('The Kubernetes connection'),
    deployment_status: z.string().optional().describe("KubeRay's jobDeploymentStatus"),
    reason: z.string().optional(),
    ray_cluster: z.string().optional().describe('The RayCluster that runs it'),
    cluster_selector: z.string().optional().describe('Runs on this existing RayCluster'),
    owned: z.boolean().describe('Created by ray-mcp'),
    protected: z.boolean().optional().describe('ray-mcp/protected: delete refuses'),
    suspended: z.boolean(),
    shutdown_after_job_finishes: z.boolean(),
    deleting: z.boolean(),
    created_at: z.string().optional(),
    uri: z.string().describe('Its MCP resource: subscribe to hear when its status changes'),
  })
  .describe('KubeRay: the RayJob custom resource');
export type RayJobRef = z.infer<typeof RayJobRefSchema>;

export const FailureSchema = z.object({
  cause: z.string(),
  exception: z.object({ type: z.string(), message: z.string() }).optional(),
  innermost_frame: z
    .object({ file: z.string(), line: z.number(), function: z.string(), code: z.string().optional() })
    .optional(),
  missing_module: z.string().optional(),
  exit_code: z.number().optional(),
  suggestion: z.string(),
  failed_tasks: z
    .array(
      z.object({
        name: z.string(),
        error_type: z.string(),
        error: z.string().optional(),
        task_id: z.string(),
      }),
    )
    .optional(),
  dead_actors: z
    .array(
      z.object({
        class_name: z.string(),
        actor_id: z.string(),
        name: z.string().optional(),
        pid: z.number().optional(),
        death_cause: z.string(),
        message: z.string().optional(),
      }),
    )
    .optional(),
  ray_record: z.string().optional().describe("Ray's record of failed tasks and dead actors (untrusted)"),
});

/** The arguments that name a RayJob (inspect, cancel, wait). */
export const rayJobArgs = {
  rayjob: RayJobNameSchema.optional().describe('RayJob name'),
  namespace: NamespaceSchema.optional(),
  kubernetes_context: z.string().min(1).optional(),
};
export type RayJobArgs = { [K in keyof typeof rayJobArgs]?: z.output<(typeof rayJobArgs)[K]> };

/** submit_ray_job's arguments for a RayJob. */
export const rayJobSubmitArgs = {
  job_type: z
    .enum(['ray', 'rayjob', 'kuberay', 'kubernetes', 'local', 'auto'])
    .optional()
    .describe('"rayjob": a KubeRay RayJob; default "ray"'),
  ...rayJobArgs,
  rayjob_cluster: z
    .object({
      ray_version: z
        .string()
        .regex(/^\d+\.\d+\.\d+$/)
        .optional(),
      image: z.string().min(3).max(300).optional(),
      head_node_spec: PodResourcesSchema.optional(),
      worker_node_specs: z.array(WorkerGroupSpecSchema).max(16).optional(),
    })
    .strict()
    .optional()
    .describe('RayJob: its own cluster'),
  shutdown_after_job_finishes: z.boolean().optional().describe('RayJob: default true'),
  ttl_seconds_after_finished: z
    .number()
    .int()
    .min(0)
    .max(7 * 86400)
    .optional()
    .describe('RayJob'),
  active_deadline_seconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 86400)
    .optional()
    .describe('RayJob'),
};

/** Accepts `submission_id`, or `job_id` as calls written for the Python ray-mcp send it. */
const jobIdArgs = {
  cluster_id: clusterIdArg,
  submission_id: SubmissionIdSchema.optional(),
  job_id: SubmissionIdSchema.optional().describe('= submission_id'),
};

export const SubmitJobInputSchema = z
  .object({
    cluster_id: clusterIdArg,
    entrypoint: z.string().min(1).max(10_000).describe('e.g. "python train.py"'),
    submission_id: SubmissionIdSchema.optional().describe('Idempotency key'),
    runtime_env: RuntimeEnvSchema.optional(),
    metadata: z.record(z.string().max(100), z.string().max(1000)).superRefine(checkMetadataSize).optional(),
    entrypoint_num_cpus: z.number().min(0).optional(),
    entrypoint_num_gpus: z.number().min(0).optional(),
    entrypoint_memory: z.number().int().min(0).optional().describe('Bytes'),
    entrypoint_resources: z.record(z.string(), z.number().min(0)).optional(),
    ...rayJobSubmitArgs,
  })
  .strict();
export type SubmitJobInput = z.infer<typeof SubmitJobInputSchema>;

export const SubmitJobOutputSchema = JobViewSchema.extend({
  existed: z.boolean().describe('The submission_id (or RayJob name) was already taken by this job'),
  rayjob: RayJobRefSchema.optional(),
});
export type SubmitJobOutput = z.infer<typeof SubmitJobOutputSchema>;

export const ListJobsInputSchema = z
  .object({
    cluster_id: clusterIdArg,
    status: z.array(z.enum(JOB_STATUSES)).min(1).optional(),
    limit: z.number().int().min(1).max(100).optional().describe('default 20'),
    cursor: z
      .string()
      .regex(/^o:\d+$/, 'use the next_cursor of a previous list_ray_jobs')
      .optional(),
  })
  .strict();
export type ListJobsInput = z.infer<typeof ListJobsInputSchema>;

export const ListJobsOutputSchema = z.object({
  cluster_id: z.string(),
  jobs: z.array(
    z.object({
      submission_id: z.string(),
      status: z.enum(JOB_STATUSES),
      entrypoint: z.string(),
      start_time: z.string().optional(),
      end_time: z.string().optional(),
      message: z.string().optional(),
    }),
  ),
  total: z.number().describe('Jobs matching the filter'),
  next_cursor: z.string().optional(),
});
export type ListJobsOutput = z.infer<typeof ListJobsOutputSchema>;

export const InspectJobInputSchema = z.object({ ...jobIdArgs, ...rayJobArgs }).strict();
export type InspectJobInput = z.infer<typeof InspectJobInputSchema>;

export const InspectJobOutputSchema = JobViewSchema.extend({
  failure: FailureSchema.optional(),
  rayjob: RayJobRefSchema.optional(),
  events: KubeEventsSchema.optional(),
  events_note: z.string().optional(),
});
export type InspectJobOutput = z.infer<typeof InspectJobOutputSchema>;

export const CANCEL_MODES = ['suspend', 'stop', 'delete'] as const;

export const CancelJobInputSchema = z
  .object({
    ...jobIdArgs,
    ...rayJobArgs,
    mode: z.enum(CANCEL_MODES).optional().describe('RayJob'),
    confirm_token: confirmTokenArg,
  })
  .strict();
export type CancelJobInput = z.infer<typeof CancelJobInputSchema>;

export const CancelJobOutputSchema = JobViewSchema.extend({
  already_ended: z.boolean(),
  rayjob: RayJobRefSchema.optional(),
  mode: z.enum(CANCEL_MODES).optional().describe('RayJob: how it was cancelled'),
  ...confirmationField,
});
export type CancelJobOutput = z.infer<typeof CancelJobOutputSchema>;

export const WaitJobInputSchema = z
  .object({
    ...jobIdArgs,
    ...rayJobArgs,
    timeout_seconds: z.number().int().min(1).max(3600).optional().describe('default 300'),
  })
  .strict();
export type WaitJobInput = z.infer<typeof WaitJobInputSchema>;

export const WaitJobOutputSchema = JobViewSchema.extend({
  ended: z.boolean(),
  waited_seconds: z.number(),
  failure: FailureSchema.optional(),
  rayjob: RayJobRefSchema.optional(),
  events: KubeEventsSchema.optional(),
  events_note: z.string().optional(),
});
export type WaitJobOutput = z.infer<typeof WaitJobOutputSchema>;

export const DEFAULT_LOG_LINES = 100;

export const RetrieveLogsInputSchema = z
  .object({
    cluster_id: clusterIdArg,
    submission_id: SubmissionIdSchema.optional(),
    identity: SubmissionIdSchema.optional().describe('= submission_id'),
    lines: z.number().int().min(1).max(2000).optional().describe(`default ${DEFAULT_LOG_LINES}`),
    num_lines: z.number().int().min(1).max(2000).optional().describe('= lines'),
    max_bytes: z
      .number()
      .int()
      .min(1024)
      .max(256 * 1024)
      .optional()
      .describe('default 32 KiB'),
    cursor: z.string().max(100).optional().describe('older_cursor or newer_cursor'),
    analyze: z.boolean().optional().describe('default: when failed'),
    include_errors: z.boolean().optional().describe('= analyze'),
    ...rayJobArgs,
  })
  .strict();
export type RetrieveLogsInput = z.infer<typeof RetrieveLogsInputSchema>;

export const RetrieveLogsOutputSchema = z.object({
  submission_id: z.string(),
  cluster_id: z.string(),
  status: z.enum(JOB_STATUSES),
  log: z.string().describe('Untrusted text written by the job'),
  untrusted: z.literal(true),
  lines: z.number(),
  truncated: z.boolean().describe('The page hit the byte cap'),
  older_cursor: z.string().optional(),
  newer_cursor: z.string(),
  failure: FailureSchema.optional(),
  events: KubeEventsSchema.optional().describe('KubeRay: Warning events of the cluster and its pods'),
});
export type RetrieveLogsOutput = z.infer<typeof RetrieveLogsOutputSchema>;

export const ListRayJobsInputSchema = z
  .object({
    namespace: NamespaceSchema.optional(),
    all_namespaces: z.boolean().optional(),
    kubernetes_context: rayJobArgs.kubernetes_context,
    deployment_status: z.array(z.enum(RAYJOB_DEPLOYMENT_STATUSES)).min(1).optional(),
    limit: z.number().int().min(1).max(100).optional().describe('default 20'),
    cursor: z
      .string()
      .regex(/^o:\d+$/, 'use the next_cursor of a previous list_kuberay_jobs')
      .optional(),
  })
  .strict();
export type ListRayJobsInput = z.infer<typeof ListRayJobsInputSchema>;

export const ListRayJobsOutputSchema = z.object({
  context: z.string(),
  namespace: z.string().describe('The namespace listed; "" for all'),
  rayjobs: z.array(
    z.object({
      name: z.string(),
      namespace: z.string(),
      deployment_status: z.string().optional(),
      job_status: z.string().optional(),
      ray_cluster: z.string().optional(),
      entrypoint: z.string(),
      owned: z.boolean(),
      created_at: z.string().optional(),
      message: z.string().optional(),
    }),
  ),
  total: z.number(),
  next_cursor: z.string().optional(),
});
export type ListRayJobsOutput = z.infer<typeof ListRayJobsOutputSchema>;

/** A row of the job-list resource. */
export interface JobResourceRow {
  submission_id: string;
  status: (typeof JOB_STATUSES)[number];
  start_time?: string;
  end_time?: string;
}
export { jobListSignature, jobSignature, MAX_RESOURCE_JOBS, rayJobSignature } from '../signatures.js';
