/** The cloud operations: type → { input; output }. */
import type { z } from 'zod';
import type {
  AuthenticateCloudInput,
  AuthenticateCloudOutput,
  CloudOperationInput,
  CloudStatusInput,
  CloudStatusOutput,
  CreateClusterInput,
  CreateClusterResult,
  DetectCloudInput,
  DetectCloudOutput,
  DisconnectCloudInput,
  DisconnectCloudOutput,
  OperationResult,
} from '../tools/cloud.js';

export interface CloudOperations {
  /** Which credentials each provider has (no cloud contacted unless nothing is found). */
  'cloud.detect': { input: z.infer<typeof DetectCloudInput>; output: z.infer<typeof DetectCloudOutput> };
  'cloud.authenticate': {
    input: z.infer<typeof AuthenticateCloudInput>;
    output: z.infer<typeof AuthenticateCloudOutput>;
  };
  /** ray-mcp's state only; contacts no cloud. */
  'cloud.status': { input: z.infer<typeof CloudStatusInput>; output: z.infer<typeof CloudStatusOutput> };
  'cloud.disconnect': {
    input: z.infer<typeof DisconnectCloudInput>;
    output: z.infer<typeof DisconnectCloudOutput>;
  };
  /** A dry run, or a creation (waited for up to `wait_seconds`); `node_pools` is for the summary line. */
  'cloud.createCluster': {
    input: z.infer<typeof CreateClusterInput>;
    output: { result: CreateClusterResult; node_pools: number };
  };
  /** A creation's status, waited for up to `wait_seconds` (progress on the way). */
  'cloud.operation': { input: z.infer<typeof CloudOperationInput>; output: OperationResult };
}
