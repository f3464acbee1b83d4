import type { KubernetesOperations } from '../../domain/operations/kubernetes.js';
import type { FlowsOf } from './flow.js';

export const kubernetesFlows: FlowsOf<KubernetesOperations> = {};
