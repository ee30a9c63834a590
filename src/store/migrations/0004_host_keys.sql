ALTER TABLE `hosts` ADD `host_key` text;--> statement-breakpoint
ALTER TABLE `hosts` ADD `session_gen` integer DEFAULT 0 NOT NULL;
