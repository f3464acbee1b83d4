/** The zod schemas of the Ray Serve tools (inputs and outputs), shared by the tools and their flows. */
import { z } from 'zod';
import { ClusterIdSchema } from '../cluster.js';
import { RuntimeEnvSchema } from '../jobs.js';

const clusterIdArg = ClusterIdSchema.optional().describe('default: current');

export const ServeAppNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'letters, digits, _ . - (at most 63)');

const resource = z.number().min(0);

const DeploymentConfigSchema = z
  .object({
    name: z.string().min(1).max(100).describe('Class or function name, unless renamed'),
    num_replicas: z.number().int().min(0).max(100).optional(),
    autoscaling: z
      .object({
        min_replicas: z.number().int().min(0),
        max_replicas: z.number().int().min(1),
        target_ongoing_requests: z.number().positive().optional(),
      })
      .strict()
      .optional()
      .describe('Instead of num_replicas'),
    num_cpus: resource.optional().describe('Per replica'),
    num_gpus: resource.optional(),
    memory: resource.optional().describe('Bytes per replica'),
    resources: z.record(z.string(), resource).optional(),
    max_ongoing_requests: z.number().int().min(1).optional(),
  })
  .strict();
export type DeploymentConfigInput = z.infer<typeof DeploymentConfigSchema>;

export const DeployServeInputSchema = z
  .object({
    cluster_id: clusterIdArg,
    name: ServeAppNameSchema.default('default').describe('Same name again: update'),
    import_path: z
      .string()
      .regex(/^[A-Za-z_][\w.]*[:.][A-Za-z_]\w*$/, 'module:attribute, e.g. app:app')
      .describe('module:app, app = X.bind()'),
    route_prefix: z
      .string()
      .regex(/^\/[\w\-./]*$/, 'starts with /')
      .optional()
      .describe('Default /<name>'),
    runtime_env: RuntimeEnvSchema.optional(),
    deployments: z.array(DeploymentConfigSchema).max(20).optional().describe('Per-deployment overrides'),
    wait_seconds: z.number().int().min(0).max(300).optional().describe('default 45'),
  })
  .strict();
export type DeployServeInput = z.infer<typeof DeployServeInputSchema>;

export const ListServeInputSchema = z
  .object({
    cluster_id: clusterIdArg,
    name: ServeAppNameSchema.optional().describe('Only this application'),
  })
  .strict();
export type ListServeInput = z.infer<typeof ListServeInputSchema>;

export const DeleteServeInputSchema = z
  .object({
    cluster_id: clusterIdArg,
    name: ServeAppNameSchema.describe('The application'),
  })
  .strict();
export type DeleteServeInput = z.infer<typeof DeleteServeInputSchema>;

const ServeDeploymentSchema = z.object({
  name: z.string(),
  status: z.string(),
  message: z.string().optional(),
  target_replicas: z.number().optional(),
  replicas: z.record(z.string(), z.number()).describe('Replicas by state'),
  autoscaling: z.boolean(),
});

export const ServeAppSchema = z.object({
  name: z.string(),
  status: z.string().describe('NOT_STARTED, DEPLOYING, RUNNING, DEPLOY_FAILED, UNHEALTHY, DELETING'),
  message: z.string().optional().describe("Ray's message (untrusted, bounded)"),
  route_prefix: z.string().optional(),
  url: z.string().optional(),
  import_path: z.string().optional(),
  deployed_at: z.string().optional(),
  deployments: z.array(ServeDeploymentSchema),
  healthy: z.boolean(),
});

export const DeployServeOutputSchema = z.object({
  cluster_id: z.string(),
  app: ServeAppSchema,
  ready: z.boolean().describe('Running and healthy'),
  failed: z.boolean(),
  waited_seconds: z.number(),
});
export type DeployServeOutput = z.infer<typeof DeployServeOutputSchema>;

export const ListServeOutputSchema = z.object({
  cluster_id: z.string(),
  running: z.boolean().describe('Serve runs on the cluster'),
  proxy_url: z.string().optional(),
  apps: z.array(ServeAppSchema),
});
export type ListServeOutput = z.infer<typeof ListServeOutputSchema>;

export const DeleteServeOutputSchema = z.object({
  cluster_id: z.string(),
  name: z.string(),
  deleted: z.boolean().describe('False: there was no such application'),
  serve_stopped: z.boolean().describe('It was the last application: Serve was shut down, its port freed'),
  remaining: z.array(z.string()),
});
export type DeleteServeOutput = z.infer<typeof DeleteServeOutputSchema>;
