import type { JobOperations } from '../../domain/operations/jobs.js';
import type { FlowsOf } from './flow.js';

export const jobFlows: FlowsOf<JobOperations> = {};
