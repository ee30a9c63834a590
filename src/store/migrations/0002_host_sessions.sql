ALTER TABLE `hosts` ADD `session_nonce` text;--> statement-breakpoint
ALTER TABLE `hosts` ADD `report_ip` text;--> statement-breakpoint
ALTER TABLE `hosts` ADD `report_port` integer;