ALTER TABLE `tasks` ADD `group_key` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `group_limit` integer;