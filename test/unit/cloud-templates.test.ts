/**
 * The templates get_cloud_config_template returns are valid input for the tools they name, and
 * the creation checks and request builders behind create_kubernetes_cluster hold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CloudProviderSchema } from '../../src/domain/cloud.js';
import {
  ClusterSpecInputSchema,
  eksCreateRequests,
  estimateCost,
  gkeCreateRequest,
  toCreateSpec,
} from '../../src/domain/cloud-create.js';
import { cloudTemplate, TEMPLATE_TYPES } from '../../src/domain/cloud-templates.js';
import { RayMcpError } from '../../src/domain/errors.js';
import { createKubernetesCluster, getCloudConfigTemplate } from '../../src/mcp/tools/cloud.tool.js';
import { initRayCluster } from '../../src/mcp/tools/clusters.tool.js';

describe('get_cloud_config_template', () => {
  for (const provider of ['gke', 'eks'] as const) {
    for (const type of TEMPLATE_TYPES) {
      it(`${provider} ${type}: valid create_kubernetes_cluster input, and a valid creation`, () => {
        const t = cloudTemplate(provider, type);
        expect(t.tool).toBe('create_kubernetes_cluster');
        const args = createKubernetesCluster.input.parse(t.arguments);
        expect(args.dry_run).toBe(true);
        const spec = toCreateSpec(args.provider, args.cluster_spec, { project: args.project_id });
        expect(spec.labels['managed-by']).toBe('ray-mcp');
        expect(spec.node_pools.length).toBe(type === 'gpu' ? 2 : 1);
        const cost = estimateCost(spec);
        expect(cost.total_per_hour).toBeGreaterThan(0.1);
        expect(getCloudConfigTemplate.output.parse(t)).toBeTruthy();
      });
    }
  }

  for (const type of TEMPLATE_TYPES) {
    it(`kuberay ${type}: valid init_ray_cluster input with a private (ClusterIP) service`, () => {
      const t = cloudTemplate('kuberay', type);
      expect(t.tool).toBe('init_ray_cluster');
      const args = initRayCluster.input.parse(t.arguments) as Record<string, unknown>;
      expect(args.cluster_type).toBe('kubernetes');
      expect(args.service_type).toBe('ClusterIP');
    });
  }

  it('takes the Python-era provider and template_type names', () => {
    const parsed = getCloudConfigTemplate.input.parse({ provider: 'gcp', template_type: 'full' });
    expect(parsed).toEqual({ provider: 'gke', template_type: 'gpu' });
    expect(getCloudConfigTemplate.input.parse({ provider: 'kubernetes' })).toEqual({ provider: 'kuberay' });
  });
});

describe('provider names', () => {
  it('maps gcp to gke and aws to eks, and refuses others', () => {
    expect(CloudProviderSchema.parse('gcp')).toBe('gke');
    expect(CloudProviderSchema.parse('AWS')).toBe('eks');
    expect(CloudProviderSchema.parse('eks')).toBe('eks');
    expect(CloudProviderSchema.safeParse('azure').success).toBe(false);
  });
});

describe('toCreateSpec', () => {
  const eks = {
    name: 'ray',
    region: 'us-east-1',
    role_arn: 'arn:aws:iam::123456789012:role/c',
    node_role_arn: 'arn:aws:iam::123456789012:role/n',
    subnet_ids: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'],
  };
  const invalid = (fn: () => unknown, pattern: RegExp) => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(RayMcpError);
      expect((err as RayMcpError).code).toBe('invalid_input');
      expect((err as RayMcpError).message).toMatch(pattern);
      return;
    }
    throw new Error('expected a refusal');
  };

  it('turns the Python-era shorthand into one pool', () => {
    const spec = toCreateSpec(
      'gke',
      { name: 'c1', zone: 'us-central1-a', machine_type: 'e2-medium', initial_node_count: 3 },
      { project: 'my-project' },
    );
    expect(spec.node_pools).toEqual([{ name: 'default-pool', machine_type: 'e2-medium', node_count: 3 }]);
    const req = gkeCreateRequest(spec);
    expect(req.parent).toBe('projects/my-project/locations/us-central1-a');
    expect(req.cluster.resourceLabels).toEqual({ 'managed-by': 'ray-mcp' });
  });

  it('refuses what the clouds would refuse later, with a reason', () => {
    invalid(() => toCreateSpec('gke', { name: 'c1', zone: 'us-central1-a' }, {}), /No GCP project/);
    invalid(() => toCreateSpec('gke', { name: 'c1' }, { project: 'my-project' }), /No zone or region/);
    invalid(() => toCreateSpec('eks', { name: 'c1', region: 'us-east-1' }, {}), /EKS needs role_arn/);
    invalid(
      () =>
        toCreateSpec('gke', { ...eks, zone: 'us-central1-a', region: undefined }, { project: 'my-project' }),
      /for EKS only/,
    );
    invalid(
      () =>
        toCreateSpec(
          'gke',
          {
            name: 'c1',
            zone: 'us-central1-a',
            node_pools: [{ name: 'gp', machine_type: 'n1-standard-4', node_count: 1, gpu_count: 1 }],
          },
          { project: 'my-project' },
        ),
      /gpu_type and gpu_count go together/,
    );
    invalid(
      () =>
        toCreateSpec(
          'eks',
          { ...eks, node_pools: [{ name: 'gp', machine_type: 'g5.xlarge', node_count: 1, gpu_count: 4 }] },
          {},
        ),
      /has 1 GPU/,
    );
    invalid(
      () =>
        toCreateSpec(
          'eks',
          { ...eks, node_pools: [{ name: 'gp', machine_type: 'p4d.24xlarge', node_count: 9 }] },
          {},
        ),
      /may use 72 GPUs/,
    );
    invalid(
      () =>
        toCreateSpec(
          'eks',
          { ...eks, node_pools: [{ name: 'np', machine_type: 'm5.large', node_count: 5, max_nodes: 3 }] },
          {},
        ),
      /min_nodes <= node_count <= max_nodes/,
    );
  });

  it('EKS: one node group per pool, created after the cluster, GPU AMI for GPU instances', () => {
    const spec = toCreateSpec(
      'eks',
      {
        ...eks,
        node_pools: [
          { name: 'cpu', machine_type: 'm5.xlarge', node_count: 2 },
          { name: 'gpu', machine_type: 'g6.xlarge', node_count: 0, min_nodes: 0, max_nodes: 4, spot: true },
        ],
      },
      {},
    );
    const r = eksCreateRequests(spec);
    expect(r.cluster.tags).toEqual({ 'managed-by': 'ray-mcp' });
    expect(r.cluster.accessConfig.bootstrapClusterCreatorAdminPermissions).toBe(true);
    expect(r.nodegroups).toEqual([
      expect.objectContaining({
        nodegroupName: 'cpu',
        amiType: 'AL2023_x86_64_STANDARD',
        scalingConfig: { minSize: 2, maxSize: 2, desiredSize: 2 },
      }),
      expect.objectContaining({
        nodegroupName: 'gpu',
        amiType: 'AL2023_x86_64_NVIDIA',
        capacityType: 'SPOT',
        scalingConfig: { minSize: 0, maxSize: 4, desiredSize: 0 },
      }),
    ]);
    expect(estimateCost(spec).gpus).toBe(0);
  });

  it('every valid spec labels what it creates and keeps node counts within the pool bounds', () => {
    const pool = fc.record({
      name: fc.constantFrom('cpu', 'gpu', 'big', 'small'),
      machine_type: fc.constantFrom('m5.xlarge', 'g5.xlarge', 'g4dn.12xlarge'),
      node_count: fc.integer({ min: 0, max: 10 }),
      extra: fc.integer({ min: 0, max: 5 }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(pool, { minLength: 1, maxLength: 4, selector: (p) => p.name }), (pools) => {
        const input = ClusterSpecInputSchema.parse({
          ...eks,
          node_pools: pools.map((p) => ({
            name: p.name,
            machine_type: p.machine_type,
            node_count: p.node_count,
            min_nodes: 0,
            max_nodes: p.node_count + p.extra || 1,
          })),
        });
        let spec: ReturnType<typeof toCreateSpec>;
        try {
          spec = toCreateSpec('eks', input, {});
        } catch (err) {
          // Only the safety caps may refuse these.
          expect((err as RayMcpError).message).toMatch(/at most/);
          return;
        }
        const r = eksCreateRequests(spec);
        expect(r.cluster.tags['managed-by']).toBe('ray-mcp');
        for (const ng of r.nodegroups) {
          expect(ng.tags['managed-by']).toBe('ray-mcp');
          const { minSize, maxSize, desiredSize } = ng.scalingConfig;
          expect(minSize <= desiredSize && desiredSize <= maxSize && maxSize >= 1).toBe(true);
        }
      }),
    );
  });
});
