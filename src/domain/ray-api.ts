/** What Ray's dashboard answers (the parts ray-mcp reads), as its REST API spells it. */

export interface RayVersionInfo {
  version: string;
  ray_version: string;
  ray_commit: string;
  session_name: string;
}

export interface RayNodeState {
  node_id: string;
  node_ip: string;
  node_name?: string;
  is_head_node: boolean;
  state: 'ALIVE' | 'DEAD' | string;
  state_message?: string | null;
  resources_total: Record<string, number>;
  labels: Record<string, string>;
  start_time_ms?: number;
  end_time_ms?: number;
}

export interface RayJobDetails {
  type: string;
  job_id: string | null;
  submission_id: string | null;
  status: string;
  entrypoint: string;
  message?: string | null;
  error_type?: string | null;
  start_time?: number | null;
  end_time?: number | null;
  metadata?: Record<string, string> | null;
  runtime_env?: Record<string, unknown> | null;
  driver_info?: { id: string; node_ip_address: string; pid: string } | null;
  driver_exit_code?: number | null;
  driver_node_id?: string | null;
}
