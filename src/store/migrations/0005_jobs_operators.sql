CREATE TABLE `job_arrays` (
	`id` integer PRIMARY KEY NOT NULL,
	`spec` text NOT NULL,
	`first_index` integer NOT NULL,
	`step` integer NOT NULL,
	`count` integer NOT NULL,
	`max_running` integer,
	`name` text,
	`queue` text NOT NULL,
	`argv` text NOT NULL,
	`submitted_at` integer NOT NULL,
	`submitted_by` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `job_attempts` (
	`job_id` integer NOT NULL,
	`attempt` integer NOT NULL,
	`hostname` text NOT NULL,
	`dispatched_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`state` text,
	`exit_code` integer,
	`signal` text,
	`reason` text,
	`elapsed_ms` integer,
	`cpu_user_ms` integer,
	`cpu_sys_ms` integer,
	`max_rss_bytes` integer,
	PRIMARY KEY(`job_id`, `attempt`)
);
--> statement-breakpoint
CREATE INDEX `job_attempts_finished` ON `job_attempts` (`finished_at`);--> statement-breakpoint
ALTER TABLE `hosts` ADD `labels` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `name` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `array_id` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `array_index` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `stdout_path` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `stderr_path` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `deps` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `begin_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `held_by` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `placement` text;--> statement-breakpoint
CREATE INDEX `jobs_array` ON `jobs` (`array_id`);--> statement-breakpoint
CREATE INDEX `jobs_hostname` ON `jobs` (`hostname`);--> statement-breakpoint
CREATE INDEX `jobs_submitted_by` ON `jobs` (`submitted_by`);