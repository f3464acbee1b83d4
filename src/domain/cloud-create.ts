/**
 * Cluster creation, pure: the input schema of create_kubernetes_cluster, its checks, the spec
 * both clouds share, the exact API requests it turns into (so a dry run shows them), GPU facts
 * and a rough cost estimate. No I/O.
 */
import { z } from 'zod';
import {
  AwsRegionSchema,
  CloudClusterNameSchema,
  type CloudProvider,
  type ClusterCreateSpec,
  GkeLocationSchema,
  GkeProjectSchema,
  MANAGED_BY_KEY,
  MANAGED_BY_VALUE,
  type NodePoolSpec,
} from './cloud.js';
import { RayMcpError } from './errors.js';

const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
export const MAX_POOLS = 5;
export const MAX_TOTAL_NODES = 100;
export const MAX_TOTAL_GPUS = 64;

export const NodePoolInputSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,38}[a-z0-9]$/, 'pool names are 2-40 lowercase letters, digits and dashes'),
    machine_type: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9.-]{1,60}$/,
        'a machine type looks like e2-standard-8 (GKE) or m5.2xlarge (EKS)',
      )
      .describe('e.g. e2-standard-8, m5.2xlarge'),
    node_count: z.number().int().min(0).max(MAX_TOTAL_NODES),
    min_nodes: z.number().int().min(0).max(1000).optional(),
    max_nodes: z.number().int().min(1).max(1000).optional(),
    gpu_type: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{1,60}$/)
      .optional()
      .describe('GKE, e.g. nvidia-l4'),
    gpu_count: z.number().int().min(1).max(16).optional().describe('GKE, per node'),
    disk_size_gb: z.number().int().min(20).max(2000).optional(),
    spot: z.boolean().optional(),
  })
  .strict();

export const ClusterSpecInputSchema = z
  .object({
    name: CloudClusterNameSchema,
    project_id: GkeProjectSchema.optional().describe('GKE'),
    zone: z.string().optional().describe('GKE'),
    region: z.string().optional(),
    location: z.string().optional().describe('= zone/region'),
    version: z
      .string()
      .regex(/^\d+\.\d+(\.[0-9A-Za-z.-]+)?$/, 'a Kubernetes version looks like 1.33')
      .optional(),
    machine_type: z.string().optional().describe('One pool, with initial_node_count'),
    initial_node_count: z.number().int().min(1).max(MAX_TOTAL_NODES).optional(),
    node_pools: z.array(NodePoolInputSchema).min(1).max(MAX_POOLS).optional(),
    role_arn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'role_arn must be an IAM role ARN')
      .optional()
      .describe('EKS'),
    node_role_arn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'node_role_arn must be an IAM role ARN')
      .optional()
      .describe('EKS'),
    subnet_ids: z
      .array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'subnet ids look like subnet-0abc12345def67890'))
      .min(2, 'EKS needs subnets in at least two availability zones')
      .max(16)
      .optional()
      .describe('EKS: in ≥ 2 zones'),
    security_group_ids: z
      .array(z.string().regex(/^sg-[0-9a-f]{8,17}$/))
      .max(5)
      .optional(),
    labels: z
      .record(
        z.string().regex(LABEL_KEY, 'label keys are lowercase letters, digits, _ and -'),
        z.string().regex(LABEL_VALUE, 'label values are lowercase letters, digits, _ and -'),
      )
      .optional()
      .describe('GKE labels, EKS tags'),
  })
  .strict();
export type ClusterSpecInput = z.infer<typeof ClusterSpecInputSchema>;

const bad = (message: string, fix: string) => new RayMcpError('invalid_input', message, fix);

/** `table[key]` when it is the table's own entry: never Object.prototype's (`constructor`, `__proto__`). */
function own<T>(table: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** GKE machine types: family-shape[-size] (e2-standard-8, a2-highgpu-1g, n2-custom-4-16384). */
const GKE_MACHINE_TYPE = /^[a-z][a-z0-9]{0,9}(-[a-z0-9]{1,20}){1,4}$/;
/** EC2 instance types: family.size (m5.2xlarge, u-6tb1.metal, m7i-flex.large). */
const EC2_INSTANCE_TYPE = /^[a-z][a-z0-9-]{0,20}\.[a-z0-9-]{1,20}$/;
const shown = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);

/** The input, checked as a whole and completed with defaults: what would be created. */
export function toCreateSpec(
  provider: CloudProvider,
  input: ClusterSpecInput,
  defaults: { project?: string; region?: string },
): ClusterCreateSpec {
  const location =
    input.location ?? input.zone ?? input.region ?? (provider === 'eks' ? defaults.region : undefined);
  if (!location) {
    throw bad(
      `No ${provider === 'gke' ? 'zone or region' : 'region'} for cluster ${input.name}.`,
      provider === 'gke'
        ? 'Pass cluster_spec.zone (e.g. us-central1-a, a zonal cluster: cheaper) or cluster_spec.region.'
        : 'Pass cluster_spec.region (e.g. us-east-1), or authenticate with a region.',
    );
  }
  // Every place given is checked, not only the one used.
  const places = [input.location, input.zone, input.region, location].filter((l) => l !== undefined);
  const wrong = places.find(
    (l) =>
      l === '-' ||
      !(provider === 'gke' ? GkeLocationSchema.safeParse(l) : AwsRegionSchema.safeParse(l)).success,
  );
  if (wrong !== undefined) {
    throw bad(
      `${shown(wrong)} is not a ${provider === 'gke' ? 'GCP zone or region' : 'AWS region'}.`,
      provider === 'gke'
        ? 'Use a zone like us-central1-a or a region like us-central1.'
        : 'Use a region like us-east-1.',
    );
  }
  const project = provider === 'gke' ? (input.project_id ?? defaults.project) : undefined;
  if (provider === 'gke' && !project) {
    throw bad(
      'No GCP project to create the cluster in.',
      'Pass project_id (or cluster_spec.project_id), or authenticate_cloud_provider with project_id.',
    );
  }

  let pools: NodePoolSpec[];
  if (input.node_pools) {
    if (input.machine_type || input.initial_node_count)
      throw bad(
        'Pass either node_pools or machine_type/initial_node_count, not both.',
        'Move the machine type into a node pool.',
      );
    pools = input.node_pools.map((p) => ({ ...p }));
  } else {
    pools = [
      {
        name: provider === 'gke' ? 'default-pool' : 'default',
        machine_type: input.machine_type ?? (provider === 'gke' ? 'e2-standard-4' : 'm5.xlarge'),
        node_count: input.initial_node_count ?? 1,
      },
    ];
  }
  const names = new Set<string>();
  for (const p of pools) {
    if (names.has(p.name)) throw bad(`Two node pools are named ${p.name}.`, 'Give each pool its own name.');
    names.add(p.name);
    checkPool(provider, p);
  }
  const totalNodes = pools.reduce((n, p) => n + Math.max(p.node_count, p.max_nodes ?? 0), 0);
  if (totalNodes > MAX_TOTAL_NODES)
    throw bad(
      `The pools add up to ${totalNodes} nodes (counting autoscaling maximums); ray-mcp creates at most ${MAX_TOTAL_NODES}.`,
      'Use fewer or larger nodes; grow the cluster later with the cloud console or CLI.',
    );
  const totalGpus = pools.reduce(
    (n, p) => n + Math.max(p.node_count, p.max_nodes ?? 0) * (gpusOf(provider, p)?.count ?? 0),
    0,
  );
  if (totalGpus > MAX_TOTAL_GPUS)
    throw bad(
      `The pools may use ${totalGpus} GPUs; ray-mcp creates at most ${MAX_TOTAL_GPUS}.`,
      'Lower node_count/max_nodes of the GPU pools.',
    );

  let eks: ClusterCreateSpec['eks'];
  if (provider === 'eks') {
    const missing = (['role_arn', 'node_role_arn', 'subnet_ids'] as const).filter((k) => !input[k]);
    if (missing.length) {
      throw bad(
        `EKS needs ${missing.join(', ')} to create a cluster; ray-mcp does not create IAM roles or VPCs.`,
        'Pass cluster_spec.role_arn (cluster role), node_role_arn (node role) and subnet_ids (two or more AZs); ' +
          'get_cloud_config_template(provider="eks") shows a full example and docs/CLOUD.md the policies.',
      );
    }
    eks = {
      role_arn: input.role_arn!,
      node_role_arn: input.node_role_arn!,
      subnet_ids: input.subnet_ids!,
      security_group_ids: input.security_group_ids,
    };
  } else if (input.role_arn || input.node_role_arn || input.subnet_ids || input.security_group_ids) {
    throw bad(
      'role_arn, node_role_arn, subnet_ids and security_group_ids are for EKS only.',
      'Drop them for GKE.',
    );
  }
  return {
    provider,
    name: input.name,
    location,
    project,
    version: input.version,
    node_pools: pools,
    eks,
    labels: { ...input.labels, [MANAGED_BY_KEY]: MANAGED_BY_VALUE },
  };
}

function checkPool(provider: CloudProvider, p: NodePoolSpec): void {
  if (p.min_nodes !== undefined || p.max_nodes !== undefined) {
    const min = p.min_nodes ?? 0;
    const max = p.max_nodes ?? Math.max(p.node_count, 1);
    if (min > max || p.node_count < min || p.node_count > max)
      throw bad(
        `Pool ${p.name}: need min_nodes <= node_count <= max_nodes (got ${min} <= ${p.node_count} <= ${max}).`,
        'Fix the pool sizes.',
      );
  }
  if (provider === 'gke') {
    if (p.machine_type.includes('.'))
      throw bad(
        `${shown(p.machine_type)} is an AWS instance type, not a GKE machine type.`,
        'Use e.g. e2-standard-8.',
      );
    if (!GKE_MACHINE_TYPE.test(p.machine_type))
      throw bad(
        `${shown(p.machine_type)} is not a GKE machine type.`,
        'Use one like e2-standard-8, n2-highmem-4 or g2-standard-8 (gcloud compute machine-types list).',
      );
    if ((p.gpu_type === undefined) !== (p.gpu_count === undefined))
      throw bad(
        `Pool ${p.name}: gpu_type and gpu_count go together.`,
        'Pass both (e.g. nvidia-tesla-t4 and 1), or neither.',
      );
  } else {
    if (!EC2_INSTANCE_TYPE.test(p.machine_type))
      throw bad(
        `${shown(p.machine_type)} is not an EC2 instance type.`,
        'Use e.g. m5.xlarge, or g5.xlarge for a GPU.',
      );
    const gpu = ec2Gpus(p.machine_type);
    if ((p.gpu_type || p.gpu_count) && !gpu)
      throw bad(
        `On EKS the GPU comes with the instance type, and ${p.machine_type} has none.`,
        'Pick a GPU instance type, e.g. g5.xlarge (1 A10G), g6.xlarge (1 L4), g4dn.xlarge (1 T4), p4d.24xlarge (8 A100).',
      );
    if (gpu && p.gpu_count && p.gpu_count !== gpu.count)
      throw bad(
        `${p.machine_type} has ${gpu.count} GPU(s), not ${p.gpu_count}.`,
        'Drop gpu_count (it follows the instance type) or pick another instance type.',
      );
  }
}

/** GPUs of EC2 instance types ray-mcp knows (type per family, count per size). */
const EC2_GPU_FAMILIES: Record<string, { type: string; counts: Record<string, number> }> = {
  g4dn: {
    type: 'nvidia-t4',
    counts: { xlarge: 1, '2xlarge': 1, '4xlarge': 1, '8xlarge': 1, '16xlarge': 1, '12xlarge': 4, metal: 8 },
  },
  g5: {
    type: 'nvidia-a10g',
    counts: {
      xlarge: 1,
      '2xlarge': 1,
      '4xlarge': 1,
      '8xlarge': 1,
      '16xlarge': 1,
      '12xlarge': 4,
      '24xlarge': 4,
      '48xlarge': 8,
    },
  },
  g6: {
    type: 'nvidia-l4',
    counts: {
      xlarge: 1,
      '2xlarge': 1,
      '4xlarge': 1,
      '8xlarge': 1,
      '16xlarge': 1,
      '12xlarge': 4,
      '24xlarge': 4,
      '48xlarge': 8,
    },
  },
  g6e: {
    type: 'nvidia-l40s',
    counts: {
      xlarge: 1,
      '2xlarge': 1,
      '4xlarge': 1,
      '8xlarge': 1,
      '16xlarge': 1,
      '12xlarge': 4,
      '24xlarge': 4,
      '48xlarge': 8,
    },
  },
  p3: { type: 'nvidia-v100', counts: { '2xlarge': 1, '8xlarge': 4, '16xlarge': 8 } },
  p4d: { type: 'nvidia-a100', counts: { '24xlarge': 8 } },
  p4de: { type: 'nvidia-a100-80gb', counts: { '24xlarge': 8 } },
  p5: { type: 'nvidia-h100', counts: { '48xlarge': 8 } },
};

export function ec2Gpus(instanceType: string): { type: string; count: number } | undefined {
  const [family, size] = instanceType.split('.');
  const f = family ? own(EC2_GPU_FAMILIES, family) : undefined;
  const count = f && size ? own(f.counts, size) : undefined;
  return f && count ? { type: f.type, count } : undefined;
}

/** GKE machine families with GPUs built in (A2, A3, G2); others take accelerators. */
export function gkeBuiltInGpus(machineType: string): { type: string; count: number } | undefined {
  const a2 = /^a2-(?:highgpu|megagpu|ultragpu)-(\d+)g$/.exec(machineType);
  if (a2)
    return {
      type: machineType.includes('ultra') ? 'nvidia-a100-80gb' : 'nvidia-tesla-a100',
      count: Number(a2[1]),
    };
  const a3 = /^a3-(?:highgpu|megagpu|edgegpu)-(\d+)g$/.exec(machineType);
  if (a3) return { type: 'nvidia-h100-80gb', count: Number(a3[1]) };
  const g2 = /^g2-standard-(\d+)$/.exec(machineType);
  if (g2) {
    const vcpus = Number(g2[1]);
    return { type: 'nvidia-l4', count: vcpus >= 96 ? 8 : vcpus >= 48 ? 4 : vcpus >= 24 ? 2 : 1 };
  }
  return undefined;
}

export function gpusOf(
  provider: CloudProvider,
  p: NodePoolSpec,
): { type: string; count: number } | undefined {
  if (provider === 'eks') return ec2Gpus(p.machine_type);
  if (p.gpu_type && p.gpu_count) return { type: p.gpu_type, count: p.gpu_count };
  return gkeBuiltInGpus(p.machine_type);
}

const POOL_LABEL = 'ray-mcp.io/pool';

/** The GKE createCluster request (REST v1 field names). */
export function gkeCreateRequest(spec: ClusterCreateSpec): {
  parent: string;
  cluster: Record<string, unknown>;
} {
  return {
    parent: `projects/${spec.project}/locations/${spec.location}`,
    cluster: {
      name: spec.name,
      description: 'Created by ray-mcp',
      ...(spec.version && { initialClusterVersion: spec.version }),
      resourceLabels: spec.labels,
      nodePools: spec.node_pools.map((p) => {
        const gpu = p.gpu_type && p.gpu_count ? { type: p.gpu_type, count: p.gpu_count } : undefined;
        return {
          name: p.name,
          initialNodeCount: p.node_count,
          config: {
            machineType: p.machine_type,
            ...(p.disk_size_gb && { diskSizeGb: p.disk_size_gb }),
            ...(p.spot && { spot: true }),
            oauthScopes: ['https://www.googleapis.com/auth/cloud-platform'],
            labels: { [POOL_LABEL]: p.name },
            resourceLabels: spec.labels,
            ...(gpu && {
              accelerators: [
                {
                  acceleratorType: gpu.type,
                  acceleratorCount: String(gpu.count),
                  gpuDriverInstallationConfig: { gpuDriverVersion: 'DEFAULT' },
                },
              ],
            }),
          },
          ...((p.min_nodes !== undefined || p.max_nodes !== undefined) && {
            autoscaling: {
              enabled: true,
              minNodeCount: p.min_nodes ?? 0,
              maxNodeCount: p.max_nodes ?? Math.max(p.node_count, 1),
            },
          }),
          management: { autoRepair: true, autoUpgrade: true },
        };
      }),
    },
  };
}

export interface EksRequests {
  cluster: {
    name: string;
    version?: string;
    roleArn: string;
    resourcesVpcConfig: {
      subnetIds: string[];
      securityGroupIds?: string[];
      endpointPublicAccess: boolean;
      endpointPrivateAccess: boolean;
    };
    accessConfig: {
      authenticationMode: 'API_AND_CONFIG_MAP';
      bootstrapClusterCreatorAdminPermissions: boolean;
    };
    tags: Record<string, string>;
  };
  nodegroups: {
    clusterName: string;
    nodegroupName: string;
    nodeRole: string;
    subnets: string[];
    instanceTypes: string[];
    scalingConfig: { minSize: number; maxSize: number; desiredSize: number };
    diskSize?: number;
    amiType: string;
    capacityType: 'ON_DEMAND' | 'SPOT';
    labels: Record<string, string>;
    tags: Record<string, string>;
  }[];
}

/** The EKS CreateCluster request and, once the cluster is ACTIVE, one CreateNodegroup per pool. */
export function eksCreateRequests(spec: ClusterCreateSpec): EksRequests {
  const eks = spec.eks!;
  return {
    cluster: {
      name: spec.name,
      ...(spec.version && { version: spec.version }),
      roleArn: eks.role_arn,
      resourcesVpcConfig: {
        subnetIds: eks.subnet_ids,
        ...(eks.security_group_ids && { securityGroupIds: eks.security_group_ids }),
        endpointPublicAccess: true,
        endpointPrivateAccess: true,
      },
      // The creator (these credentials) gets cluster-admin through an access entry, so
      // connect_kubernetes_cluster works right after creation.
      accessConfig: {
        authenticationMode: 'API_AND_CONFIG_MAP',
        bootstrapClusterCreatorAdminPermissions: true,
      },
      tags: spec.labels,
    },
    nodegroups: spec.node_pools.map((p) => {
      const max = p.max_nodes ?? Math.max(p.node_count, 1);
      return {
        clusterName: spec.name,
        nodegroupName: p.name,
        nodeRole: eks.node_role_arn,
        subnets: eks.subnet_ids,
        instanceTypes: [p.machine_type],
        scalingConfig: {
          minSize: p.min_nodes ?? Math.min(p.node_count, max),
          maxSize: max,
          desiredSize: p.node_count,
        },
        ...(p.disk_size_gb && { diskSize: p.disk_size_gb }),
        amiType: ec2Gpus(p.machine_type) ? 'AL2023_x86_64_NVIDIA' : 'AL2023_x86_64_STANDARD',
        capacityType: p.spot ? 'SPOT' : 'ON_DEMAND',
        labels: { [POOL_LABEL]: p.name },
        tags: spec.labels,
      };
    }),
  };
}

/** Rough on-demand list prices, USD per hour, us regions (Nov 2025); absent = unknown. */
const HOURLY: Record<string, number> = {
  'e2-standard-2': 0.067,
  'e2-standard-4': 0.134,
  'e2-standard-8': 0.268,
  'e2-standard-16': 0.536,
  'e2-medium': 0.034,
  'n1-standard-4': 0.19,
  'n1-standard-8': 0.38,
  'n2-standard-8': 0.388,
  'g2-standard-8': 0.85,
  'a2-highgpu-1g': 3.67,
  'm5.large': 0.096,
  'm5.xlarge': 0.192,
  'm5.2xlarge': 0.384,
  'm5.4xlarge': 0.768,
  'm6i.xlarge': 0.192,
  'm6i.2xlarge': 0.384,
  'g4dn.xlarge': 0.526,
  'g5.xlarge': 1.006,
  'g5.2xlarge': 1.212,
  'g6.xlarge': 0.805,
  'p3.2xlarge': 3.06,
};
const GKE_ACCELERATOR_HOURLY: Record<string, number> = {
  'nvidia-tesla-t4': 0.35,
  'nvidia-l4': 0.56,
  'nvidia-tesla-v100': 2.48,
  'nvidia-tesla-a100': 2.93,
};

export const CONTROL_PLANE_HOURLY = 0.1;

export interface CostEstimate {
  control_plane_per_hour: number;
  /** At the starting node counts; undefined when a machine type's price is unknown. */
  nodes_per_hour?: number;
  total_per_hour?: number;
  gpus: number;
  note: string;
}

export function estimateCost(spec: ClusterCreateSpec): CostEstimate {
  let nodes = 0;
  let known = true;
  let gpus = 0;
  for (const p of spec.node_pools) {
    const base = own(HOURLY, p.machine_type);
    const gpu = gpusOf(spec.provider, p);
    gpus += p.node_count * (gpu?.count ?? 0);
    const extra =
      spec.provider === 'gke' && p.gpu_type && p.gpu_count ? own(GKE_ACCELERATOR_HOURLY, p.gpu_type) : 0;
    if (base === undefined || extra === undefined || !Number.isFinite(base + extra)) known = false;
    else nodes += p.node_count * (base + extra * (p.gpu_count ?? 0));
  }
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    control_plane_per_hour: CONTROL_PLANE_HOURLY,
    nodes_per_hour: known ? round(nodes) : undefined,
    total_per_hour: known ? round(CONTROL_PLANE_HOURLY + nodes) : undefined,
    gpus,
    note:
      'Rough on-demand list prices in US regions; disks, load balancers, egress and extended support are extra. ' +
      'The control plane bills about $0.10/h from creation until deletion (GKE: one zonal or Autopilot cluster is ' +
      'covered by the free tier credit); nodes bill while they exist, GPU nodes much more.',
  };
}
