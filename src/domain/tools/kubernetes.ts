/** The zod schemas of the Kubernetes tools (inputs and outputs), shared by the tools and their flows. */
import { z } from 'zod';
import { CloudClusterInfoSchema, CloudClusterSummarySchema, CloudProviderSchema } from '../cloud.js';
import { ConnectionViewSchema } from '../kube.js';

/** kubeconfig (the user's contexts), or a managed cloud. `local`/`kubernetes`/`k8s` mean kubeconfig. */
export const ProviderSchema = z.preprocess(
  (v) =>
    typeof v === 'string' && ['local', 'kubernetes', 'k8s', 'kubeconfig'].includes(v.trim().toLowerCase())
      ? 'kubeconfig'
      : v,
  z.union([z.literal('kubeconfig'), CloudProviderSchema], {
    error: 'provider must be kubeconfig, gke (gcp) or eks (aws)',
  }),
);

export const cloudWhere = {
  project_id: z.string().optional().describe('GKE'),
  zone: z.string().optional().describe('GKE'),
  region: z.string().optional(),
  location: z.string().optional().describe('= zone/region'),
};

export const ListKubernetesInputSchema = z
  .object({ provider: ProviderSchema.optional(), ...cloudWhere, cursor: z.string().optional() })
  .strict();
export type ListKubernetesInput = z.infer<typeof ListKubernetesInputSchema>;
export const ListKubernetesOutputSchema = z.object({
  provider: z.string(),
  contexts: z
    .array(
      z.object({
        name: z.string(),
        cluster: z.string(),
        namespace: z.string().optional(),
        current: z.boolean(),
        connection: z.string().optional().describe("Status of ray-mcp's connection to it, if any"),
      }),
    )
    .optional(),
  current_context: z.string().optional(),
  clusters: z.array(CloudClusterSummarySchema).optional(),
  project: z.string().optional(),
  location: z.string().optional(),
  next_cursor: z.string().optional(),
});
export type ListKubernetesOutput = z.infer<typeof ListKubernetesOutputSchema>;

export const ConnectKubernetesInputSchema = z
  .object({
    provider: ProviderSchema.optional(),
    context: z.string().min(1).optional(),
    cluster_name: z.string().min(1).optional(),
    ...cloudWhere,
    write_kubeconfig: z.boolean().optional().describe('gke/eks'),
  })
  .strict();
export type ConnectKubernetesInput = z.infer<typeof ConnectKubernetesInputSchema>;
export const ConnectKubernetesOutputSchema = ConnectionViewSchema.extend({
  kubeconfig_written: z.string().optional(),
});
export type ConnectKubernetesOutput = z.infer<typeof ConnectKubernetesOutputSchema>;

export const KubernetesInfoInputSchema = z
  .object({
    provider: ProviderSchema.optional(),
    context: z.string().min(1).optional(),
    cluster_name: z.string().min(1).optional(),
    ...cloudWhere,
  })
  .strict();
export type KubernetesInfoInput = z.infer<typeof KubernetesInfoInputSchema>;
export const KubernetesInfoOutputSchema = z.object({
  connection: ConnectionViewSchema.optional(),
  kubernetes: z
    .object({
      version: z.string(),
      platform: z.string().optional(),
      nodes: z.object({
        total: z.number(),
        ready: z.number(),
        cpu: z.number(),
        memory_gi: z.number(),
        gpus: z.record(z.string(), z.number()),
        sample: z.array(z.string()),
      }),
      namespaces: z.array(z.string()),
      namespaces_truncated: z.boolean(),
      kuberay: z.object({
        crds: z.array(z.object({ name: z.string(), versions: z.array(z.string()) })),
        crds_installed: z.boolean(),
        operator: z
          .object({
            namespace: z.string(),
            name: z.string(),
            image: z.string().optional(),
            version: z.string().optional(),
            ready: z.boolean(),
          })
          .optional(),
      }),
      problems: z.array(z.string()).describe('What could not be read (often: missing rights)'),
      unreadable: z
        .array(z.string())
        .optional()
        .describe(
          'Parts that could not be read (nodes, namespaces, crds, operator) and why; their fields are not the truth',
        ),
    })
    .optional(),
  cloud: CloudClusterInfoSchema.optional(),
});
export type KubernetesInfoOutput = z.infer<typeof KubernetesInfoOutputSchema>;
