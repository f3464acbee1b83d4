import type { ClusterOperations } from '../../domain/operations/clusters.js';
import type { FlowsOf } from './flow.js';

export const clusterFlows: FlowsOf<ClusterOperations> = {};
