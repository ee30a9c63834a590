CREATE TABLE `approvals` (
	`id` integer PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`requester` text NOT NULL,
	`requested_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`summary` text NOT NULL,
	`request` text NOT NULL,
	`state` text NOT NULL,
	`decided_by` text,
	`decided_at` integer,
	`reason` text
);
--> statement-breakpoint
CREATE INDEX `approvals_state` ON `approvals` (`state`,`expires_at`);
