CREATE TABLE `job_history` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`job_id` integer NOT NULL,
	`log_idx` integer NOT NULL,
	`at` integer NOT NULL,
	`state` text NOT NULL,
	`reason` text,
	`hostname` text,
	`attempt` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `job_history_job` ON `job_history` (`job_id`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` integer PRIMARY KEY NOT NULL,
	`state` text NOT NULL,
	`argv` text NOT NULL,
	`env` text,
	`cwd` text,
	`cpus` integer NOT NULL,
	`mem_bytes` integer NOT NULL,
	`gpus` integer NOT NULL,
	`priority` integer NOT NULL,
	`queue` text NOT NULL,
	`timeout_sec` integer,
	`retries` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`host_id` integer,
	`hostname` text,
	`submitted_at` integer NOT NULL,
	`submitted_by` text NOT NULL,
	`dispatched_at` integer,
	`started_at` integer,
	`finished_at` integer,
	`exit_code` integer,
	`signal` text,
	`reason` text,
	`stdout` text,
	`stderr` text,
	`stdout_truncated` integer DEFAULT false NOT NULL,
	`stderr_truncated` integer DEFAULT false NOT NULL,
	`not_before` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `jobs_state` ON `jobs` (`state`);