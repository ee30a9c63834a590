CREATE TABLE `audit` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`log_idx` integer NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`role` text NOT NULL,
	`action` text NOT NULL,
	`target` text,
	`result` text NOT NULL,
	`detail` text
);
--> statement-breakpoint
CREATE INDEX `audit_at` ON `audit` (`at`);--> statement-breakpoint
CREATE UNIQUE INDEX `audit_log_idx` ON `audit` (`log_idx`);--> statement-breakpoint
CREATE TABLE `hosts` (
	`host_id` integer PRIMARY KEY NOT NULL,
	`hostname` text NOT NULL,
	`ncpus` integer NOT NULL,
	`mem_bytes` integer NOT NULL,
	`gpus` integer DEFAULT 0 NOT NULL,
	`os` text,
	`version` text NOT NULL,
	`registered_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`drained` integer DEFAULT false NOT NULL,
	`drain_reason` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `hosts_hostname` ON `hosts` (`hostname`);--> statement-breakpoint
CREATE TABLE `log` (
	`idx` integer PRIMARY KEY NOT NULL,
	`term` integer NOT NULL,
	`data` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tokens` (
	`jti` text PRIMARY KEY NOT NULL,
	`role` text NOT NULL,
	`subject` text NOT NULL,
	`host` text,
	`created_by` text NOT NULL,
	`issued_at` integer NOT NULL,
	`expires_at` integer,
	`revoked_at` integer,
	`revoked_by` text
);
