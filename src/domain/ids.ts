/**
 * The identifiers arguments name, as zod schemas: in a module of their own (no other schema) so the
 * MCP front (prompts) can check them without building the domain's schemas at start-up.
 */
import { z } from 'zod';

export const ClusterIdSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,38}[a-z0-9]$/,
    'cluster ids are 2-40 lowercase letters, digits and dashes, starting with a letter',
  );

export const SubmissionIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'submission ids are letters, digits, _ . - (at most 100)');

export const NamespaceSchema = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a namespace is 1-63 lowercase letters, digits and dashes');
