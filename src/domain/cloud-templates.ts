/**
 * Working starting points for get_cloud_config_template: the arguments of
 * create_kubernetes_cluster for GKE and EKS (a CPU pool, and with `gpu` a GPU pool that scales
 * from zero), and of init_ray_cluster for a KubeRay cluster. Tests parse each with the tool's own
 * input schema, so a template never drifts from what the tools accept.
 */
import { CONTROL_PLANE_HOURLY } from './cloud-create.js';

export const TEMPLATE_PROVIDERS = ['gke', 'eks', 'kuberay'] as const;
export type TemplateProvider = (typeof TEMPLATE_PROVIDERS)[number];
export const TEMPLATE_TYPES = ['basic', 'gpu'] as const;
export type TemplateType = (typeof TEMPLATE_TYPES)[number];

/** A JSON value (a template is sent as JSON, and its output schema says so). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface CloudTemplate {
  provider: TemplateProvider;
  template_type: TemplateType;
  tool: 'create_kubernetes_cluster' | 'init_ray_cluster';
  arguments: { [key: string]: Json };
  /** What to change before using it, and what it costs. */
  notes: string[];
  permissions: string[];
  setup: string[];
}

export function cloudTemplate(provider: TemplateProvider, type: TemplateType): CloudTemplate {
  const gpu = type === 'gpu';
  if (provider === 'gke') {
    return {
      provider,
      template_type: type,
      tool: 'create_kubernetes_cluster',
      arguments: {
        provider: 'gke',
        project_id: 'my-gcp-project',
        dry_run: true,
        cluster_spec: {
          name: 'ray-gke',
          zone: 'us-central1-a',
          node_pools: [
            { name: 'cpu', machine_type: 'e2-standard-8', node_count: 1, min_nodes: 1, max_nodes: 3 },
            ...(gpu
              ? [
                  {
                    name: 'gpu-t4',
                    machine_type: 'n1-standard-8',
                    node_count: 0,
                    min_nodes: 0,
                    max_nodes: 2,
                    gpu_type: 'nvidia-tesla-t4',
                    gpu_count: 1,
                  },
                ]
              : []),
          ],
          labels: { team: 'ml' },
        },
      },
      notes: [
        'Replace project_id; keep dry_run: true to see the exact request, then set it to false to create.',
        'A zonal cluster (zone) costs less than a regional one (region) and the GKE free tier credit covers one.',
        `Control plane about $${CONTROL_PLANE_HOURLY}/h; e2-standard-8 about $0.27/h per node${gpu ? '; a T4 node about $0.73/h (scales from 0, so it costs nothing until a Ray GPU worker needs it)' : ''}.`,
        ...(gpu
          ? [
              'GPU quota (NVIDIA_T4_GPUS) must be above 0 in the region, or the creation fails with a quota error.',
            ]
          : []),
      ],
      permissions: [
        'roles/container.admin (or roles/container.clusterAdmin) on the project',
        'roles/iam.serviceAccountUser on the node service account (default: the Compute Engine default service account)',
      ],
      setup: [
        'gcloud auth application-default login   (or a service-account key: authenticate_cloud_provider(provider="gke", service_account_path=...))',
        'gcloud services enable container.googleapis.com --project my-gcp-project',
      ],
    };
  }
  if (provider === 'eks') {
    return {
      provider,
      template_type: type,
      tool: 'create_kubernetes_cluster',
      arguments: {
        provider: 'eks',
        dry_run: true,
        cluster_spec: {
          name: 'ray-eks',
          region: 'us-east-1',
          role_arn: 'arn:aws:iam::123456789012:role/ray-mcp-eks-cluster',
          node_role_arn: 'arn:aws:iam::123456789012:role/ray-mcp-eks-node',
          subnet_ids: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'],
          node_pools: [
            { name: 'cpu', machine_type: 'm5.2xlarge', node_count: 1, min_nodes: 1, max_nodes: 3 },
            ...(gpu
              ? [{ name: 'gpu-a10g', machine_type: 'g5.xlarge', node_count: 0, min_nodes: 0, max_nodes: 2 }]
              : []),
          ],
          labels: { team: 'ml' },
        },
      },
      notes: [
        'Replace the account id in both role ARNs and the subnet ids (two or more availability zones, with routes to the internet or VPC endpoints for ECR and EKS).',
        'Keep dry_run: true to see the exact CreateCluster and CreateNodegroup requests, then set it to false.',
        `Control plane $${CONTROL_PLANE_HOURLY}/h ($0.60/h on extended-support versions); m5.2xlarge about $0.38/h per node${gpu ? '; g5.xlarge (1 A10G) about $1.01/h per node, from 0 nodes' : ''}.`,
        'Creation takes 10-20 minutes: the node groups are created once the control plane is ACTIVE.',
      ],
      permissions: [
        'eks:CreateCluster, eks:CreateNodegroup, eks:DescribeCluster, eks:DescribeNodegroup, eks:ListClusters, eks:ListNodegroups, eks:TagResource',
        'iam:PassRole on the cluster and node roles; iam:CreateServiceLinkedRole (first cluster in the account)',
        'ec2:DescribeSubnets, ec2:DescribeSecurityGroups, ec2:DescribeVpcs',
        'Cluster role: AmazonEKSClusterPolicy. Node role: AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy, AmazonEC2ContainerRegistryReadOnly',
      ],
      setup: [
        'aws configure (or aws sso login); authenticate_cloud_provider(provider="eks", region="us-east-1", profile=...)',
      ],
    };
  }
  return {
    provider,
    template_type: type,
    tool: 'init_ray_cluster',
    arguments: {
      cluster_type: 'kubernetes',
      cluster_name: 'ray-k8s',
      namespace: 'default',
      head_node_spec: { num_cpus: 2, memory: '8Gi' },
      worker_node_specs: [
        {
          group_name: 'cpu-workers',
          replicas: 1,
          min_replicas: 0,
          max_replicas: 3,
          num_cpus: 4,
          memory: '16Gi',
        },
        ...(gpu
          ? [
              {
                group_name: 'gpu-workers',
                replicas: 0,
                min_replicas: 0,
                max_replicas: 2,
                num_cpus: 4,
                memory: '16Gi',
                num_gpus: 1,
              },
            ]
          : []),
      ],
      service_type: 'ClusterIP',
    },
    notes: [
      'Connect first (connect_kubernetes_cluster); the cluster runs in the current Kubernetes connection.',
      'Each pod needs a node with room for its requests: 8Gi/16Gi fit e2-standard-8 and m5.2xlarge nodes.',
      'service_type ClusterIP keeps the dashboard private (no cloud load balancer, nothing billed); ray-mcp reaches it through the API server.',
      ...(gpu
        ? [
            'GPU workers need a GPU node pool (the GKE/EKS templates with template_type gpu) and the NVIDIA device plugin (GKE installs it).',
          ]
        : []),
    ],
    permissions: [
      'Kubernetes RBAC: create/get/list/watch/delete rayclusters.ray.io in the namespace; get/list pods and services',
    ],
    setup: [
      'KubeRay operator installed in the cluster (helm install kuberay-operator kuberay/kuberay-operator)',
    ],
  };
}
