CREATE TABLE `requests` (
	`log_idx` integer PRIMARY KEY NOT NULL,
	`actor` text NOT NULL,
	`request_id` text NOT NULL,
	`at` integer NOT NULL,
	`result` text NOT NULL
);
