/** The confirmation of destructive and billed calls, as tools see it: the token argument and the preview field. */
import { z } from 'zod';

/** One shared optional argument of the tools that may need a yes first. */
export const confirmTokenArg = z.string().max(200).optional().describe('From the preview');

/** In a result when nothing was done yet: what the call would do, and how to go ahead. */
export const ConfirmationSchema = z
  .object({
    status: z.enum(['needed', 'declined']),
    action: z.string(),
    running: z.array(z.string()).optional().describe('What runs there now'),
    cost: z.string().optional(),
    confirm_token: z.string().optional().describe('Pass it with the same arguments to go ahead'),
    expires_in_seconds: z.number().optional(),
  })
  .describe('Nothing was done: the call needs a yes first');
export type Confirmation = z.infer<typeof ConfirmationSchema>;

export const confirmationField = { confirmation: ConfirmationSchema.optional() };
