ALTER TABLE `audit` ADD `request_id` text;--> statement-breakpoint
ALTER TABLE `audit` ADD `outcome` text;