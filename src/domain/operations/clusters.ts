/** The clusters operations: type → { input; output }. */
// biome-ignore lint/suspicious/noEmptyInterface: filled as the family's tools move over
export interface ClusterOperations {}
