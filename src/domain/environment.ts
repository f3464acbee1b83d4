import { z } from 'zod';

export const ENVIRONMENT_SECTIONS = ['node', 'python', 'ray', 'kubernetes', 'cloud'] as const;
export type EnvironmentSection = (typeof ENVIRONMENT_SECTIONS)[number];

const Tool = z.object({
  found: z.boolean(),
  version: z.string().optional(),
  path: z.string().optional(),
  fix: z.string().optional().describe('One line: how to get this part working'),
});

export const EnvironmentReportSchema = z.object({
  checkedAt: z.string().describe('ISO time of the check'),
  ready: z
    .object({
      localRay: z.boolean().describe('Local Ray clusters can be started'),
      kubernetes: z.boolean().describe('A kubeconfig with a current context is present'),
      gcp: z.boolean(),
      aws: z.boolean(),
    })
    .describe('What this machine can do now'),
  node: Tool.optional(),
  python: Tool.optional(),
  ray: Tool.extend({
    source: z.enum(['flag', 'venv', 'path']).optional().describe('Where the Ray CLI was found'),
    auth: z.object({
      mode: z.string().optional().describe('RAY_AUTH_MODE as set for this server, if set'),
      tokenPresent: z.boolean(),
      tokenSource: z.enum(['env', 'file']).optional(),
    }),
  }).optional(),
  kubernetes: z
    .object({
      kubectl: Tool,
      kubeconfigs: z.array(z.object({ path: z.string(), exists: z.boolean() })),
      currentContext: z.string().optional(),
      contexts: z.array(
        z.object({ name: z.string(), cluster: z.string(), namespace: z.string().optional() }),
      ),
      contextsTruncated: z.boolean().optional(),
      fix: z.string().optional(),
    })
    .optional(),
  cloud: z
    .object({
      gcp: z.object({
        credentials: z.enum(['service_account_file', 'application_default', 'none']),
        credentialType: z.string().optional().describe('type field of the credentials file'),
        project: z.string().optional(),
        gcloud: Tool,
        fix: z.string().optional(),
      }),
      aws: z.object({
        credentials: z.enum(['environment', 'profile', 'none']),
        profiles: z.array(z.string()),
        profile: z.string().optional(),
        region: z.string().optional(),
        fix: z.string().optional(),
      }),
    })
    .optional(),
  fixes: z.array(z.string()).describe('Every missing part, with its fix, one per line'),
});

export type EnvironmentReport = z.infer<typeof EnvironmentReportSchema>;
