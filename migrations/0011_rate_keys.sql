ALTER TABLE `schedules` ADD `rate_key` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `rate_key` text;