CREATE TABLE `requests` (
	`actor` text NOT NULL,
	`request_id` text NOT NULL,
	`log_idx` integer NOT NULL,
	`at` integer NOT NULL,
	`result` text NOT NULL,
	PRIMARY KEY(`actor`, `request_id`)
);
--> statement-breakpoint
CREATE INDEX `requests_log_idx` ON `requests` (`log_idx`);--> statement-breakpoint
CREATE INDEX `requests_at` ON `requests` (`at`);