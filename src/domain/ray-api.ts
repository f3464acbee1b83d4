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

/** A task attempt in the state API (`/api/v0/tasks?detail=true`). */
export interface RayTaskState {
  task_id: string;
  name: string;
  state: string;
  job_id: string;
  actor_id?: string | null;
  type?: string;
  func_or_class_name?: string;
  error_type?: string | null;
  error_message?: string | null;
  node_id?: string | null;
  worker_pid?: number | null;
  attempt_number?: number;
  end_time_ms?: number | null;
}

/** An actor in the state API (`/api/v0/actors?detail=true`); `death_cause` is Ray's ActorDeathCause. */
export interface RayActorState {
  actor_id: string;
  class_name: string;
  state: string;
  job_id: string;
  name?: string | null;
  pid?: number | null;
  node_id?: string | null;
  death_cause?: Record<string, unknown> | null;
  num_restarts?: number | string;
}

/** The failed tasks and dead actors of one Ray job, and how many there were in all. */
export interface RayJobFailures {
  tasks: RayTaskState[];
  actors: RayActorState[];
  totalTasks: number;
  totalActors: number;
}
